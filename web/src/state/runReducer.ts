/**
 * Pure reducer: the state of one run (run record + step records) from a snapshot
 * (`GET api/runs/{id}`) and the run's event stream.
 *
 * Rules:
 * - events are applied in batches; an event whose id is not above the last applied
 *   id is a duplicate or out of order and is ignored;
 * - a step in a terminal state never goes back to a non-terminal one, and a finished
 *   run never goes back to running: the stream replays a run from its start on top
 *   of a snapshot that may already be ahead;
 * - `run_finished` settles leftover steps (pending -> skipped, running -> cancelled,
 *   or cancelled / interrupted when the whole run was);
 * - only the step records that change get new objects, so memoised views keep the rest.
 */

import type {
  Dag,
  FlowEvent,
  RunDetailResponse,
  RunRecord,
  RunStatus,
  StepRunRecord,
  StepStatus,
  StreamEvent,
} from '../api/types';

export interface StepView extends StepRunRecord {
  /** why a step was skipped (from `step_skipped`) */
  reason: string | null;
  /** seconds until the next attempt (from `step_retrying`) */
  retry_delay: number | null;
}

export interface RunViewState {
  run: RunRecord;
  steps: Readonly<Record<string, StepView>>;
  /** step names in display order (DAG order, then any others) */
  order: readonly string[];
  /** highest event id applied (0: none yet) */
  lastEventId: number;
}

export const TERMINAL_STEP: ReadonlySet<StepStatus> = new Set<StepStatus>([
  'succeeded',
  'cached',
  'failed',
  'skipped',
  'cancelled',
  'interrupted',
]);

export const TERMINAL_RUN: ReadonlySet<RunStatus> = new Set<RunStatus>([
  'succeeded',
  'failed',
  'cancelled',
  'interrupted',
]);

export function isTerminalStep(status: StepStatus): boolean {
  return TERMINAL_STEP.has(status);
}

export function isTerminalRun(status: RunStatus): boolean {
  return TERMINAL_RUN.has(status);
}

export function emptyStep(runId: string, step: string): StepView {
  return {
    run_id: runId,
    step,
    status: 'pending',
    attempts: 0,
    started_at: null,
    finished_at: null,
    duration: null,
    cache_key: null,
    cached_from: null,
    error: null,
    error_type: null,
    traceback: null,
    inputs: {},
    outputs: {},
    reason: null,
    retry_delay: null,
  };
}

function toView(record: StepRunRecord): StepView {
  return {
    ...emptyStep(record.run_id, record.step),
    ...record,
    inputs: record.inputs ?? {},
    outputs: record.outputs ?? {},
  };
}

function dagOrder(dag: Dag | null): string[] {
  return dag ? dag.nodes.map((n) => n.id) : [];
}

/**
 * Build the state from `GET api/runs/{id}`. With `prev` (polling, refetch) keep its
 * event position, and never move a step or the run back from a terminal state.
 */
export function runStateFromSnapshot(
  resp: Pick<RunDetailResponse, 'run' | 'steps' | 'dag'>,
  prev?: RunViewState,
): RunViewState {
  const runId = resp.run.run_id;
  const records = new Map(resp.steps.map((r) => [r.step, r]));
  const order: string[] = [];
  const seen = new Set<string>();
  const add = (name: string) => {
    if (!seen.has(name)) {
      seen.add(name);
      order.push(name);
    }
  };
  dagOrder(resp.dag).forEach(add);
  resp.steps.forEach((r) => add(r.step));
  prev?.order.forEach(add);

  const steps: Record<string, StepView> = {};
  for (const name of order) {
    const record = records.get(name);
    const old = prev?.steps[name];
    if (!record) {
      steps[name] = old ?? emptyStep(runId, name);
      continue;
    }
    // keep what we have when it is the same, or ahead (the store may lag the stream)
    const keepOld = old && (sameStep(old, record) || (isTerminalStep(old.status) && !isTerminalStep(record.status)));
    steps[name] = keepOld ? old : toView(record);
  }
  const runBehind = prev && isTerminalRun(prev.run.status) && !isTerminalRun(resp.run.status);
  return withCounts({
    run: runBehind ? prev.run : resp.run,
    steps,
    order,
    lastEventId: prev?.lastEventId ?? 0,
  });
}

/**
 * Merge a further page of step records (`GET api/runs/{id}/steps`): new steps join the
 * order; known ones are replaced unless the state is already as far or further.
 */
export function applyStepPage(state: RunViewState, records: readonly StepRunRecord[]): RunViewState {
  if (records.length === 0) return state;
  let steps: Record<string, StepView> | null = null;
  let order: string[] | null = null;
  for (const record of records) {
    const old = (steps ?? state.steps)[record.step];
    if (old && (sameStep(old, record) || (isTerminalStep(old.status) && !isTerminalStep(record.status)))) continue;
    steps ??= { ...state.steps };
    if (!old) (order ??= [...state.order]).push(record.step);
    steps[record.step] = toView(record);
  }
  if (steps === null) return state;
  return withCounts({ ...state, steps, order: order ?? state.order });
}

function sameStep(view: StepView, record: StepRunRecord): boolean {
  return (
    view.status === record.status &&
    view.attempts === record.attempts &&
    view.started_at === record.started_at &&
    view.finished_at === record.finished_at &&
    view.error === record.error
  );
}

/** Recompute the run's step counters from the steps (`done` = succeeded + cached). */
function withCounts(state: RunViewState): RunViewState {
  let done = 0;
  let cached = 0;
  let failed = 0;
  for (const name of state.order) {
    const s = state.steps[name];
    if (!s) continue;
    if (s.status === 'succeeded' || s.status === 'cached') done += 1;
    if (s.status === 'cached') cached += 1;
    if (s.status === 'failed') failed += 1;
  }
  const run = state.run;
  const total = Math.max(run.steps_total, state.order.length);
  if (
    run.steps_done === done &&
    run.steps_cached === cached &&
    run.steps_failed === failed &&
    run.steps_total === total
  ) {
    return state;
  }
  return {
    ...state,
    run: { ...run, steps_total: total, steps_done: done, steps_cached: cached, steps_failed: failed },
  };
}

/** Apply a batch of stream events at once (one new state object per batch). */
export function applyRunEvents(state: RunViewState, batch: readonly StreamEvent[]): RunViewState {
  const draft = new Draft(state);
  for (const item of batch) {
    if (item.id !== null) {
      if (item.id <= draft.lastEventId) continue; // duplicate or out of order
      draft.lastEventId = item.id;
    }
    if (item.event.run_id !== state.run.run_id) continue;
    draft.apply(item.event);
  }
  return draft.finish();
}

/** Mutable copy-on-write view of a state, private to one batch. */
class Draft {
  run: RunRecord;
  lastEventId: number;
  private steps: Record<string, StepView>;
  private order: string[];
  private stepsCopied = false;
  private orderCopied = false;
  private changed = false;

  constructor(private readonly base: RunViewState) {
    this.run = base.run;
    this.lastEventId = base.lastEventId;
    this.steps = base.steps as Record<string, StepView>;
    this.order = base.order as string[];
  }

  private getStep(name: string): StepView {
    return this.steps[name] ?? emptyStep(this.run.run_id, name);
  }

  private setStep(name: string, patch: Partial<StepView>): void {
    const current = this.getStep(name);
    if (!(name in this.steps)) {
      if (!this.orderCopied) {
        this.order = [...this.order];
        this.orderCopied = true;
      }
      this.order.push(name);
    }
    if (!this.stepsCopied) {
      this.steps = { ...this.steps };
      this.stepsCopied = true;
    }
    this.steps[name] = { ...current, ...patch };
    this.changed = true;
  }

  private setRun(patch: Partial<RunRecord>): void {
    this.run = { ...this.run, ...patch };
    this.changed = true;
  }

  apply(ev: FlowEvent): void {
    switch (ev.type) {
      case 'run_started': {
        const terminal = isTerminalRun(this.run.status);
        this.setRun({
          pipeline: ev.pipeline,
          params: ev.params ?? this.run.params,
          pid: ev.pid ?? this.run.pid,
          host: ev.host ?? this.run.host,
          resumed_from: ev.resumed_from ?? this.run.resumed_from,
          started_at: this.run.started_at || ev.ts,
          status: terminal ? this.run.status : 'running',
          steps_total: Math.max(this.run.steps_total, ev.steps?.length ?? 0),
          tags: ev.tags ?? this.run.tags,
        });
        for (const name of ev.steps ?? []) {
          if (!this.steps[name]) this.setStep(name, {});
        }
        return;
      }
      case 'run_finished': {
        this.setRun({
          status: ev.status,
          duration: ev.duration ?? this.run.duration,
          error: ev.error ?? null,
          finished_at: ev.ts,
        });
        this.settleLeftovers(ev.status, ev.ts);
        return;
      }
      default:
        this.applyStep(ev);
    }
  }

  private applyStep(ev: Exclude<FlowEvent, { type: 'run_started' | 'run_finished' }>): void {
    const cur = this.getStep(ev.step);
    const terminalNow = isTerminalStep(cur.status);
    const attempts = Math.max(cur.attempts, ev.attempt ?? 0);
    switch (ev.type) {
      case 'step_started':
        if (terminalNow) return;
        this.setStep(ev.step, {
          status: 'running',
          attempts: Math.max(attempts, 1),
          started_at: cur.started_at ?? ev.ts,
          finished_at: null,
          inputs: ev.inputs ?? cur.inputs,
          cache_key: ev.cache_key ?? cur.cache_key,
          retry_delay: null,
        });
        return;
      case 'step_retrying':
        if (terminalNow) return;
        this.setStep(ev.step, {
          status: 'retrying',
          attempts,
          started_at: cur.started_at ?? ev.ts,
          error: ev.error,
          retry_delay: ev.delay,
        });
        return;
      case 'step_succeeded':
        this.setStep(ev.step, {
          status: 'succeeded',
          attempts: Math.max(attempts, 1),
          duration: ev.duration,
          started_at: cur.started_at ?? ev.ts - (ev.duration ?? 0),
          finished_at: ev.ts,
          outputs: refIds(ev.outputs) ?? cur.outputs,
          cache_key: ev.cache_key ?? cur.cache_key,
          error: null,
          error_type: null,
          traceback: null,
          retry_delay: null,
        });
        return;
      case 'step_cached':
        this.setStep(ev.step, {
          status: 'cached',
          attempts,
          duration: 0,
          started_at: cur.started_at ?? ev.ts,
          finished_at: ev.ts,
          cache_key: ev.cache_key || cur.cache_key,
          cached_from: ev.source_run_id ?? cur.cached_from,
          outputs: refIds(ev.outputs) ?? cur.outputs,
          inputs: ev.inputs && Object.keys(ev.inputs).length > 0 ? ev.inputs : cur.inputs,
          retry_delay: null,
        });
        return;
      case 'step_failed':
        this.setStep(ev.step, {
          status: 'failed',
          attempts: Math.max(attempts, 1),
          duration: ev.duration,
          started_at: cur.started_at ?? ev.ts - (ev.duration ?? 0),
          finished_at: ev.ts,
          error: ev.error,
          error_type: ev.error_type ?? null,
          traceback: ev.traceback || null,
          retry_delay: null,
        });
        return;
      case 'step_skipped':
        this.setStep(ev.step, {
          status: 'skipped',
          attempts,
          finished_at: cur.finished_at ?? ev.ts,
          reason: ev.reason || null,
          retry_delay: null,
        });
        return;
    }
  }

  private settleLeftovers(status: RunStatus, ts: number): void {
    for (const name of this.order) {
      const s = this.steps[name];
      if (!s || isTerminalStep(s.status)) continue;
      let next: StepStatus;
      if (status === 'cancelled' || status === 'interrupted') next = status;
      else next = s.status === 'pending' ? 'skipped' : 'cancelled';
      this.setStep(name, {
        status: next,
        finished_at: s.status === 'pending' ? s.finished_at : ts,
        retry_delay: null,
      });
    }
  }

  finish(): RunViewState {
    if (!this.changed && this.lastEventId === this.base.lastEventId) return this.base;
    return withCounts({
      run: this.run,
      steps: this.steps,
      order: this.order,
      lastEventId: this.lastEventId,
    });
  }
}

function refIds(outputs: Record<string, { id: string }> | undefined): Record<string, string> | null {
  if (!outputs) return null;
  const ids: Record<string, string> = {};
  for (const [name, ref] of Object.entries(outputs)) ids[name] = ref.id;
  return ids;
}

/** Elapsed or final duration of a step, in seconds (null when it never started). */
export function stepSeconds(step: StepRunRecord, now: number): number | null {
  if (step.duration !== null && step.finished_at !== null) return step.duration;
  if (step.started_at === null) return null;
  const end = step.finished_at ?? now;
  return Math.max(0, end - step.started_at);
}

/** Elapsed or final duration of a run, in seconds. */
export function runSeconds(run: RunRecord, now: number): number {
  if (run.duration !== null && isTerminalRun(run.status)) return run.duration;
  const end = run.finished_at ?? now;
  return Math.max(0, end - run.started_at);
}
