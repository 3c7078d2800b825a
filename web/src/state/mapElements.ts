/**
 * Map elements (`fetch[17]`) are steps of their own; the DAG has one node per mapped
 * step (`fetch`). These helpers group elements under their node and count steps the
 * way a user reads them: nodes and elements apart.
 */

import type { StepStatus } from '../api/types';

const ELEMENT = /^(.+)\[(\d+)\]$/;

export function parseElement(name: string): { parent: string; index: number } | null {
  const m = ELEMENT.exec(name);
  return m ? { parent: m[1] as string, index: Number(m[2]) } : null;
}

export interface ElementSummary {
  total: number;
  counts: Partial<Record<StepStatus, number>>;
}

interface HasStatus {
  status: StepStatus;
}

/** Per mapped node: how many elements, and how many in each status. */
export function summarizeElements(
  order: readonly string[],
  steps: Readonly<Record<string, HasStatus>>,
): ReadonlyMap<string, ElementSummary> {
  const out = new Map<string, ElementSummary>();
  for (const name of order) {
    const el = parseElement(name);
    const step = steps[name];
    if (!el || !step) continue;
    let s = out.get(el.parent);
    if (!s) {
      s = { total: 0, counts: {} };
      out.set(el.parent, s);
    }
    s.total += 1;
    s.counts[step.status] = (s.counts[step.status] ?? 0) + 1;
  }
  return out;
}

/** The element names of one mapped node, by index. */
export function elementsOf(order: readonly string[], parent: string): string[] {
  const found: { name: string; index: number }[] = [];
  for (const name of order) {
    const el = parseElement(name);
    if (el && el.parent === parent) found.push({ name, index: el.index });
  }
  return found.sort((a, b) => a.index - b.index).map((e) => e.name);
}

export interface StepCounts {
  total: number;
  done: number;
  failed: number;
  cached: number;
  elementsTotal: number;
  elementsDone: number;
}

const DONE = new Set<StepStatus>(['succeeded', 'cached']);

/** Steps and elements counted apart (a 50-element map in a 3-step run is 3 steps, 50 elements). */
export function countSteps(order: readonly string[], steps: Readonly<Record<string, HasStatus>>): StepCounts {
  const c: StepCounts = { total: 0, done: 0, failed: 0, cached: 0, elementsTotal: 0, elementsDone: 0 };
  for (const name of order) {
    const s = steps[name];
    if (!s) continue;
    if (parseElement(name)) {
      c.elementsTotal += 1;
      if (DONE.has(s.status)) c.elementsDone += 1;
      continue;
    }
    c.total += 1;
    if (DONE.has(s.status)) c.done += 1;
    if (s.status === 'failed') c.failed += 1;
    if (s.status === 'cached') c.cached += 1;
  }
  return c;
}

/** Histogram text for a mapped node: "48 succeeded, 2 failed". */
export function histogramText(summary: ElementSummary, order: readonly StepStatus[]): string {
  return order
    .filter((s) => (summary.counts[s] ?? 0) > 0)
    .map((s) => `${summary.counts[s]} ${s}`)
    .join(', ');
}
