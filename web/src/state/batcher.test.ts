import { describe, expect, it } from 'vitest';
import { createBatcher, type Scheduler } from './batcher';

/** A manual scheduler: frames and timers run only when the test says so. */
function manualScheduler() {
  let next = 1;
  const frames = new Map<number, () => void>();
  const timers = new Map<number, () => void>();
  const scheduler: Scheduler = {
    requestFrame: (cb) => (frames.set(next, cb), next++),
    cancelFrame: (h) => void frames.delete(h),
    setTimer: (cb) => (timers.set(next, cb), next++),
    clearTimer: (h) => void timers.delete(h),
  };
  const run = (map: Map<number, () => void>) => {
    const cbs = [...map.values()];
    map.clear();
    cbs.forEach((cb) => cb());
  };
  return {
    scheduler,
    frame: () => run(frames),
    timeout: () => run(timers),
    pending: () => frames.size + timers.size,
  };
}

describe('createBatcher', () => {
  it('delivers a burst of thousands of items in ONE call on the next frame', () => {
    const m = manualScheduler();
    const calls: number[][] = [];
    const b = createBatcher<number>((items) => calls.push(items), m.scheduler);
    for (let i = 0; i < 5000; i++) b.push(i);
    expect(calls).toHaveLength(0);
    expect(b.size).toBe(5000);
    m.frame();
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(5000);
    expect(calls[0]![4999]).toBe(4999);
    expect(m.pending()).toBe(0); // the backup timer was cancelled
  });

  it('schedules one frame per burst and a new one for the next burst', () => {
    const m = manualScheduler();
    const calls: string[][] = [];
    const b = createBatcher<string>((items) => calls.push(items), m.scheduler);
    b.push('a');
    b.push('b');
    expect(m.pending()).toBe(2); // one frame + one backup timer, not one per item
    m.frame();
    b.push('c');
    m.frame();
    expect(calls).toEqual([['a', 'b'], ['c']]);
  });

  it('flushes from the backup timer when frames do not come (hidden tab)', () => {
    const m = manualScheduler();
    const calls: number[][] = [];
    const b = createBatcher<number>((items) => calls.push(items), m.scheduler);
    b.push(1);
    b.push(2);
    m.timeout();
    expect(calls).toEqual([[1, 2]]);
    expect(m.pending()).toBe(0);
  });

  it('flushes on demand and stops after dispose', () => {
    const m = manualScheduler();
    const calls: number[][] = [];
    const b = createBatcher<number>((items) => calls.push(items), m.scheduler);
    b.push(1);
    b.flush();
    expect(calls).toEqual([[1]]);
    b.flush(); // nothing queued: no empty delivery
    expect(calls).toHaveLength(1);
    b.push(2);
    b.dispose();
    m.frame();
    m.timeout();
    b.push(3);
    expect(calls).toHaveLength(1);
    expect(b.size).toBe(0);
  });
});
