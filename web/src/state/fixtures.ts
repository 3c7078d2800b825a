/** Builders for tests: records and events with sensible defaults. */
import type { FlowEvent, RunRecord, StepRunRecord, StreamEvent } from '../api/types';

export function runRecord(patch: Partial<RunRecord> = {}): RunRecord {
  return {
    run_id: 'r1',
    pipeline: 'train',
    status: 'running',
    params: {},
    started_at: 1000,
    finished_at: null,
    duration: null,
    pid: 1,
    host: 'h',
    resumed_from: null,
    error: null,
    heartbeat_at: null,
    seq: 1,
    steps_total: 0,
    steps_done: 0,
    steps_cached: 0,
    steps_failed: 0,
    tags: [],
    ...patch,
  };
}

export function stepRecord(step: string, patch: Partial<StepRunRecord> = {}): StepRunRecord {
  return {
    run_id: 'r1',
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
    ...patch,
  };
}

type Dist<T> = T extends unknown ? Omit<T, 'run_id' | 'ts'> & { run_id?: string; ts?: number } : never;

/** Wrap events as stream items with increasing ids starting at `firstId`. */
export function stream(events: Dist<FlowEvent>[], firstId = 1): StreamEvent[] {
  return events.map((e, i) => ({
    id: firstId + i,
    event: { run_id: 'r1', ts: 1000 + i, ...e } as FlowEvent,
  }));
}

export const artifactRef = (id: string, name: string) => ({
  id,
  name,
  uri: `file:///a/${id}`,
  type_name: 'int',
  materializer: 'json',
  size: 2,
  content_hash: 'h',
  metadata: {},
});
