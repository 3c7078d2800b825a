/** Settings of the DAG view: colours, accessible labels, zoom levels and fitting. */

import { Position, type AriaLabelConfig, type NodeHandle } from '@xyflow/react';
import { NODE_HEIGHT, NODE_WIDTH } from '../layout/dagLayout';

export const STATUS_COLOR: Record<string, string> = {
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

// The graph is read-only: React Flow's default hints talk about deleting and moving nodes.
export const ARIA: Partial<AriaLabelConfig> = {
  'node.a11yDescription.default': 'Press Enter to open the step details.',
  'node.a11yDescription.keyboardDisabled': 'Press Enter to open the step details.',
  'node.a11yDescription.ariaLiveMessage': () => '',
  'edge.a11yDescription.default': '',
  'controls.ariaLabel': 'Graph zoom controls',
  'controls.zoomIn.ariaLabel': 'Zoom in',
  'controls.zoomOut.ariaLabel': 'Zoom out',
  'controls.fitView.ariaLabel': 'Fit the whole graph',
  'minimap.ariaLabel': 'Overview of the graph',
};

/** Level of detail by zoom, so that no label is drawn smaller than 11 px on screen. */
export type Detail = 'full' | 'name' | 'name-large' | 'shapes';
export function detailFor(zoom: number): Detail {
  if (zoom >= 1) return 'full'; // 13 px title, 11 px meta
  if (zoom >= 0.75) return 'name'; // title alone at 15 px
  if (zoom >= 0.5) return 'name-large'; // title alone at 22 px
  return 'shapes';
}

export const PAD = 48;
export const HANDLE = 6;
export const SIZE = { width: NODE_WIDTH, height: NODE_HEIGHT };
export const HANDLES: NodeHandle[] = [
  { type: 'target', position: Position.Left, x: -HANDLE / 2, y: NODE_HEIGHT / 2 - HANDLE / 2, width: HANDLE, height: HANDLE },
  { type: 'source', position: Position.Right, x: NODE_WIDTH - HANDLE / 2, y: NODE_HEIGHT / 2 - HANDLE / 2, width: HANDLE, height: HANDLE },
];
// first view: the whole DAG, but never so far out that labels become unreadable
export const FIT = { padding: 0.12, maxZoom: 1.1, minZoom: 0.45 };
/** the controls' fit button: everything, however small */
export const FIT_ALL = { padding: 0.08, maxZoom: 1.1 };
/** Above this many steps the first view zooms onto the interesting part, not the whole DAG. */
export const BIG_DAG = 80;
export const READABLE_ZOOM = 0.6;
/** Above this many nodes the overview is drawn on a canvas (one SVG element per node is too slow). */
export const SVG_MINIMAP_MAX = 1500;
/** Above this many nodes React Flow gets only the nodes around the view (see layout/viewWindow). */
export const WINDOWED = 1500;
/** Windowed DAGs zoomed out to shapes with more nodes than this in the window are drawn on a
 * canvas (see CanvasNodes). */
export const CANVAS_ABOVE = 1200;
export const NODE_BOX = { width: NODE_WIDTH, height: NODE_HEIGHT };
export const SIDE_STRIP = 200;
export interface FitOptions {
  padding?: number;
  minZoom?: number;
  maxZoom?: number;
}
export const INTERESTING = new Set(['running', 'retrying', 'failed']);
