/**
 * Automatic layered (Sugiyama) layout of a DAG, left to right. Computed once per
 * DAG structure, never per event.
 *
 * dagre gives the nicest result but costs ~1-2 ms per node (seconds for 500 steps),
 * so it is used up to DAGRE_MAX_NODES; bigger DAGs use the linear-time engine in
 * ./layered.ts.
 */

import dagre from '@dagrejs/dagre';
import type { Dag } from '../api/types';
import { defaultLayeredOptions, layeredLayout } from './layered';

export const DAGRE_MAX_NODES = 60;
export type LayoutEngine = 'auto' | 'dagre' | 'layered';

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 58;

export interface Point {
  x: number;
  y: number;
}

export interface SimpleEdge {
  source: string;
  target: string;
  names: string[];
}

export interface LayoutResult {
  /** top-left corner of each node */
  positions: Map<string, Point>;
  /** deduplicated edges between known nodes */
  edges: SimpleEdge[];
  width: number;
  height: number;
}

/** Merge parallel edges (several outputs between the same two steps) and drop unknown ends. */
export function simplifyEdges(nodeIds: readonly string[], edges: Dag['edges']): SimpleEdge[] {
  const known = new Set(nodeIds);
  const byPair = new Map<string, SimpleEdge>();
  for (const e of edges) {
    if (!known.has(e.source) || !known.has(e.target) || e.source === e.target) continue;
    const key = `${e.source}\u0000${e.target}`;
    const found = byPair.get(key);
    if (found) {
      if (e.name && !found.names.includes(e.name)) found.names.push(e.name);
    } else {
      byPair.set(key, { source: e.source, target: e.target, names: e.name ? [e.name] : [] });
    }
  }
  return [...byPair.values()];
}

export function layoutDag(
  nodeIds: readonly string[],
  edges: Dag['edges'],
  engine: LayoutEngine = 'auto',
): LayoutResult {
  const simple = simplifyEdges(nodeIds, edges);
  const useDagre = engine === 'dagre' || (engine === 'auto' && nodeIds.length <= DAGRE_MAX_NODES);
  const positions = useDagre ? dagrePositions(nodeIds, simple) : layeredPositions(nodeIds, simple);
  let width = 0;
  let height = 0;
  for (const p of positions.values()) {
    width = Math.max(width, p.x + NODE_WIDTH);
    height = Math.max(height, p.y + NODE_HEIGHT);
  }
  return { positions, edges: simple, width, height };
}

function dagrePositions(nodeIds: readonly string[], edges: SimpleEdge[]): Map<string, Point> {
  const g = new dagre.graphlib.Graph({ multigraph: false, compound: false });
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 56, marginx: 16, marginy: 16, ranker: 'tight-tree' });
  g.setDefaultEdgeLabel(() => ({}));
  for (const id of nodeIds) g.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const e of edges) g.setEdge(e.source, e.target);
  dagre.layout(g);
  const positions = new Map<string, Point>();
  for (const id of nodeIds) {
    const n = g.node(id) as { x: number; y: number } | undefined;
    positions.set(id, { x: (n?.x ?? 0) - NODE_WIDTH / 2, y: (n?.y ?? 0) - NODE_HEIGHT / 2 });
  }
  return positions;
}

function layeredPositions(nodeIds: readonly string[], edges: SimpleEdge[]): Map<string, Point> {
  const index = new Map(nodeIds.map((id, i) => [id, i]));
  const pairs = edges.map((e) => [index.get(e.source) as number, index.get(e.target) as number] as const);
  const { x, y } = layeredLayout(nodeIds.length, pairs, {
    ...defaultLayeredOptions,
    nodeWidth: NODE_WIDTH,
    nodeHeight: NODE_HEIGHT,
  });
  const positions = new Map<string, Point>();
  nodeIds.forEach((id, i) => positions.set(id, { x: x[i] as number, y: y[i] as number }));
  return positions;
}

/** A string that changes only when the DAG's structure does (the layout's memo key). */
export function dagKey(dag: Dag): string {
  const nodes = dag.nodes.map((n) => n.id).join('\u0001');
  const edges = dag.edges.map((e) => `${e.source}>${e.target}`).join('\u0001');
  return `${nodes}\u0002${edges}`;
}
