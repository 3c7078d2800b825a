import { describe, expect, it } from 'vitest';
import { STEP_STATUSES, type StepStatus } from '../api/types';
import { countSteps, elementsOf, histogramText, parseElement, summarizeElements } from './mapElements';

function run(n: number, failed: number[]) {
  const order = ['load', 'fetch', 'report'];
  const steps: Record<string, { status: StepStatus }> = {
    load: { status: 'succeeded' },
    fetch: { status: 'failed' },
    report: { status: 'skipped' },
  };
  for (let i = n - 1; i >= 0; i -= 1) {
    order.push(`fetch[${i}]`);
    steps[`fetch[${i}]`] = { status: failed.includes(i) ? 'failed' : 'succeeded' };
  }
  return { order, steps };
}

describe('map elements', () => {
  it('parses element names, including nested brackets in the parent', () => {
    expect(parseElement('fetch[17]')).toEqual({ parent: 'fetch', index: 17 });
    expect(parseElement('sub.fetch[0]')).toEqual({ parent: 'sub.fetch', index: 0 });
    expect(parseElement('fetch')).toBeNull();
    expect(parseElement('fetch[x]')).toBeNull();
  });

  it('gives each mapped node its element count and status histogram', () => {
    const { order, steps } = run(50, [3, 40]);
    const s = summarizeElements(order, steps).get('fetch');
    expect(s).toEqual({ total: 50, counts: { succeeded: 48, failed: 2 } });
    expect(histogramText(s!, STEP_STATUSES)).toBe('48 succeeded, 2 failed');
    expect(elementsOf(order, 'fetch').slice(0, 3)).toEqual(['fetch[0]', 'fetch[1]', 'fetch[2]']);
  });

  it('counts a 50-element map in a 3-step run as 3 steps and 50 elements', () => {
    const { order, steps } = run(50, [3, 40]);
    expect(countSteps(order, steps)).toEqual({
      total: 3,
      done: 1,
      failed: 1,
      cached: 0,
      elementsTotal: 50,
      elementsDone: 48,
    });
  });
});
