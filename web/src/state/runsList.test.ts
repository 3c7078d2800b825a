import { describe, expect, it } from 'vitest';
import { runRecord, stream } from './fixtures';
import { applyRunListEvents, emptyRunList, mergeRunPage, upsertRuns, type RunListState } from './runsList';

const all = { pipeline: '', status: '' as const, tag: '' };

function listOf(...ids: string[]): RunListState {
  return mergeRunPage(emptyRunList, { items: ids.map((id, i) => runRecord({ run_id: id, steps_total: 3, seq: 100 - i, started_at: 100 - i })), next_cursor: 5 }, false);
}

describe('applyRunListEvents', () => {
  it('adds a row on run_started, newest first', () => {
    const s = applyRunListEvents(
      listOf('old'),
      stream([
        { type: 'run_started', run_id: 'new1', pipeline: 'train', params: { a: 1 }, pid: 1, host: 'h', resumed_from: null, steps: ['a', 'b'], tags: [] },
        { type: 'run_started', run_id: 'new2', pipeline: 'etl', params: {}, pid: 1, host: 'h', resumed_from: null, steps: ['a'], tags: [] },
      ]),
      all,
    );
    expect(s.items.map((r) => r.run_id)).toEqual(['new2', 'new1', 'old']);
    expect(s.items[1]).toMatchObject({ status: 'running', steps_total: 2, params: { a: 1 }, started_at: 1000 });
    expect(s.nextCursor).toBe(5);
  });

  it('respects the filter for new rows', () => {
    const s = applyRunListEvents(
      listOf(),
      stream([
        { type: 'run_started', run_id: 'x', pipeline: 'etl', params: {}, pid: 1, host: 'h', resumed_from: null, steps: [], tags: [] },
        { type: 'run_started', run_id: 'y', pipeline: 'train', params: {}, pid: 1, host: 'h', resumed_from: null, steps: [], tags: [] },
      ]),
      { pipeline: 'train', status: '', tag: '' },
    );
    expect(s.items.map((r) => r.run_id)).toEqual(['y']);
    const finishedOnly = applyRunListEvents(
      listOf(),
      stream([{ type: 'run_started', run_id: 'z', pipeline: 'train', params: {}, pid: 1, host: 'h', resumed_from: null, steps: [], tags: [] }]),
      { pipeline: '', status: 'succeeded', tag: '' },
    );
    expect(finishedOnly.items).toHaveLength(0);
  });

  it('adds a started run under a tag filter only when it carries the tag', () => {
    const s = applyRunListEvents(
      listOf(),
      stream([
        { type: 'run_started', run_id: 'plain', pipeline: 'etl', params: {}, pid: 1, host: 'h', resumed_from: null, steps: [], tags: [] },
        { type: 'run_started', run_id: 'other', pipeline: 'etl', params: {}, pid: 1, host: 'h', resumed_from: null, steps: [], tags: ['nightlyish'] },
        { type: 'run_started', run_id: 'tagged', pipeline: 'etl', params: {}, pid: 1, host: 'h', resumed_from: null, steps: [], tags: ['team', 'nightly'] },
      ]),
      { pipeline: '', status: '', tag: 'nightly' },
    );
    expect(s.items.map((r) => [r.run_id, r.tags])).toEqual([['tagged', ['team', 'nightly']]]);
    const any = applyRunListEvents(
      listOf(),
      stream([{ type: 'run_started', run_id: 'plain', pipeline: 'etl', params: {}, pid: 1, host: 'h', resumed_from: null, steps: [], tags: ['x'] }]),
      all,
    );
    expect(any.items[0]!.tags).toEqual(['x']);
    // a refreshed row that lost the tag is not added to a tagged list
    const refreshed = upsertRuns(listOf(), [runRecord({ run_id: 'n', tags: [] }), runRecord({ run_id: 'm', tags: ['nightly'] })], {
      pipeline: '',
      status: '',
      tag: 'nightly',
    });
    expect(refreshed.items.map((r) => r.run_id)).toEqual(['m']);
  });

  it('updates counters from step events and the status from run_finished', () => {
    const base = listOf('r1', 'r2');
    const s = applyRunListEvents(
      base,
      stream([
        { type: 'step_started', step: 'a', attempt: 1, inputs: {}, cache_key: null },
        { type: 'step_succeeded', step: 'a', attempt: 1, duration: 1, outputs: {}, cache_key: null },
        { type: 'step_cached', step: 'b', attempt: 0, cache_key: 'k', outputs: {}, source_run_id: null, inputs: {} },
        { type: 'step_retrying', step: 'c', attempt: 1, error: 'e', delay: 1 },
        { type: 'step_failed', step: 'c', attempt: 2, error: 'e', error_type: 'E', traceback: '', duration: 1 },
        { type: 'step_skipped', step: 'd', attempt: 0, reason: 'upstream' },
        { type: 'run_finished', status: 'failed', duration: 7, error: 'c failed' },
      ]),
      all,
    );
    expect(s.items[0]).toMatchObject({ run_id: 'r1', steps_done: 2, steps_cached: 1, steps_failed: 1, status: 'failed', duration: 7, error: 'c failed', finished_at: 1006 });
    expect(s.items[1]).toBe(base.items[1]); // untouched rows keep their identity
  });

  it('ignores duplicate and out-of-order ids, and events for runs not listed', () => {
    const events = stream([{ type: 'step_succeeded', step: 'a', attempt: 1, duration: 1, outputs: {}, cache_key: null }], 10);
    let s = applyRunListEvents(listOf('r1'), events, all);
    s = applyRunListEvents(s, events, all);
    s = applyRunListEvents(s, stream([{ type: 'step_succeeded', step: 'b', attempt: 1, duration: 1, outputs: {}, cache_key: null }], 4), all);
    expect(s.items[0]!.steps_done).toBe(1);
    expect(s.lastEventId).toBe(10);
    const unknown = applyRunListEvents(s, stream([{ type: 'step_succeeded', run_id: 'nope', step: 'a', attempt: 1, duration: 1, outputs: {}, cache_key: null }], 11), all);
    expect(unknown.items).toBe(s.items);
  });

  it('updates a row added earlier in the same batch and caps the list', () => {
    const s = applyRunListEvents(
      listOf('a', 'b', 'c'),
      stream([
        { type: 'run_started', run_id: 'n', pipeline: 'p', params: {}, pid: 1, host: 'h', resumed_from: null, steps: ['x'], tags: [] },
        { type: 'step_succeeded', run_id: 'n', step: 'x', attempt: 1, duration: 1, outputs: {}, cache_key: null },
        { type: 'run_finished', run_id: 'n', status: 'succeeded', duration: 1, error: null },
      ]),
      all,
      3,
    );
    expect(s.items.map((r) => r.run_id)).toEqual(['n', 'a', 'b']);
    expect(s.items[0]).toMatchObject({ status: 'succeeded', steps_done: 1 });
  });
});

describe('pages and upserts', () => {
  it('appends pages without duplicates', () => {
    const s = mergeRunPage(listOf('a', 'b'), { items: [runRecord({ run_id: 'b' }), runRecord({ run_id: 'c' })], next_cursor: null }, true);
    expect(s.items.map((r) => r.run_id)).toEqual(['a', 'b', 'c']);
    expect(s.nextCursor).toBeNull();
  });

  it('replaces rows by id and inserts new matching rows in time order', () => {
    const s0 = listOf('a', 'b');
    const s = upsertRuns(s0, [runRecord({ run_id: 'b', status: 'succeeded', started_at: 99 }), runRecord({ run_id: 'z', started_at: 500 })], all);
    expect(s.items.map((r) => r.run_id)).toEqual(['z', 'a', 'b']);
    expect(s.items[2]!.status).toBe('succeeded');
    expect(upsertRuns(s0, [], all)).toBe(s0);
  });
});

describe('map elements in the runs list', () => {
  it('counts the DAG steps only: element events change no counter', async () => {
    const { applyRunListEvents, emptyRunList } = await import('./runsList');
    const { runRecord } = await import('./fixtures');
    const state = { ...emptyRunList, items: [runRecord({ run_id: 'r1', steps_total: 3 })] };
    const ev = (id: number, step: string) => ({
      id,
      event: { type: 'step_succeeded', run_id: 'r1', ts: 1, step, attempt: 1, duration: 0.1, outputs: {}, cache_key: null },
    });
    const batch = [ev(1, 'fetch[0]'), ev(2, 'fetch[1]'), ev(3, 'load'), ev(4, 'fetch')] as Parameters<typeof applyRunListEvents>[1];
    const next = applyRunListEvents(state, batch, { pipeline: '', status: '', tag: '' });
    expect(next.items[0]!.steps_done).toBe(2);
  });
});
