import { describe, expect, it } from 'vitest';
import { runRecord } from './fixtures';
import { dayBound, defaultView, recentByPipeline, viewRuns } from './runsView';

const runs = [
  runRecord({ run_id: 'r-aaa', pipeline: 'etl', started_at: 100, duration: 5, status: 'succeeded', seq: 1 }),
  runRecord({ run_id: 'r-bbb', pipeline: 'train', started_at: 200, duration: 50, status: 'failed', seq: 2 }),
  runRecord({ run_id: 'r-ccc', pipeline: 'etl', started_at: 300, duration: null, status: 'running', seq: 3 }),
];

describe('runs list view', () => {
  it('searches ids and pipeline names, ignoring case', () => {
    expect(viewRuns(runs, { ...defaultView, q: 'BBB' }, 400).map((r) => r.run_id)).toEqual(['r-bbb']);
    expect(viewRuns(runs, { ...defaultView, q: 'et' }, 400).map((r) => r.run_id)).toEqual(['r-ccc', 'r-aaa']);
  });

  it('keeps a date range', () => {
    expect(viewRuns(runs, { ...defaultView, from: 150, to: 250 }, 400).map((r) => r.run_id)).toEqual(['r-bbb']);
  });

  it('sorts by start or by duration (a running run by its time so far), both ways', () => {
    const byDuration = viewRuns(runs, { ...defaultView, sort: 'duration' }, 400).map((r) => r.run_id);
    expect(byDuration).toEqual(['r-ccc', 'r-bbb', 'r-aaa']); // 100 s so far, 50 s, 5 s
    expect(viewRuns(runs, { ...defaultView, sort: 'started', dir: 'asc' }, 400).map((r) => r.run_id)).toEqual([
      'r-aaa',
      'r-bbb',
      'r-ccc',
    ]);
  });

  it('turns a day into the bounds of that local day', () => {
    const start = dayBound('2026-12-01', false)!;
    const end = dayBound('2026-12-01', true)!;
    expect(end - start).toBeCloseTo(86400 - 0.001, 3);
    expect(new Date(start * 1000).getHours()).toBe(0);
    expect(dayBound('yesterday', false)).toBeNull();
  });

  it('summarises the latest runs of each pipeline, oldest first', () => {
    const recent = recentByPipeline(runs, 20);
    expect(recent.map((r) => [r.pipeline, r.runs.map((x) => x.run_id), r.counts])).toEqual([
      ['etl', ['r-aaa', 'r-ccc'], { succeeded: 1, running: 1 }],
      ['train', ['r-bbb'], { failed: 1 }],
    ]);
    expect(recentByPipeline(runs, 1)[0]!.runs.map((r) => r.run_id)).toEqual(['r-ccc']);
  });
});
