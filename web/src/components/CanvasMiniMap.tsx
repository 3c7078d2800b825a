import { useEffect, useRef, type PointerEvent } from 'react';
import { useReactFlow, useStore } from '@xyflow/react';
import type { Point } from '../layout/dagLayout';

const W = 180;
const H = 130;

interface Props {
  positions: ReadonlyMap<string, Point>;
  nodeWidth: number;
  nodeHeight: number;
  layoutWidth: number;
  layoutHeight: number;
  /** fill colour of a node (by its status) */
  colorOf(id: string): string;
  /** changes whenever a colour may have changed */
  version: unknown;
}

/**
 * The overview of a big DAG, drawn on a canvas: React Flow's SVG minimap draws one
 * element per node, which costs seconds at 10,000 steps; this costs milliseconds.
 * Click or drag in it to move the view there.
 */
export function CanvasMiniMap({ positions, nodeWidth, nodeHeight, layoutWidth, layoutHeight, colorOf, version }: Props) {
  const nodesRef = useRef<HTMLCanvasElement>(null);
  const [tx, ty, zoom] = useStore((s) => s.transform);
  const width = useStore((s) => s.width);
  const height = useStore((s) => s.height);
  const flow = useReactFlow();
  const scale = Math.min(W / Math.max(layoutWidth, 1), H / Math.max(layoutHeight, 1));

  useEffect(() => {
    const ctx = nodesRef.current?.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, W, H);
    const w = Math.max(1, nodeWidth * scale);
    const h = Math.max(1, nodeHeight * scale);
    for (const [id, p] of positions) {
      ctx.fillStyle = colorOf(id);
      ctx.fillRect(p.x * scale, p.y * scale, w, h);
    }
  }, [positions, scale, nodeWidth, nodeHeight, colorOf, version]);

  // the part of the graph in view, in minimap pixels
  const view = {
    left: (-tx / zoom) * scale,
    top: (-ty / zoom) * scale,
    width: (width / zoom) * scale,
    height: (height / zoom) * scale,
  };
  const moveTo = (e: PointerEvent<HTMLDivElement>) => {
    const box = e.currentTarget.getBoundingClientRect();
    void flow.setCenter((e.clientX - box.left) / scale, (e.clientY - box.top) / scale, { zoom });
  };
  return (
    <div
      className="canvas-minimap react-flow__minimap"
      style={{ width: W, height: H }}
      role="img"
      aria-label={`Overview of the graph (${positions.size} steps); click to move the view`}
      onPointerDown={(e) => {
        e.currentTarget.setPointerCapture(e.pointerId);
        moveTo(e);
      }}
      onPointerMove={(e) => {
        if (e.buttons === 1) moveTo(e);
      }}
    >
      <canvas ref={nodesRef} width={W} height={H} />
      <span className="canvas-minimap-view" style={view} />
    </div>
  );
}
