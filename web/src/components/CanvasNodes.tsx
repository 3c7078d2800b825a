import { useEffect, useRef } from 'react';
import { useStore } from '@xyflow/react';
import type { Point, SimpleEdge } from '../layout/dagLayout';

interface Props {
  positions: ReadonlyMap<string, Point>;
  edges: readonly SimpleEdge[];
  nodeWidth: number;
  nodeHeight: number;
  /** fill colour of a node (by its status) */
  colorOf(id: string): string;
  /** changes whenever a colour may have changed */
  version: unknown;
}

/**
 * A very big DAG seen from far out: thousands of steps in view at once, too small for any
 * label. As React Flow nodes they cost seconds to build and to pan (one DOM element each);
 * drawn here as coloured shapes on one canvas over the pane, in the pane's coordinates, they
 * cost milliseconds. The pane underneath still takes the drags and wheel zooms.
 */
export function CanvasNodes({ positions, edges, nodeWidth, nodeHeight, colorOf, version }: Props) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [tx, ty, zoom] = useStore((s) => s.transform);
  const width = useStore((s) => s.width);
  const height = useStore((s) => s.height);

  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(width * dpr));
    canvas.height = Math.max(1, Math.round(height * dpr));
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(dpr * zoom, 0, 0, dpr * zoom, dpr * tx, dpr * ty);
    // the part of the graph in view, in graph coordinates: draw nothing outside it
    const x0 = -tx / zoom - nodeWidth;
    const y0 = -ty / zoom - nodeHeight;
    const x1 = (width - tx) / zoom;
    const y1 = (height - ty) / zoom;
    const inView = (p: Point) => p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1;
    ctx.beginPath();
    for (const e of edges) {
      const a = positions.get(e.source);
      const b = positions.get(e.target);
      if (!a || !b || (!inView(a) && !inView(b))) continue;
      ctx.moveTo(a.x + nodeWidth, a.y + nodeHeight / 2);
      ctx.lineTo(b.x, b.y + nodeHeight / 2);
    }
    ctx.lineWidth = 1 / zoom;
    ctx.strokeStyle = '#94a3b8';
    ctx.stroke();
    for (const [id, p] of positions) {
      if (!inView(p)) continue;
      ctx.fillStyle = colorOf(id);
      ctx.fillRect(p.x, p.y, nodeWidth, nodeHeight);
    }
  }, [positions, edges, nodeWidth, nodeHeight, colorOf, version, tx, ty, zoom, width, height]);

  return (
    <canvas
      ref={ref}
      className="dag-canvas-nodes"
      style={{ width, height }}
      role="img"
      aria-label={`${positions.size} steps drawn as coloured shapes; zoom in or find a step to see their names`}
    />
  );
}
