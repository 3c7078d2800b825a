import { describe, expect, it } from 'vitest';
import { groupFrames, isFrameworkFile, parseTraceback } from './traceback';

const TB = `Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/flowyml/execution/_runner.py", line 210, in _attempt
    return await fn(**kwargs)
           ^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/site-packages/anyio/to_thread.py", line 56, in run_sync
    return await get_async_backend().run_sync_in_worker_thread(
  File "/home/me/project/etl.py", line 14, in audit
    check(rows)
  File "/home/me/project/checks.py", line 3, in check
    raise ValueError("audit found 3 suspicious rows")
ValueError: audit found 3 suspicious rows`;

describe('tracebacks', () => {
  it('splits frames from text and tells the user code from the framework', () => {
    const blocks = parseTraceback(TB);
    expect(blocks.map((b) => b.kind)).toEqual(['text', 'frames', 'text']);
    const frames = blocks[1]?.kind === 'frames' ? blocks[1].frames : [];
    expect(frames.map((f) => [f.fn, f.framework])).toEqual([
      ['_attempt', true],
      ['run_sync', true],
      ['audit', false],
      ['check', false],
    ]);
    expect(frames[0]?.code).toEqual(['return await fn(**kwargs)', '^^^^^^^^^^^^^^^^^^']);
    expect(frames[3]?.line).toBe(3);
    expect(blocks[2]).toEqual({ kind: 'text', lines: ['ValueError: audit found 3 suspicious rows'] });
  });

  it("puts the user's frames first, in call order", () => {
    const blocks = parseTraceback(TB);
    const group = groupFrames(blocks[1]?.kind === 'frames' ? blocks[1].frames : []);
    expect(group.user.map((f) => f.fn)).toEqual(['audit', 'check']);
    expect(group.framework.map((f) => f.fn)).toEqual(['_attempt', 'run_sync']);
  });

  it('keeps chained exceptions as separate blocks', () => {
    const chained = `${TB}\n\nThe above exception was the direct cause of the following exception:\n\n${TB.replace('ValueError', 'RuntimeError')}`;
    const kinds = parseTraceback(chained).map((b) => b.kind);
    expect(kinds).toEqual(['text', 'frames', 'text', 'frames', 'text']);
  });

  it('knows framework folders, not look-alike names', () => {
    expect(isFrameworkFile('/x/site-packages/anyio/_core/_tasks.py')).toBe(true);
    expect(isFrameworkFile('/usr/lib/python3.11/asyncio/events.py')).toBe(true);
    expect(isFrameworkFile('/usr/lib/python3.11/threading.py')).toBe(true);
    expect(isFrameworkFile('/home/me/flowyml-demo/steps.py')).toBe(false);
    expect(isFrameworkFile('/home/me/project/my_anyio_helpers.py')).toBe(false);
  });
});
