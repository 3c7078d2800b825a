import { describe, expect, it } from 'vitest';
import { toTable } from './ArtifactPreview';
import { formatBytes, formatDuration, shortId } from '../util/format';
import { isotonicPlace } from '../layout/layered';

describe('table previews', () => {
  it('reads {columns, rows}, records and lists of lists', () => {
    expect(toTable({ columns: ['a', 'b'], rows: [[1, 2]], total_rows: 10 })).toEqual({ columns: ['a', 'b'], rows: [[1, 2]] });
    expect(toTable([{ a: 1 }, { a: 2, b: 'x' }])).toEqual({ columns: ['a', 'b'], rows: [[1, null], [2, 'x']] });
    expect(toTable([[1, 2], [3]])).toEqual({ columns: ['0', '1'], rows: [[1, 2], [3]] });
    expect(toTable('text')).toBeNull();
  });
});

describe('formatting', () => {
  it('shortens ids to their distinctive end (time-ordered ids share their start)', () => {
    const a = '019acf3e5b2c7a1f8d4e6b2a9c3d5e7f';
    const b = '019acf3e5b2c7b8e1f0a2c4d6e8f0a1b';
    expect(shortId(a)).toBe('9c3d5e7f');
    expect(shortId(a)).not.toBe(shortId(b));
    expect(shortId('abc')).toBe('abc');
  });
  it('formats durations and sizes', () => {
    expect(formatDuration(0.25)).toBe('250 ms');
    expect(formatDuration(4.26)).toBe('4.3 s');
    expect(formatDuration(75)).toBe('1m 15s');
    expect(formatDuration(3700)).toBe('1h 01m');
    expect(formatDuration(null)).toBe('—');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KB');
  });
});

describe('isotonicPlace', () => {
  it('keeps order and gaps while staying close to the wanted positions', () => {
    expect(isotonicPlace([0, 100], [0, 10])).toEqual([0, 100]);
    expect(isotonicPlace([50, 50], [0, 10])).toEqual([45, 55]);
    const y = isotonicPlace([10, 0, 5, 100], [0, 20, 20, 20]);
    for (let i = 1; i < y.length; i++) expect(y[i]! - y[i - 1]!).toBeGreaterThanOrEqual(20 - 1e-9);
  });
});

describe('find step', () => {
  it('prefers an exact name, then a prefix, then a substring, ignoring case', async () => {
    const { findStep } = await import('./FindStep');
    const ids = ['load_all', 'reload', 'load', 'Transform'];
    expect(findStep(ids, 'load')).toBe('load');
    expect(findStep(ids, 'LOA')).toBe('load_all');
    expect(findStep(ids, 'form')).toBe('Transform');
    expect(findStep(ids, 'nope')).toBeNull();
    expect(findStep(ids, '  ')).toBeNull();
  });
});

describe('steps column', () => {
  it('never shows more steps done than the DAG has', async () => {
    const { stepsText } = await import('./RunsTable');
    expect(stepsText({ steps_done: 2, steps_failed: 1, steps_total: 4 }).text).toBe('2/4');
    // a 50-element map in a 3-step run, as a store that counts elements reports it
    const map = stepsText({ steps_done: 52, steps_failed: 0, steps_total: 3 });
    expect(map.text).toBe('3 steps · 52 done incl. map elements');
    expect(map.text).not.toContain('52/3');
  });
});

describe('DAG level of detail', () => {
  it('never draws a label under 11 px on screen', async () => {
    const { detailFor } = await import('./dagSettings');
    // font sizes of styles.css per level: the smallest text each level shows
    const smallest = { full: 11, name: 15, 'name-large': 22, shapes: Infinity };
    for (let zoom = 0.05; zoom <= 2; zoom += 0.01) {
      expect(smallest[detailFor(zoom)] * zoom).toBeGreaterThanOrEqual(11 - 1e-9);
    }
  });
});
