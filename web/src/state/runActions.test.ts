import { describe, expect, it } from 'vitest';
import { runActionStates } from './runActions';

const base = { registered: true, canCancel: false, busy: false };

describe('run actions', () => {
  it('resumes only failed, cancelled or interrupted runs of registered pipelines', () => {
    for (const status of ['failed', 'cancelled', 'interrupted'] as const) {
      expect(runActionStates({ ...base, run: { status, pipeline: 'etl' } }).resume).toEqual({ enabled: true, reason: null });
    }
    const ok = runActionStates({ ...base, run: { status: 'succeeded', pipeline: 'etl' } });
    expect(ok.resume.enabled).toBe(false);
    expect(ok.resume.reason).toMatch(/succeeded/);
    expect(ok.rerun.enabled).toBe(true);
    const other = runActionStates({ ...base, registered: false, run: { status: 'failed', pipeline: 'etl' } });
    expect(other.resume.reason).toMatch(/etl is not registered/);
    expect(other.rerun.enabled).toBe(false);
  });

  it('offers Cancel only on running runs this server can cancel', () => {
    const run = { status: 'running' as const, pipeline: 'etl' };
    expect(runActionStates({ ...base, run }).cancel.shown).toBe(false);
    expect(runActionStates({ ...base, canCancel: true, run }).cancel.shown).toBe(true);
    expect(runActionStates({ ...base, canCancel: true, run: { ...run, status: 'failed' } }).cancel.shown).toBe(false);
    expect(runActionStates({ ...base, run }).resume.reason).toMatch(/still running/);
  });

  it('disables everything while an action is in flight', () => {
    const s = runActionStates({ ...base, busy: true, canCancel: true, run: { status: 'failed', pipeline: 'etl' } });
    expect([s.resume.enabled, s.rerun.enabled]).toEqual([false, false]);
  });
});
