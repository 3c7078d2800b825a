import { afterEach, describe, expect, it, vi } from 'vitest';
import { LiveStream } from './live';
import { getConnectionSummary } from './connection';
import { setTokenForTests } from './client';
import type { Scheduler } from '../state/batcher';
import type { StreamEvent } from './types';

/** A scriptable stand-in for the browser's EventSource. */
class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];
  readyState = FakeEventSource.CONNECTING;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  private listeners = new Map<string, ((e: { data: string; lastEventId: string }) => void)[]>();

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, fn: (e: { data: string; lastEventId: string }) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {
    this.closed = true;
    this.readyState = FakeEventSource.CLOSED;
  }
  open() {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.();
  }
  fail(fatal = false) {
    this.readyState = fatal ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    this.onerror?.();
  }
  send(id: number, event: object, type = (event as { type: string }).type) {
    for (const fn of this.listeners.get(type) ?? []) fn({ data: JSON.stringify(event), lastEventId: String(id) });
  }
}

function manual() {
  let n = 1;
  const frames = new Map<number, () => void>();
  const intervals = new Map<number, () => void>();
  const scheduler: Scheduler = {
    requestFrame: (cb) => (frames.set(n, cb), n++),
    cancelFrame: (h) => void frames.delete(h),
    setTimer: () => n++,
    clearTimer: () => undefined,
  };
  const timers = {
    setInterval: (cb: () => void) => (intervals.set(n, cb), n++),
    clearInterval: (h: unknown) => void intervals.delete(h as number),
  };
  return {
    scheduler,
    timers,
    frame: () => {
      const cbs = [...frames.values()];
      frames.clear();
      cbs.forEach((cb) => cb());
    },
    tickIntervals: () => [...intervals.values()].forEach((cb) => cb()),
    intervalCount: () => intervals.size,
  };
}

const BASE = 'http://example.test/prefix/';
const ev = (type: string, extra: object = {}) => ({ type, run_id: 'r1', ts: 1, step: 's', ...extra });

function make(opts: Partial<ConstructorParameters<typeof LiveStream>[0]> = {}) {
  const m = manual();
  const batches: StreamEvent[][] = [];
  let polls = 0;
  const stream = new LiveStream({
    name: 'test',
    path: 'runs/r1/events',
    baseURI: BASE,
    onEvents: (b) => batches.push(b),
    poll: async () => {
      polls += 1;
      return false;
    },
    EventSourceImpl: FakeEventSource as unknown as typeof EventSource,
    scheduler: m.scheduler,
    timers: m.timers,
    ...opts,
  });
  return { stream, m, batches, polls: () => polls };
}

/** Let pending promises (the stream URL, polls) settle. */
async function flush() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

afterEach(() => {
  FakeEventSource.instances = [];
  setTokenForTests(null);
  vi.unstubAllGlobals();
});

describe('LiveStream', () => {
  it('opens the stream relative to the base; a token is swapped for a single-use ticket', async () => {
    const { stream } = make();
    stream.start();
    await flush();
    expect(FakeEventSource.instances[0]!.url).toBe('http://example.test/prefix/api/runs/r1/events');
    stream.close();

    setTokenForTests('t0k');
    const calls: { url: string; auth: string | undefined }[] = [];
    let n = 0;
    vi.stubGlobal('fetch', async (url: URL, init: RequestInit) => {
      calls.push({ url: String(url), auth: (init.headers as Record<string, string>).Authorization });
      n += 1;
      return new Response(JSON.stringify({ ticket: `tk${n}`, expires_in: 30 }), { status: 201 });
    });
    const second = make();
    second.stream.start();
    await flush();
    const es = FakeEventSource.instances[1]!;
    expect(es.url).toBe('http://example.test/prefix/api/runs/r1/events?ticket=tk1');
    expect(es.url).not.toContain('t0k');
    expect(calls).toEqual([{ url: 'http://example.test/prefix/api/sse-tickets', auth: 'Bearer t0k' }]);
    // the stream drops and the browser's reconnect is refused (its ticket is spent): a new
    // ticket and a new stream at once
    es.open();
    es.fail(true);
    expect(second.stream.state).toBe('reconnecting');
    await flush();
    const again = FakeEventSource.instances.at(-1)!;
    expect(again.url).toContain('ticket=tk2');
    again.open();
    expect(second.stream.state).toBe('live');
    second.stream.close();
  });

  it('batches events per frame and reports connection states', async () => {
    const { stream, m, batches } = make();
    stream.start();
    await flush();
    expect(stream.state).toBe('connecting');
    const es = FakeEventSource.instances[0]!;
    es.open();
    expect(stream.state).toBe('live');
    expect(getConnectionSummary()).toBe('live');
    for (let i = 1; i <= 1000; i++) es.send(i, ev('step_started'));
    expect(batches).toHaveLength(0);
    m.frame();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(1000);
    expect(batches[0]![999]!.id).toBe(1000);
    es.fail();
    expect(stream.state).toBe('reconnecting');
    expect(getConnectionSummary()).toBe('reconnecting');
    es.open();
    expect(stream.state).toBe('live');
    stream.close();
    expect(getConnectionSummary()).toBe('idle');
  });

  it('closes at run_finished (delivering everything) so the browser does not reconnect', async () => {
    const { stream, batches } = make({ endOnRunFinished: true });
    stream.start();
    await flush();
    const es = FakeEventSource.instances[0]!;
    es.open();
    es.send(1, ev('step_succeeded'));
    es.send(2, { type: 'run_finished', run_id: 'r1', ts: 2, status: 'succeeded', duration: 1, error: null });
    expect(es.closed).toBe(true);
    expect(stream.state).toBe('closed');
    expect(batches.flat().map((b) => b.event.type)).toEqual(['step_succeeded', 'run_finished']);
  });

  it('falls back to polling after repeated errors, and back to live when the stream reopens', async () => {
    const { stream, m, polls } = make({ maxErrors: 3 });
    stream.start();
    await flush();
    const es = FakeEventSource.instances[0]!;
    es.fail();
    await flush();
    expect(polls()).toBe(1); // the first error probes the server at once
    es.fail();
    expect(stream.state).toBe('reconnecting');
    es.fail();
    expect(stream.state).toBe('polling');
    expect(es.closed).toBe(true);
    await flush();
    expect(polls()).toBe(2); // polled at once
    m.tickIntervals(); // poll timer + SSE retry timer
    await flush();
    expect(polls()).toBe(3);
    const retry = FakeEventSource.instances[1]!;
    expect(stream.state).toBe('polling'); // still polling until the retry opens
    retry.open();
    expect(stream.state).toBe('live');
    expect(m.intervalCount()).toBe(0);
    stream.close();
  });

  it('says offline while polls fail, and streams again as soon as the server answers', async () => {
    let up = true;
    const { stream, m } = make({
      poll: async () => {
        if (!up) throw new Error('connection refused');
        return false;
      },
    });
    stream.start();
    await flush();
    FakeEventSource.instances[0]!.open();
    up = false;
    FakeEventSource.instances[0]!.fail();
    await flush();
    expect(stream.state).toBe('offline');
    expect(getConnectionSummary()).toBe('offline');
    m.tickIntervals();
    await flush();
    expect(stream.state).toBe('offline');
    up = true;
    m.tickIntervals(); // the next poll succeeds: a fresh stream opens without waiting for a retry
    await flush();
    expect(FakeEventSource.instances[0]!.closed).toBe(true);
    const fresh = FakeEventSource.instances.at(-1)!;
    expect(fresh).not.toBe(FakeEventSource.instances[0]);
    expect(stream.state).toBe('reconnecting');
    fresh.open();
    expect(stream.state).toBe('live');
    expect(m.intervalCount()).toBe(0);
    stream.close();
  });

  it('polls at once when the server refuses the stream or EventSource is missing', async () => {
    const refused = make();
    refused.stream.start();
    await flush();
    FakeEventSource.instances[0]!.fail(true);
    expect(refused.stream.state).toBe('polling');
    refused.stream.close();

    let done = false;
    const missing = make({
      EventSourceImpl: undefined,
      poll: async () => {
        done = true;
        return true; // run finished: nothing left to watch
      },
    });
    missing.stream.start();
    expect(missing.stream.state).toBe('polling');
    await Promise.resolve();
    await Promise.resolve();
    expect(done).toBe(true);
    expect(missing.stream.state).toBe('closed');
    expect(missing.m.intervalCount()).toBe(0);
  });

  it('ignores malformed frames and keeps events without ids', async () => {
    const { stream, m, batches } = make();
    stream.start();
    await flush();
    const es = FakeEventSource.instances[0]!;
    es.send(1, 'not json' as unknown as object, 'step_started');
    for (const fn of (es as unknown as { listeners: Map<string, ((e: object) => void)[]> }).listeners.get('message') ?? []) {
      fn({ data: '{"broken', lastEventId: '' });
      fn({ data: JSON.stringify(ev('step_started')), lastEventId: '' });
    }
    m.frame();
    expect(batches.flat()).toEqual([{ id: null, event: ev('step_started') }]);
    stream.close();
  });

  it('resumes a stream it opens again from the last event id it saw', async () => {
    setTokenForTests('t0k');
    let n = 0;
    vi.stubGlobal('fetch', async () => {
      n += 1;
      return new Response(JSON.stringify({ ticket: `tk${n}`, expires_in: 30 }), { status: 201 });
    });
    let up = true;
    const { stream, m, batches } = make({
      poll: async () => {
        if (!up) throw new Error('connection refused');
        return false;
      },
    });
    stream.start();
    await flush();
    const first = FakeEventSource.instances[0]!;
    expect(first.url).toBe('http://example.test/prefix/api/runs/r1/events?ticket=tk1'); // from the start
    first.open();
    first.send(41, ev('step_started'));
    first.send(42, ev('step_succeeded'));
    // the browser's own reconnect is refused (a spent ticket): the new stream starts after 42
    first.fail(true);
    await flush();
    const second = FakeEventSource.instances.at(-1)!;
    const url = new URL(second.url);
    expect(url.searchParams.get('ticket')).toBe('tk2');
    expect(url.searchParams.get('last_event_id')).toBe('42');
    second.open();
    second.send(57, ev('step_started', { step: 't' }));
    // an event without an id (should not happen) does not lose the position
    for (const fn of (second as unknown as { listeners: Map<string, ((e: object) => void)[]> }).listeners.get('message') ?? []) {
      fn({ data: JSON.stringify(ev('step_started')), lastEventId: '' });
    }
    // the server goes away and comes back: the stream reopened after the outage goes on from 57
    up = false;
    second.fail();
    await flush();
    expect(stream.state).toBe('offline');
    up = true;
    m.tickIntervals();
    await flush();
    const third = FakeEventSource.instances.at(-1)!;
    expect(third).not.toBe(second);
    expect(new URL(third.url).searchParams.get('last_event_id')).toBe('57');
    expect(new URL(third.url).searchParams.get('ticket')).toBe('tk3');
    m.frame();
    expect(batches.flat().map((b) => b.id)).toEqual([41, 42, 57, null]);
    stream.close();
  });
});
