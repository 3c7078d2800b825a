import { describe, expect, it } from 'vitest';
import { atLeast, type LogLine } from './StepLogsLive';

const line = (seq: number, level: string): LogLine => ({
  seq,
  step: 's',
  attempt: 1,
  created_at: 0,
  level,
  logger: 'x',
  message: `m${seq}`,
});

describe('atLeast', () => {
  const lines = [line(1, 'DEBUG'), line(2, 'INFO'), line(3, 'WARNING'), line(4, 'ERROR'), line(5, 'NOTICE')];
  it('keeps every line at the lowest level', () => {
    expect(atLeast(lines, 'DEBUG').map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
  });
  it('drops lines below the chosen level, keeps unknown levels', () => {
    expect(atLeast(lines, 'WARNING').map((l) => l.seq)).toEqual([3, 4, 5]);
  });
});
