/**
 * The runs list as the user narrows and orders it: text search, date range, sorting,
 * and the recent-runs summary per pipeline drawn above the table. Pure.
 */

import type { RunRecord, RunStatus } from '../api/types';

export type SortKey = 'started' | 'duration';
export type SortDir = 'asc' | 'desc';

export interface RunsView {
  /** substring of the run id or the pipeline name */
  q: string;
  /** Unix seconds, inclusive; null = open */
  from: number | null;
  to: number | null;
  sort: SortKey;
  dir: SortDir;
}

export const defaultView: RunsView = { q: '', from: null, to: null, sort: 'started', dir: 'desc' };

/** Duration for sorting: finished runs their duration, running ones the time so far. */
export function runDuration(run: Pick<RunRecord, 'duration' | 'started_at' | 'finished_at'>, now: number): number {
  if (run.duration !== null) return run.duration;
  return Math.max(0, (run.finished_at ?? now) - run.started_at);
}

export function viewRuns(items: readonly RunRecord[], view: RunsView, now: number): RunRecord[] {
  const q = view.q.trim().toLowerCase();
  const out = items.filter(
    (r) =>
      (!q || r.run_id.toLowerCase().includes(q) || r.pipeline.toLowerCase().includes(q)) &&
      (view.from === null || r.started_at >= view.from) &&
      (view.to === null || r.started_at <= view.to),
  );
  const sign = view.dir === 'asc' ? 1 : -1;
  const key = view.sort === 'duration' ? (r: RunRecord) => runDuration(r, now) : (r: RunRecord) => r.started_at;
  return out.sort((a, b) => sign * (key(a) - key(b)) || b.seq - a.seq);
}

/** `YYYY-MM-DD` (local) -> Unix seconds at the start (or the end) of that day. */
export function dayBound(day: string, end: boolean): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), end ? 23 : 0, end ? 59 : 0, end ? 59 : 0, end ? 999 : 0);
  return d.getTime() / 1000;
}

export interface RecentRuns {
  pipeline: string;
  /** oldest first, at most `limit` */
  runs: Pick<RunRecord, 'run_id' | 'status' | 'duration' | 'started_at'>[];
  counts: Partial<Record<RunStatus, number>>;
}

/** Per pipeline, its latest runs among `items` (newest first in `items` or not). */
export function recentByPipeline(items: readonly RunRecord[], limit = 20): RecentRuns[] {
  const by = new Map<string, RunRecord[]>();
  for (const r of items) {
    const list = by.get(r.pipeline) ?? [];
    list.push(r);
    by.set(r.pipeline, list);
  }
  return [...by.entries()]
    .map(([pipeline, runs]) => {
      const latest = [...runs].sort((a, b) => b.started_at - a.started_at).slice(0, limit).reverse();
      const counts: Partial<Record<RunStatus, number>> = {};
      for (const r of latest) counts[r.status] = (counts[r.status] ?? 0) + 1;
      return { pipeline, runs: latest, counts };
    })
    .sort((a, b) => a.pipeline.localeCompare(b.pipeline));
}
