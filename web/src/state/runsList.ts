/**
 * Pure reducer for a (filtered) list of runs, newest first, kept live from the
 * global event stream (`api/events`).
 *
 * - `run_started` inserts a row when it matches the filter;
 * - step events update the counters of rows in the list
 *   (`steps_done` counts succeeded + cached steps; map elements such as `fetch[3]` are
 *   not steps of the DAG and count for nothing here);
 * - `run_finished` sets the final status (the caller then refetches the row
 *   to reconcile counters with the store);
 * - duplicate / out-of-order event ids are ignored; the list is capped.
 */

import type { RunRecord, RunStatus, StreamEvent } from '../api/types';
import { parseElement } from './mapElements';

export const MAX_RUN_ROWS = 1000;

export interface RunsFilter {
  pipeline: string;
  status: RunStatus | '';
  /** only runs carrying this tag ('' for any) */
  tag: string;
}

export interface RunListState {
  items: readonly RunRecord[];
  nextCursor: number | null;
  lastEventId: number;
}

export const emptyRunList: RunListState = { items: [], nextCursor: null, lastEventId: 0 };

export function matchesFilter(run: Pick<RunRecord, 'pipeline' | 'status' | 'tags'>, filter: RunsFilter): boolean {
  return (
    (!filter.pipeline || run.pipeline === filter.pipeline) &&
    (!filter.status || run.status === filter.status) &&
    (!filter.tag || (run.tags ?? []).includes(filter.tag))
  );
}

/** Add a fetched page: replace the list (first page) or append (load more), no duplicates. */
export function mergeRunPage(
  state: RunListState,
  page: { items: RunRecord[]; next_cursor: number | null },
  append: boolean,
  cap: number = MAX_RUN_ROWS,
): RunListState {
  if (!append) {
    return { ...state, items: page.items.slice(0, cap), nextCursor: page.next_cursor };
  }
  const seen = new Set(state.items.map((r) => r.run_id));
  const items = [...state.items, ...page.items.filter((r) => !seen.has(r.run_id))].slice(0, cap);
  return { ...state, items, nextCursor: page.next_cursor };
}

/** Replace rows by run id (polling refresh or reconcile); new matching rows go on top. */
export function upsertRuns(
  state: RunListState,
  runs: readonly RunRecord[],
  filter: RunsFilter,
  cap: number = MAX_RUN_ROWS,
): RunListState {
  if (runs.length === 0) return state;
  const byId = new Map(runs.map((r) => [r.run_id, r]));
  let changed = false;
  const items = state.items.map((row) => {
    const fresh = byId.get(row.run_id);
    if (!fresh) return row;
    byId.delete(row.run_id);
    changed = true;
    return fresh;
  });
  const added = [...byId.values()].filter((r) => matchesFilter(r, filter));
  if (!changed && added.length === 0) return state;
  const merged = added.length > 0 ? sortNewestFirst([...added, ...items]) : items;
  return { ...state, items: merged.slice(0, cap) };
}

function sortNewestFirst(items: RunRecord[]): RunRecord[] {
  return items.sort((a, b) => b.started_at - a.started_at || b.seq - a.seq);
}

/** Apply a batch of global-stream events (one new state per batch). */
export function applyRunListEvents(
  state: RunListState,
  batch: readonly StreamEvent[],
  filter: RunsFilter,
  cap: number = MAX_RUN_ROWS,
): RunListState {
  let lastEventId = state.lastEventId;
  let items: RunRecord[] | null = null; // copy on first change
  let index: Map<string, number> | null = null;
  const added: RunRecord[] = [];

  const rows = () => {
    if (items === null) items = [...state.items];
    return items;
  };
  const find = (runId: string): number => {
    if (index === null) index = new Map(state.items.map((r, i) => [r.run_id, i]));
    return index.get(runId) ?? -1;
  };
  const update = (runId: string, patch: (r: RunRecord) => RunRecord) => {
    const addedAt = added.findIndex((r) => r.run_id === runId);
    if (addedAt >= 0) {
      added[addedAt] = patch(added[addedAt] as RunRecord);
      return;
    }
    const i = find(runId);
    if (i < 0) return;
    const list = rows();
    list[i] = patch(list[i] as RunRecord);
  };

  for (const { id, event: ev } of batch) {
    if (id !== null) {
      if (id <= lastEventId) continue;
      lastEventId = id;
    }
    if ('step' in ev && parseElement(ev.step)) continue;
    switch (ev.type) {
      case 'run_started': {
        if (find(ev.run_id) >= 0 || added.some((r) => r.run_id === ev.run_id)) break;
        const row: RunRecord = {
          run_id: ev.run_id,
          pipeline: ev.pipeline,
          status: 'running',
          params: ev.params ?? {},
          started_at: ev.ts,
          finished_at: null,
          duration: null,
          pid: ev.pid ?? 0,
          host: ev.host ?? '',
          resumed_from: ev.resumed_from ?? null,
          error: null,
          heartbeat_at: null,
          seq: 0,
          steps_total: ev.steps?.length ?? 0,
          steps_done: 0,
          steps_cached: 0,
          steps_failed: 0,
          tags: ev.tags ?? [],
        };
        if (matchesFilter(row, filter)) added.push(row);
        break;
      }
      case 'step_succeeded':
        update(ev.run_id, (r) => ({ ...r, steps_done: clamp(r.steps_done + 1, r.steps_total) }));
        break;
      case 'step_cached':
        update(ev.run_id, (r) => ({
          ...r,
          steps_done: clamp(r.steps_done + 1, r.steps_total),
          steps_cached: clamp(r.steps_cached + 1, r.steps_total),
        }));
        break;
      case 'step_failed':
        update(ev.run_id, (r) => ({ ...r, steps_failed: clamp(r.steps_failed + 1, r.steps_total) }));
        break;
      case 'run_finished':
        update(ev.run_id, (r) => ({
          ...r,
          status: ev.status,
          duration: ev.duration ?? r.duration,
          finished_at: ev.ts,
          error: ev.error ?? null,
        }));
        break;
      default:
        break; // step_started / step_retrying / step_skipped change no counter
    }
  }

  if (items === null && added.length === 0) {
    return lastEventId === state.lastEventId ? state : { ...state, lastEventId };
  }
  const base: RunRecord[] = items ?? [...state.items];
  const merged = added.length > 0 ? [...added.reverse(), ...base] : base;
  return { ...state, items: merged.slice(0, cap), lastEventId };
}

function clamp(value: number, total: number): number {
  return total > 0 ? Math.min(value, total) : value;
}
