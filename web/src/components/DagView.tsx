import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import {
  Background,
  Controls,
  MarkerType,
  MiniMap,
  Position,
  ReactFlow,
  type NodeHandle,
  type Edge,
  type NodeMouseHandler,
  type NodeTypes,
  type ReactFlowInstance,
  type Viewport,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import type { Dag, DagNode } from '../api/types';
import { dagKey, layoutDag, NODE_HEIGHT, NODE_WIDTH, type Point } from '../layout/dagLayout';
import type { StepView } from '../state/runReducer';
import { StepNode, type StepFlowNode } from './StepNode';

const nodeTypes: NodeTypes = { step: StepNode };

const STATUS_COLOR: Record<string, string> = {
  pending: '#9ca3af',
  running: '#3b82f6',
  retrying: '#f59e0b',
  succeeded: '#22c55e',
  cached: '#14b8a6',
  failed: '#ef4444',
  skipped: '#e5e7eb',
  cancelled: '#78716c',
  interrupted: '#ec4899',
  none: '#94a3b8',
};

interface CachedNode {
  step: StepView | null;
  selected: boolean;
  position: Point;
  node: StepFlowNode;
}

interface Props {
  dag: Dag;
  /** step states of a run; omit to draw the pipeline's definition */
  steps?: Readonly<Record<string, StepView>>;
  selected?: string | null;
  onSelect?: (step: string) => void;
  maxHeight?: number;
  label: string;
}

/**
 * The DAG, laid out once per structure (not per event), drawn with React Flow.
 * Node objects are reused when their step record did not change, so a burst of
 * events re-renders only the nodes it touched.
 */
const PAD = 48;
const HANDLE = 6;
const SIZE = { width: NODE_WIDTH, height: NODE_HEIGHT };
const HANDLES: NodeHandle[] = [
  { type: 'target', position: Position.Left, x: -HANDLE / 2, y: NODE_HEIGHT / 2 - HANDLE / 2, width: HANDLE, height: HANDLE },
  { type: 'source', position: Position.Right, x: NODE_WIDTH - HANDLE / 2, y: NODE_HEIGHT / 2 - HANDLE / 2, width: HANDLE, height: HANDLE },
];
// first view: the whole DAG, but never so far out that labels become unreadable
const FIT = { padding: 0.12, maxZoom: 1.1, minZoom: 0.45 };
/** the controls' fit button: everything, however small */
const FIT_ALL = { padding: 0.08, maxZoom: 1.1 };
/** Above this many steps the first view zooms onto the interesting part, not the whole DAG. */
const BIG_DAG = 80;
const READABLE_ZOOM = 0.6;
const FAR_ZOOM = 0.4;
const INTERESTING = new Set(['running', 'retrying', 'failed']);

/** Height that shows the whole DAG at a readable zoom, within bounds. */
function fittedHeight(width: number, layoutWidth: number, layoutHeight: number, max: number): number {
  const zoom = Math.min(1.1, Math.max(0.35, (width - PAD) / Math.max(layoutWidth, 1)));
  return Math.round(Math.min(max, Math.max(220, layoutHeight * zoom + PAD)));
}

export function DagView({ dag, steps, selected = null, onSelect, maxHeight = 560, label }: Props) {
  const key = dagKey(dag);
  const layout = useMemo(() => layoutDag(dag.nodes.map((n) => n.id), dag.edges), [key]); // keyed on structure only
  const defs = useMemo(() => new Map<string, DagNode>(dag.nodes.map((n) => [n.id, n])), [dag]);
  const cache = useRef(new Map<string, CachedNode>());

  const nodes = useMemo(() => {
    const next = new Map<string, CachedNode>();
    const out: StepFlowNode[] = [];
    for (const [id, position] of layout.positions) {
      const step = steps?.[id] ?? null;
      const isSelected = id === selected;
      const prev = cache.current.get(id);
      let entry = prev;
      if (!prev || prev.step !== step || prev.selected !== isSelected || prev.position !== position) {
        entry = {
          step,
          selected: isSelected,
          position,
          node: {
            id,
            type: 'step',
            position,
            width: NODE_WIDTH,
            height: NODE_HEIGHT,
            // known size and handles: React Flow can skip measuring every node on first
            // render, so onlyRenderVisibleElements holds from the start (500-step DAGs)
            measured: SIZE,
            handles: HANDLES,
            selected: isSelected,
            draggable: false,
            connectable: false,
            ariaLabel: `Step ${id}${step ? `, ${step.status}` : ''}`,
            data: { name: defs.get(id)?.name ?? id, step, definition: defs.get(id) ?? null },
          },
        };
      }
      next.set(id, entry as CachedNode);
      out.push((entry as CachedNode).node);
    }
    cache.current = next;
    return out;
  }, [layout, steps, selected, defs]);

  const edges = useMemo<Edge[]>(
    () =>
      layout.edges.map((e) => {
        const target = steps?.[e.target]?.status;
        const source = steps?.[e.source]?.status;
        const active = target === 'running' || target === 'retrying';
        const done = source === 'succeeded' || source === 'cached';
        return {
          id: `${e.source}->${e.target}`,
          source: e.source,
          target: e.target,
          animated: active,
          ariaLabel: `${e.source} to ${e.target}${e.names.length > 0 ? `: ${e.names.join(', ')}` : ''}`,
          className: done ? 'edge-done' : active ? 'edge-active' : 'edge-idle',
          markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
          focusable: false,
        };
      }),
    [layout, steps],
  );

  const onNodeClick = useCallback<NodeMouseHandler<StepFlowNode>>((_, node) => onSelect?.(node.id), [onSelect]);
  const onKeyDown = useCallback(
    (e: KeyboardEvent<HTMLDivElement>) => {
      if (e.key !== 'Enter' && e.key !== ' ') return;
      const el = (e.target as HTMLElement).closest<HTMLElement>('.react-flow__node');
      const id = el?.dataset.id;
      if (id && onSelect) {
        e.preventDefault();
        onSelect(id);
      }
    },
    [onSelect],
  );
  const minimapColor = useCallback((n: StepFlowNode) => STATUS_COLOR[n.data.step?.status ?? 'none'] ?? '#94a3b8', []);

  const boxRef = useRef<HTMLDivElement>(null);
  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const layoutRef = useRef(layout);
  layoutRef.current = layout;
  const flow = useRef<ReactFlowInstance<StepFlowNode> | null>(null);
  // an estimate of the box width that does not force a layout (the height follows it)
  const [boxWidth] = useState(() => Math.min(typeof window === 'undefined' ? 1200 : window.innerWidth, 1600) - 80);
  useEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    // refit when the box changes width (side panel opened/closed, window resized)
    let last = -1;
    let frame = 0;
    const observer = new ResizeObserver((entries) => {
      const width = entries[0]?.contentRect.width ?? 0;
      if (last < 0 || Math.abs(width - last) < 8) {
        last = width; // first report: nothing to do
        return;
      }
      last = width;
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const inst = flow.current;
        const focus = selectedRef.current ? layoutRef.current.positions.get(selectedRef.current) : undefined;
        if (!inst) return;
        // show everything; if that is too small to read and a step is selected (panel
        // open), centre that step at a readable zoom instead
        void inst.fitView(FIT).then(() => {
          if (focus && inst.getZoom() < READABLE_ZOOM) {
            void inst.setCenter(focus.x + NODE_WIDTH / 2, focus.y + NODE_HEIGHT / 2, { zoom: 0.8 });
          }
        });
      });
    });
    observer.observe(box);
    return () => {
      observer.disconnect();
      cancelAnimationFrame(frame);
    };
  }, []);
  // big DAGs: start on the running/failed steps (or the first ones) at a readable zoom;
  // the minimap gives the overview. Decided once, on first render.
  const [initialFit] = useState(() => {
    if (dag.nodes.length <= BIG_DAG) return FIT;
    const hot = dag.nodes.filter((n) => INTERESTING.has(steps?.[n.id]?.status ?? '')).map((n) => ({ id: n.id }));
    const focus = hot.length > 0 ? hot.slice(0, 20) : dag.nodes.slice(0, 12).map((n) => ({ id: n.id }));
    return { ...FIT, nodes: focus, minZoom: 0.5, maxZoom: 0.9 };
  });
  // level of detail: far out, nodes drop their text (CSS), which keeps panning cheap
  const [far, setFar] = useState(false);
  const onMove = useCallback((_: unknown, viewport: Viewport) => setFar(viewport.zoom < FAR_ZOOM), []);
  // a new structure (an inferred DAG gaining edges) gets a new layout: show it whole
  const firstKey = useRef(key);
  useEffect(() => {
    if (key !== firstKey.current) void flow.current?.fitView(FIT);
  }, [key]);
  const onInit = useCallback((instance: ReactFlowInstance<StepFlowNode>) => {
    flow.current = instance;
  }, []);
  const height = fittedHeight(boxWidth, layout.width, layout.height, maxHeight);

  return (
    <div ref={boxRef} className={`dag${far ? ' dag-far' : ''}`} style={{ height }} onKeyDown={onKeyDown} role="region" aria-label={label}>
      <ReactFlow<StepFlowNode>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodeClick={onNodeClick}
        onlyRenderVisibleElements
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        edgesFocusable={false}
        onInit={onInit}
        onMove={onMove}
        fitView
        fitViewOptions={initialFit}
        minZoom={0.05}
        maxZoom={2}
        proOptions={{ hideAttribution: false }}
      >
        <Background gap={20} size={1} color="#e5e7eb" />
        <Controls showInteractive={false} fitViewOptions={FIT_ALL} />
        {nodes.length > 12 && <MiniMap<StepFlowNode> pannable zoomable nodeColor={minimapColor} nodeStrokeWidth={0} />}
      </ReactFlow>
    </div>
  );
}
