/**
 * Windowing for very big DAGs: React Flow gets only the nodes around the view (plus the
 * far ends of their edges), not all 10,000; the window moves in steps, so a small pan
 * changes nothing.
 */

import type { Point, SimpleEdge } from './dagLayout';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ViewportLike {
  x: number;
  y: number;
  zoom: number;
}

/** The part of the graph (flow coordinates) a viewport shows in a box of `size`. */
export function visibleRect(v: ViewportLike, size: { width: number; height: number }): Rect {
  return { x: -v.x / v.zoom, y: -v.y / v.zoom, width: size.width / v.zoom, height: size.height / v.zoom };
}

/**
 * The window to render for a visible rect: the rect grown by its own size on each side,
 * snapped to a grid of that size (so it only changes when the view crosses a grid line).
 */
export function windowFor(view: Rect): Rect {
  const w = Math.max(view.width, 1);
  const h = Math.max(view.height, 1);
  const x = Math.floor(view.x / w) * w - w;
  const y = Math.floor(view.y / h) * h - h;
  return { x, y, width: 4 * w, height: 4 * h };
}

/** Nodes inside the window, and the other end of every edge that leaves one of them. */
export function idsInWindow(
  positions: ReadonlyMap<string, Point>,
  edges: readonly SimpleEdge[],
  win: Rect,
  node: { width: number; height: number },
): Set<string> {
  const inside = new Set<string>();
  for (const [id, p] of positions) {
    if (p.x + node.width >= win.x && p.x <= win.x + win.width && p.y + node.height >= win.y && p.y <= win.y + win.height) {
      inside.add(id);
    }
  }
  const out = new Set(inside);
  for (const e of edges) {
    if (inside.has(e.source)) out.add(e.target);
    else if (inside.has(e.target)) out.add(e.source);
  }
  return out;
}

/** Bounding box of some nodes. */
export function boundsOf(
  positions: ReadonlyMap<string, Point>,
  ids: Iterable<string>,
  node: { width: number; height: number },
): Rect | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const id of ids) {
    const p = positions.get(id);
    if (!p) continue;
    x0 = Math.min(x0, p.x);
    y0 = Math.min(y0, p.y);
    x1 = Math.max(x1, p.x + node.width);
    y1 = Math.max(y1, p.y + node.height);
  }
  return x0 === Infinity ? null : { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}
