import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../api/types';
import { artifactRef, runRecord, stepRecord, stream } from './fixtures';
import { applyRunEvents, runSeconds, runStateFromSnapshot, stepSeconds, type RunViewState } from './runReducer';

const dag = {
  pipeline: 'train',
  nodes: ['load', 'train', 'report'].map((id) => ({
    id,
    name: id,
    function: `pkg.${id}`,
    inputs: [],
    outputs: [],
    is_async: false,
    params: [],
    bindings: {},
    tags: [],
    options: {},
  })),
  edges: [
    { source: 'load', target: 'train', name: 'data' },
    { source: 'train', target: 'report', name: 'model' },
  ],
};

function fresh(): RunViewState {
  return runStateFromSnapshot({ run: runRecord(), steps: [], dag });
}

describe('runStateFromSnapshot', () => {
  it('orders steps by the DAG and fills missing steps as pending', () => {
    const s = runStateFromSnapshot({
      run: runRecord({ steps_total: 3 }),
      steps: [stepRecord('train', { status: 'running', attempts: 1, started_at: 1001 })],
      dag,
    });
    expect(s.order).toEqual(['load', 'train', 'report']);
    expect(s.steps.load!.status).toBe('pending');
    expect(s.steps.train!.status).toBe('running');
    expect(s.lastEventId).toBe(0);
  });

  it('works without a DAG and keeps the event position of a previous state', () => {
    const prev = { ...runStateFromSnapshot({ run: runRecord(), steps: [stepRecord('a')], dag: null }), lastEventId: 42 };
    const s = runStateFromSnapshot({ run: runRecord(), steps: [stepRecord('a'), stepRecord('b')], dag: null }, prev);
    expect(s.order).toEqual(['a', 'b']);
    expect(s.lastEventId).toBe(42);
  });
});

describe('runStateFromSnapshot over a previous state (polling)', () => {
  it('takes newer data but never moves back from a terminal state', () => {
    const prev = applyRunEvents(fresh(), stream([
      { type: 'step_succeeded', step: 'load', attempt: 1, duration: 1, outputs: {}, cache_key: null },
    ]));
    const lagging = runStateFromSnapshot(
      { run: runRecord(), steps: [stepRecord('load', { status: 'running', attempts: 1, started_at: 1 }), stepRecord('train', { status: 'running', attempts: 1, started_at: 1 })], dag },
      prev,
    );
    expect(lagging.steps.load).toBe(prev.steps.load);
    expect(lagging.steps.train!.status).toBe('running');
    expect(lagging.lastEventId).toBe(prev.lastEventId);
    const finished = applyRunEvents(prev, stream([{ type: 'run_finished', status: 'succeeded', duration: 2, error: null }], 5));
    const behind = runStateFromSnapshot({ run: runRecord(), steps: [], dag }, finished);
    expect(behind.run.status).toBe('succeeded');
    expect(behind.order).toEqual(['load', 'train', 'report']);
    expect(behind.steps.load!.status).toBe('succeeded');
  });
});

describe('applyRunEvents', () => {
  it('applies every event type', () => {
    const events = stream([
      { type: 'run_started', pipeline: 'train', params: { lr: 0.1 }, pid: 9, host: 'box', resumed_from: null, steps: ['load', 'train', 'report', 'extra'], tags: [] },
      { type: 'step_started', step: 'load', attempt: 1, inputs: {}, cache_key: 'k-load' },
      { type: 'step_cached', step: 'load', attempt: 0, cache_key: 'k-load', outputs: { data: artifactRef('a1', 'data') }, source_run_id: 'r0', inputs: {} },
      { type: 'step_started', step: 'train', attempt: 1, inputs: { data: 'a1' }, cache_key: 'k-train' },
      { type: 'step_retrying', step: 'train', attempt: 1, error: 'flaky', delay: 0.5 },
      { type: 'step_started', step: 'train', attempt: 2, inputs: { data: 'a1' }, cache_key: 'k-train' },
      { type: 'step_succeeded', step: 'train', attempt: 2, duration: 3, outputs: { model: artifactRef('a2', 'model') }, cache_key: 'k-train' },
      { type: 'step_started', step: 'report', attempt: 1, inputs: { model: 'a2' }, cache_key: null },
      { type: 'step_failed', step: 'report', attempt: 1, error: 'boom', error_type: 'ValueError', traceback: 'Traceback...', duration: 0.2 },
      { type: 'step_skipped', step: 'extra', attempt: 0, reason: 'upstream failed' },
      { type: 'run_finished', status: 'failed', duration: 9, error: 'report failed' },
    ]);
    const s = applyRunEvents(fresh(), events);
    expect(s.run).toMatchObject({
      status: 'failed',
      params: { lr: 0.1 },
      pid: 9,
      host: 'box',
      duration: 9,
      error: 'report failed',
      finished_at: 1010,
      steps_total: 4,
      steps_done: 2,
      steps_cached: 1,
      steps_failed: 1,
    });
    expect(s.order).toEqual(['load', 'train', 'report', 'extra']);
    expect(s.steps.load).toMatchObject({ status: 'cached', cached_from: 'r0', outputs: { data: 'a1' }, cache_key: 'k-load' });
    expect(s.steps.train).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      duration: 3,
      started_at: 1003, // first attempt's start
      finished_at: 1006,
      outputs: { model: 'a2' },
      inputs: { data: 'a1' },
      error: null,
    });
    expect(s.steps.report).toMatchObject({ status: 'failed', error: 'boom', error_type: 'ValueError', traceback: 'Traceback...' });
    expect(s.steps.extra).toMatchObject({ status: 'skipped', reason: 'upstream failed' });
    expect(s.lastEventId).toBe(11);
  });

  it('shows a retrying step with its error and delay', () => {
    const s = applyRunEvents(
      fresh(),
      stream([
        { type: 'step_started', step: 'load', attempt: 1, inputs: {}, cache_key: null },
        { type: 'step_retrying', step: 'load', attempt: 1, error: 'timeout', delay: 2 },
      ]),
    );
    expect(s.steps.load).toMatchObject({ status: 'retrying', attempts: 1, error: 'timeout', retry_delay: 2 });
  });

  it('ignores duplicate and out-of-order event ids', () => {
    const started = stream([{ type: 'step_started', step: 'load', attempt: 1, inputs: {}, cache_key: null }], 5);
    const succeeded = stream([{ type: 'step_succeeded', step: 'load', attempt: 1, duration: 1, outputs: {}, cache_key: null }], 6);
    let s = applyRunEvents(fresh(), [...started, ...succeeded]);
    expect(s.steps.load!.status).toBe('succeeded');
    const before = s;
    s = applyRunEvents(s, [...succeeded, ...started]); // both already seen
    expect(s).toBe(before); // no change at all: same object
    // an older id arriving late is ignored even if it is new to us
    const late = stream([{ type: 'step_failed', step: 'train', attempt: 1, error: 'x', error_type: 'E', traceback: '', duration: 0 }], 3);
    expect(applyRunEvents(s, late).steps.train!.status).toBe('pending');
    // duplicates inside one batch
    const dup = stream([{ type: 'step_succeeded', step: 'train', attempt: 1, duration: 1, outputs: {}, cache_key: null }], 7);
    const s2 = applyRunEvents(s, [...dup, ...dup]);
    expect(s2.run.steps_done).toBe(2);
    expect(s2.lastEventId).toBe(7);
  });

  it('run_finished marks leftover steps', () => {
    const base = applyRunEvents(fresh(), stream([{ type: 'step_started', step: 'load', attempt: 1, inputs: {}, cache_key: null }]));
    const failed = applyRunEvents(base, stream([{ type: 'run_finished', status: 'failed', duration: 1, error: 'e' }], 10));
    expect(failed.steps.load!.status).toBe('cancelled');
    expect(failed.steps.train!.status).toBe('skipped');
    const cancelled = applyRunEvents(base, stream([{ type: 'run_finished', status: 'cancelled', duration: 1, error: null }], 10));
    expect(cancelled.steps.load!.status).toBe('cancelled');
    expect(cancelled.steps.report!.status).toBe('cancelled');
    const interrupted = applyRunEvents(base, stream([{ type: 'run_finished', status: 'interrupted', duration: 1, error: null }], 10));
    expect(interrupted.order.map((n) => interrupted.steps[n]!.status)).toEqual(['interrupted', 'interrupted', 'interrupted']);
  });

  it('replaying a run from its start over a newer snapshot never moves it backwards', () => {
    const snapshot = runStateFromSnapshot({
      run: runRecord({ status: 'succeeded', duration: 5, finished_at: 1005 }),
      steps: [
        stepRecord('load', { status: 'succeeded', attempts: 1, started_at: 1000, finished_at: 1001, duration: 1 }),
        stepRecord('train', { status: 'succeeded', attempts: 2, started_at: 1001, finished_at: 1004, duration: 2 }),
        stepRecord('report', { status: 'running', attempts: 1, started_at: 1004 }),
      ],
      dag,
    });
    const replay = stream([
      { type: 'run_started', pipeline: 'train', params: {}, pid: 1, host: 'h', resumed_from: null, steps: ['load', 'train', 'report'], tags: [] },
      { type: 'step_started', step: 'load', attempt: 1, inputs: {}, cache_key: null },
      { type: 'step_started', step: 'train', attempt: 1, inputs: {}, cache_key: null },
      { type: 'step_retrying', step: 'train', attempt: 1, error: 'x', delay: 1 },
      { type: 'step_started', step: 'report', attempt: 1, inputs: {}, cache_key: null },
    ]);
    const s = applyRunEvents(snapshot, replay);
    expect(s.run.status).toBe('succeeded');
    expect(s.steps.load!.status).toBe('succeeded');
    expect(s.steps.train).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(s.steps.report!.status).toBe('running');
  });

  it('keeps unchanged step objects (memoised nodes do not re-render)', () => {
    const s0 = fresh();
    const s1 = applyRunEvents(s0, stream([{ type: 'step_started', step: 'train', attempt: 1, inputs: {}, cache_key: null }]));
    expect(s1.steps.load).toBe(s0.steps.load);
    expect(s1.steps.train).not.toBe(s0.steps.train);
  });

  it('ignores events of other runs and adds unknown steps', () => {
    const other: StreamEvent = {
      id: 1,
      event: { type: 'step_started', run_id: 'other', ts: 1, step: 'load', attempt: 1, inputs: {}, cache_key: null },
    };
    const s = applyRunEvents(fresh(), [other, ...stream([{ type: 'step_started', step: 'surprise', attempt: 1, inputs: {}, cache_key: null }], 2)]);
    expect(s.steps.load!.status).toBe('pending');
    expect(s.order).toContain('surprise');
    expect(s.steps.surprise!.status).toBe('running');
  });

  it('accepts events without ids (polling or tests) and applies 5000 of them in one pass quickly', () => {
    const names = Array.from({ length: 500 }, (_, i) => `s${i}`);
    const s0 = runStateFromSnapshot({ run: runRecord(), steps: names.map((n) => stepRecord(n)), dag: null });
    const batch: StreamEvent[] = [];
    let id = 1;
    for (let round = 0; round < 10; round++) {
      for (const n of names) {
        const ev = round % 2 === 0
          ? { type: 'step_started' as const, run_id: 'r1', ts: 1, step: n, attempt: round + 1, inputs: {}, cache_key: null }
          : { type: 'step_retrying' as const, run_id: 'r1', ts: 1, step: n, attempt: round, error: 'e', delay: 1 };
        batch.push({ id: id++, event: ev });
      }
    }
    const t0 = performance.now();
    const s = applyRunEvents(s0, batch);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(s.steps.s499).toMatchObject({ status: 'retrying', attempts: 9 });
    const noId = applyRunEvents(s, [{ id: null, event: { type: 'step_succeeded', run_id: 'r1', ts: 2, step: 's0', attempt: 10, duration: 1, outputs: {}, cache_key: null } }]);
    expect(noId.steps.s0!.status).toBe('succeeded');
    expect(noId.lastEventId).toBe(s.lastEventId);
  });
});

describe('durations', () => {
  it('uses the final duration or counts up to now', () => {
    expect(stepSeconds(stepRecord('a', { started_at: 10 }), 15)).toBe(5);
    expect(stepSeconds(stepRecord('a', { started_at: 10, finished_at: 12, duration: 1.5 }), 99)).toBe(1.5);
    expect(stepSeconds(stepRecord('a'), 99)).toBeNull();
    expect(runSeconds(runRecord({ started_at: 10 }), 25)).toBe(15);
    expect(runSeconds(runRecord({ started_at: 10, status: 'failed', duration: 3, finished_at: 13 }), 99)).toBe(3);
  });
});

describe('paged steps', () => {
  it('merges later pages without moving a finished step back', async () => {
    const { applyStepPage, runStateFromSnapshot } = await import('./runReducer');
    const { runRecord, stepRecord } = await import('./fixtures');
    const first = runStateFromSnapshot({
      run: runRecord({ steps_total: 3 }),
      dag: null,
      steps: [stepRecord('a', { status: 'succeeded', attempts: 1 })],
    });
    const next = applyStepPage(first, [
      stepRecord('a', { status: 'running', attempts: 1 }),
      stepRecord('b', { status: 'failed', attempts: 2 }),
      stepRecord('c[0]', { status: 'succeeded', attempts: 1 }),
    ]);
    expect(next.order).toEqual(['a', 'b', 'c[0]']);
    expect(next.steps.a).toBe(first.steps.a);
    expect(next.steps.b?.status).toBe('failed');
    expect(applyStepPage(next, [stepRecord('b', { status: 'failed', attempts: 2 })])).toBe(next);
  });
});
