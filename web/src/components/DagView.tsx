import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import {
  Background,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  getViewportForBounds,
  useStore,
  type Edge,
  type NodeMouseHandler,
  type NodeTypes,
  type ReactFlowInstance,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import type { Dag, DagNode } from '../api/types';
import { dagKey, layoutDag, NODE_HEIGHT, NODE_WIDTH, type Point } from '../layout/dagLayout';
import { collapseDag, groupOf, groupsOf } from '../layout/collapse';
import { boundsOf, idsInWindow, visibleRect, windowFor } from '../layout/viewWindow';
import { parseElement, type ElementSummary } from '../state/mapElements';
import type { StepView } from '../state/runReducer';
import { CanvasMiniMap } from './CanvasMiniMap';
import { CanvasNodes } from './CanvasNodes';
import {
  ARIA,
  BIG_DAG,
  detailFor,
  FIT,
  FIT_ALL,
  HANDLES,
  INTERESTING,
  NODE_BOX,
  PAD,
  READABLE_ZOOM,
  SIDE_STRIP,
  SIZE,
  STATUS_COLOR,
  SVG_MINIMAP_MAX,
  WINDOWED,
  CANVAS_ABOVE,
  type Detail,
  type FitOptions,
} from './dagSettings';
import { FindStep } from './FindStep';
import { StepNode, type StepFlowNode } from './StepNode';

const NO_NODES: StepFlowNode[] = [];
const NO_EDGES: Edge[] = [];

const nodeTypes: NodeTypes = { step: StepNode };

interface CachedNode {
  step: StepView | null;
  elements: ElementSummary | null;
  selected: boolean;
  position: Point;
  node: StepFlowNode;
}

interface Props {
  dag: Dag;
  /** step states of a run; omit to draw the pipeline's definition */
  steps?: Readonly<Record<string, StepView>>;
  /** per mapped node: its elements' count and statuses */
  elements?: ReadonlyMap<string, ElementSummary>;
  selected?: string | null;
  onSelect?: (step: string) => void;
  /** called once React Flow has drawn the graph */
  onReady?: () => void;
  maxHeight?: number;
  label: string;
}

/** Height that shows the whole DAG at a readable zoom, within bounds. */
function fittedHeight(width: number, layoutWidth: number, layoutHeight: number, max: number): number {
  const zoom = Math.min(1.1, Math.max(0.35, (width - PAD) / Math.max(layoutWidth, 1)));
  return Math.round(Math.min(max, Math.max(220, layoutHeight * zoom + PAD)));
}

/**
 * The DAG, laid out once per structure (not per event), drawn with React Flow.
 * Node objects are reused when their step record did not change, so a burst of
 * events re-renders only the nodes it touched.
 */
export function DagView(props: Props) {
  return (
    <ReactFlowProvider>
      <DagCanvas {...props} />
    </ReactFlowProvider>
  );
}

/** The node a selection points at: a map element selects its mapped node. */
function nodeFor(selected: string | null, known: ReadonlyMap<string, Point>): string | null {
  if (!selected) return null;
  if (known.has(selected)) return selected;
  const el = parseElement(selected);
  return el && known.has(el.parent) ? el.parent : null;
}

function DagCanvas({
  dag: fullDag,
  steps,
  elements,
  selected: selectedStep = null,
  onSelect,
  onReady,
  maxHeight = 560,
  label,
}: Props) {
  // sub-pipelines (steps named `<sub>.<step>`) can be folded into one node each
  const groups = useMemo(() => groupsOf(fullDag), [fullDag]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const selectedGroup = selectedStep ? groupOf(parseElement(selectedStep)?.parent ?? selectedStep) : null;
  const expand = useCallback((group: string) => {
    setCollapsed((prev) => {
      if (!prev.has(group)) return prev;
      const next = new Set(prev);
      next.delete(group);
      return next;
    });
  }, []);
  useEffect(() => {
    if (selectedGroup) expand(selectedGroup); // a step selected inside a folded sub-pipeline opens it
  }, [selectedGroup, expand]);
  const shown = useMemo(() => collapseDag(fullDag, collapsed), [fullDag, collapsed]);
  const dag = shown.dag;
  const groupSummaries = useMemo(() => {
    const out = new Map<string, ElementSummary>();
    for (const [g, ids] of shown.members) {
      const summary: ElementSummary = { total: ids.length, counts: {} };
      for (const id of ids) {
        const status = steps?.[id]?.status ?? 'pending';
        summary.counts[status] = (summary.counts[status] ?? 0) + 1;
      }
      out.set(g, summary);
    }
    return out;
  }, [shown, steps]);
  const key = dagKey(dag);
  const layout = useMemo(() => layoutDag(dag.nodes.map((n) => n.id), dag.edges), [key]); // keyed on structure only
  const defs = useMemo(() => new Map<string, DagNode>(dag.nodes.map((n) => [n.id, n])), [dag]);
  const cache = useRef(new Map<string, CachedNode>());
  const [found, setFound] = useState<string | null>(null);
  const selected = nodeFor(selectedStep, layout.positions) ?? found;

  const nodes = useMemo(() => {
    const next = new Map<string, CachedNode>();
    const out: StepFlowNode[] = [];
    for (const [id, position] of layout.positions) {
      const step = steps?.[id] ?? null;
      const els = elements?.get(id) ?? groupSummaries.get(id) ?? null;
      const isSelected = id === selected;
      const prev = cache.current.get(id);
      let entry = prev;
      if (!prev || prev.step !== step || prev.elements !== els || prev.selected !== isSelected || prev.position !== position) {
        entry = {
          step,
          elements: els,
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
            ariaLabel: `Step ${id}${step ? `, ${step.status}` : ''}${els ? `, ${els.total} elements` : ''}`,
            data: { name: defs.get(id)?.name ?? id, step, elements: els, definition: defs.get(id) ?? null },
          },
        };
      }
      next.set(id, entry as CachedNode);
      out.push((entry as CachedNode).node);
    }
    cache.current = next;
    return out;
  }, [layout, steps, elements, groupSummaries, selected, defs]);

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

  const onNodeClick = useCallback<NodeMouseHandler<StepFlowNode>>(
    (_, node) => {
      setFound(null);
      if (shown.members.has(node.id)) expand(node.id);
      else onSelect?.(node.id);
    },
    [onSelect, shown, expand],
  );
  const onKeyDown = useCallback(
    (e: KeyboardEvent<HTMLDivElement>) => {
      if (e.key !== 'Enter' && e.key !== ' ') return;
      const el = (e.target as HTMLElement).closest<HTMLElement>('.react-flow__node');
      const id = el?.dataset.id;
      if (id && shown.members.has(id)) {
        e.preventDefault();
        expand(id);
      } else if (id && onSelect) {
        e.preventDefault();
        onSelect(id);
      }
    },
    [onSelect, shown, expand],
  );
  const minimapColor = useCallback((n: StepFlowNode) => STATUS_COLOR[n.data.step?.status ?? 'none'] ?? '#94a3b8', []);
  const statusColorOf = useCallback(
    (id: string) => STATUS_COLOR[steps?.[id]?.status ?? 'none'] ?? '#94a3b8',
    [steps],
  );

  const boxRef = useRef<HTMLDivElement>(null);
  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const layoutRef = useRef(layout);
  layoutRef.current = layout;
  const flow = useRef<ReactFlowInstance<StepFlowNode> | null>(null);
  // an estimate of the box width that does not force a layout (the height follows it)
  const [boxWidth] = useState(() => Math.min(typeof window === 'undefined' ? 1200 : window.innerWidth, 1600) - 80);

  /** Pan (and zoom in to a readable level) so that the node is in view; no-op if it already is. */
  const bringIntoView = useCallback((id: string, always: boolean) => {
    const inst = flow.current;
    const box = boxRef.current?.querySelector('.react-flow');
    const pos = layoutRef.current.positions.get(id);
    if (!inst || !box || !pos) return;
    const { x, y, zoom } = inst.getViewport();
    const rect = box.getBoundingClientRect();
    const left = pos.x * zoom + x;
    const top = pos.y * zoom + y;
    const inside = left >= 0 && top >= 0 && left + NODE_WIDTH * zoom <= rect.width && top + NODE_HEIGHT * zoom <= rect.height;
    if (inside && zoom >= READABLE_ZOOM && !always) return;
    void inst.setCenter(pos.x + NODE_WIDTH / 2, pos.y + NODE_HEIGHT / 2, { zoom: Math.max(zoom, 1), duration: 200 });
  }, []);

  // a step selected elsewhere (timeline, failure banner, ?step= link) comes into view
  useEffect(() => {
    if (selected) bringIntoView(selected, false);
  }, [selected, bringIntoView]);

  const onFind = useCallback(
    (id: string) => {
      if (onSelect) onSelect(id);
      else setFound(id);
      bringIntoView(id, true);
    },
    [onSelect, bringIntoView],
  );

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
        const focus = selectedRef.current;
        if (!inst) return;
        // show everything; if that is too small to read and a step is selected (panel
        // open), centre that step at a readable zoom instead
        void fitAllRef.current(FIT).then(() => {
          if (focus && inst.getZoom() < READABLE_ZOOM) bringIntoView(focus, true);
        });
      });
    });
    observer.observe(box);
    return () => {
      observer.disconnect();
      cancelAnimationFrame(frame);
    };
  }, [bringIntoView]);
  // first view: a selected step (deep link) at full size; a big DAG on its running/failed
  // steps (or its first ones) at a readable zoom; otherwise the whole DAG. Decided once.
  const [initialFit] = useState<FitOptions & { nodes?: { id: string }[] }>(() => {
    if (selected) return { nodes: [{ id: selected }], minZoom: 1, maxZoom: 1 };
    if (dag.nodes.length <= BIG_DAG) return FIT;
    const hot = dag.nodes.filter((n) => INTERESTING.has(steps?.[n.id]?.status ?? '')).map((n) => ({ id: n.id }));
    const focus = hot.length > 0 ? hot.slice(0, 20) : dag.nodes.slice(0, 12).map((n) => ({ id: n.id }));
    return { ...FIT, nodes: focus, minZoom: 0.5, maxZoom: 1 };
  });
  const height = fittedHeight(boxWidth, layout.width, layout.height, maxHeight);

  // very big DAGs: React Flow gets the nodes around the view only; the first viewport is
  // computed here (React Flow's fitView would only see those nodes)
  const windowed = layout.positions.size > WINDOWED;
  const flowWidth = useStore((st) => st.width);
  const flowHeight = useStore((st) => st.height);
  const flowSize = useRef({ width: boxWidth - SIDE_STRIP, height });
  if (flowWidth > 0 && flowHeight > 0) flowSize.current = { width: flowWidth, height: flowHeight };
  const [initialViewport] = useState(() => {
    if (!windowed) return undefined;
    const ids = initialFit.nodes ? initialFit.nodes.map((n) => n.id) : layout.positions.keys();
    const b = boundsOf(layout.positions, ids, NODE_BOX) ?? { x: 0, y: 0, width: 1, height: 1 };
    const { width: w, height: h } = flowSize.current;
    return getViewportForBounds(b, w, h, initialFit.minZoom ?? 0.05, initialFit.maxZoom ?? 1.1, initialFit.padding ?? 0.12);
  });
  // the window follows the store's viewport, whatever moved it (a drag, setCenter, fit);
  // the selector returns the window's key, so this re-renders only when the window moves
  const winKey = useStore((st) => {
    if (!windowed) return '';
    const size = st.width > 0 && st.height > 0 ? { width: st.width, height: st.height } : flowSize.current;
    const w = windowFor(visibleRect({ x: st.transform[0], y: st.transform[1], zoom: st.transform[2] }, size));
    return `${w.x}|${w.y}|${w.width}|${w.height}`;
  });
  const visible = useMemo(() => {
    if (!winKey) return null;
    const [x, y, width, height] = winKey.split('|').map(Number) as [number, number, number, number];
    return idsInWindow(layout.positions, layout.edges, { x, y, width, height }, NODE_BOX);
  }, [winKey, layout]);
  // level of detail from the zoom, whatever changed it; re-renders only when the level does
  const detail: Detail = useStore((st) => detailFor(st.transform[2]));
  // from far out (shapes only, no labels) thousands of steps are around the view at once:
  // drawn on a canvas instead of as nodes
  const onCanvas = detail === 'shapes' && visible !== null && visible.size > CANVAS_ABOVE;
  const flowNodes = useMemo(
    () => (onCanvas ? NO_NODES : visible ? nodes.filter((n) => visible.has(n.id)) : nodes),
    [nodes, visible, onCanvas],
  );
  const flowEdges = useMemo(
    () => (onCanvas ? NO_EDGES : visible ? edges.filter((e) => visible.has(e.source) && visible.has(e.target)) : edges),
    [edges, visible, onCanvas],
  );
  /** Fit the whole layout (React Flow's own fitView, or by hand when windowed). */
  const fitAll = useCallback(
    async (opts: FitOptions): Promise<void> => {
      const inst = flow.current;
      if (!inst) return;
      if (!windowed) {
        await inst.fitView(opts);
        return;
      }
      const { width: w, height: h } = flowSize.current;
      const bounds = { x: 0, y: 0, width: layout.width, height: layout.height };
      await inst.setViewport(getViewportForBounds(bounds, w, h, opts.minZoom ?? 0.05, opts.maxZoom ?? 2, opts.padding ?? 0.1));
    },
    [windowed, layout],
  );
  const fitAllRef = useRef(fitAll);
  fitAllRef.current = fitAll;

  // a new structure (an inferred DAG gaining edges) gets a new layout: show it whole
  const firstKey = useRef(key);
  useEffect(() => {
    if (key !== firstKey.current) void fitAllRef.current(FIT);
  }, [key]);
  const onInit = useCallback(
    (instance: ReactFlowInstance<StepFlowNode>) => {
      flow.current = instance;
      onReady?.();
    },
    [onReady],
  );
  const ids = useMemo(() => fullDag.nodes.map((n) => n.id), [fullDag]);
  const allCollapsed = groups.length > 0 && groups.every((g) => collapsed.has(g));

  return (
    <div className="dag-wrap">
      <div className="dag-toolbar">
        <FindStep ids={ids} onFind={onFind} />
        {groups.length > 0 && (
          <button
            type="button"
            className="btn"
            aria-pressed={allCollapsed}
            onClick={() => setCollapsed(allCollapsed ? new Set() : new Set(groups))}
          >
            {allCollapsed ? 'Expand sub-pipelines' : 'Collapse sub-pipelines'}
          </button>
        )}
      </div>
      <div ref={boxRef} className={`dag dag-${detail}`} style={{ height }} onKeyDown={onKeyDown} role="region" aria-label={label}>
        <div className="dag-canvas">
          <ReactFlow<StepFlowNode>
            nodes={flowNodes}
            edges={flowEdges}
            nodeTypes={nodeTypes}
            onNodeClick={onNodeClick}
            onlyRenderVisibleElements
            nodesDraggable={false}
            nodesConnectable={false}
            elementsSelectable={false}
            edgesFocusable={false}
            ariaLabelConfig={ARIA}
            onInit={onInit}
            fitView={!windowed}
            fitViewOptions={initialFit}
            defaultViewport={initialViewport}
            minZoom={0.05}
            maxZoom={2}
            proOptions={{ hideAttribution: false }}
            colorMode="system"
          >
            {/* a dotted background repaints the whole pane on every frame of a pan: big
                DAGs go without it */}
            {!windowed && <Background gap={20} size={1} />}
            {onCanvas && (
              <CanvasNodes
                positions={layout.positions}
                edges={layout.edges}
                nodeWidth={NODE_WIDTH}
                nodeHeight={NODE_HEIGHT}
                colorOf={statusColorOf}
                version={steps}
              />
            )}
          </ReactFlow>
        </div>
        {/* beside the canvas, never over it: no control or overview hides a node */}
        <div className="dag-side">
          <Controls
            showInteractive={false}
            fitViewOptions={FIT_ALL}
            onFitView={windowed ? () => void fitAll(FIT_ALL) : undefined}
            orientation="horizontal"
          />
          {nodes.length > 12 && nodes.length <= SVG_MINIMAP_MAX && (
            <MiniMap<StepFlowNode> pannable zoomable nodeColor={minimapColor} nodeStrokeWidth={0} />
          )}
          {nodes.length > SVG_MINIMAP_MAX && (
            <CanvasMiniMap
              positions={layout.positions}
              nodeWidth={NODE_WIDTH}
              nodeHeight={NODE_HEIGHT}
              layoutWidth={layout.width}
              layoutHeight={layout.height}
              colorOf={statusColorOf}
              version={steps}
            />
          )}
        </div>
      </div>
    </div>
  );
}
