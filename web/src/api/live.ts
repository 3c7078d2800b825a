/**
 * Live event streams: an EventSource with batching, connection state and a
 * polling fallback.
 *
 * - events are queued and delivered once per animation frame (see state/batcher);
 * - the browser reconnects by itself after an error (sending Last-Event-ID); we show
 *   "reconnecting…" meanwhile;
 * - if EventSource is missing, the server refuses the stream (readyState CLOSED) or
 *   errors repeat without a successful open, we poll instead and retry SSE now and then;
 * - a run stream ends after `run_finished`: we close it at once so the browser does
 *   not reconnect to a finished stream.
 */

import { EVENT_TYPES, type FlowEvent, type StreamEvent } from './types';
import { sseUrl } from './client';
import { createBatcher, type Batcher, type Scheduler, browserScheduler } from '../state/batcher';
import { clearConnection, setConnection, type ConnectionState } from './connection';

export interface LiveStreamOptions {
  /** key in the connection registry (one indicator for the whole page) */
  name: string;
  /** API path of the SSE endpoint, e.g. `events` or `runs/<id>/events` */
  path: string;
  onEvents(batch: StreamEvent[]): void;
  /** close the stream after a `run_finished` event (per-run streams) */
  endOnRunFinished?: boolean;
  /** polling fallback; resolve `true` when there is nothing more to watch */
  poll?: () => Promise<boolean | void>;
  pollMs?: number;
  /** consecutive errors without a successful open before falling back to polling */
  maxErrors?: number;
  /** while polling, try the stream again this often */
  retrySseMs?: number;
  EventSourceImpl?: typeof EventSource | undefined;
  /** document base for the URL (defaults to document.baseURI) */
  baseURI?: string;
  scheduler?: Scheduler;
  /** timers for polling (tests inject fakes) */
  timers?: { setInterval(cb: () => void, ms: number): unknown; clearInterval(h: unknown): void };
}

const defaultTimers = {
  setInterval: (cb: () => void, ms: number): unknown => setInterval(cb, ms),
  clearInterval: (h: unknown) => clearInterval(h as ReturnType<typeof setInterval>),
};

export class LiveStream {
  private es: EventSource | null = null;
  private errors = 0;
  private pollTimer: unknown = null;
  private retryTimer: unknown = null;
  private polling = false;
  private closed = false;
  private readonly batcher: Batcher<StreamEvent>;
  private readonly opts: Required<Omit<LiveStreamOptions, 'poll' | 'EventSourceImpl' | 'baseURI'>> &
    Pick<LiveStreamOptions, 'poll' | 'EventSourceImpl' | 'baseURI'>;
  state: ConnectionState = 'connecting';

  constructor(options: LiveStreamOptions) {
    this.opts = {
      endOnRunFinished: false,
      pollMs: 2000,
      maxErrors: 4,
      retrySseMs: 30_000,
      scheduler: browserScheduler,
      timers: defaultTimers,
      ...options,
      EventSourceImpl: 'EventSourceImpl' in options ? options.EventSourceImpl : globalThis.EventSource,
    };
    this.batcher = createBatcher<StreamEvent>((batch) => this.opts.onEvents(batch), this.opts.scheduler);
  }

  start(): this {
    if (this.opts.EventSourceImpl) this.openSse();
    else this.enterPolling();
    return this;
  }

  /** Stop everything: stream, timers and queued events. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropSse();
    this.stopPolling();
    this.batcher.dispose();
    this.state = 'closed';
    clearConnection(this.opts.name);
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    setConnection(this.opts.name, state);
  }

  private openSse(): void {
    const Impl = this.opts.EventSourceImpl;
    if (!Impl || this.closed) return;
    const es = new Impl(this.opts.baseURI ? sseUrl(this.opts.path, this.opts.baseURI) : sseUrl(this.opts.path));
    this.es = es;
    this.errors = 0;
    if (!this.polling) this.setState('connecting');
    es.onopen = () => {
      if (this.es !== es) return;
      this.errors = 0;
      this.stopPolling();
      this.setState('live');
    };
    es.onerror = () => {
      if (this.es !== es) return;
      this.errors += 1;
      if (es.readyState === Impl.CLOSED || this.polling || this.errors >= this.opts.maxErrors) {
        this.dropSse();
        this.enterPolling();
        return;
      }
      this.setState('reconnecting');
    };
    const onMessage = (msg: MessageEvent<string>) => {
      if (this.es !== es) return;
      this.receive(msg);
    };
    for (const type of EVENT_TYPES) es.addEventListener(type, onMessage as EventListener);
    es.addEventListener('message', onMessage as EventListener);
  }

  private receive(msg: MessageEvent<string>): void {
    let event: FlowEvent;
    try {
      event = JSON.parse(msg.data) as FlowEvent;
    } catch {
      return; // not an event (should not happen): ignore
    }
    if (!event || typeof event !== 'object' || typeof event.type !== 'string') return;
    const id = msg.lastEventId ? Number(msg.lastEventId) : NaN;
    this.batcher.push({ id: Number.isFinite(id) ? id : null, event });
    if (this.opts.endOnRunFinished && event.type === 'run_finished') {
      this.batcher.flush();
      this.close();
    }
  }

  private dropSse(): void {
    if (this.es) {
      this.es.onopen = null;
      this.es.onerror = null;
      this.es.close();
      this.es = null;
    }
  }

  private enterPolling(): void {
    if (this.closed) return;
    this.setState('polling');
    if (this.polling) return;
    this.polling = true;
    const { timers } = this.opts;
    const tick = async () => {
      if (!this.opts.poll || this.closed) return;
      try {
        if ((await this.opts.poll()) === true) this.close();
      } catch {
        // keep polling: the indicator already says we are not live
      }
    };
    void tick();
    this.pollTimer = timers.setInterval(() => void tick(), this.opts.pollMs);
    if (this.opts.EventSourceImpl) {
      this.retryTimer = timers.setInterval(() => {
        if (!this.es) this.openSse();
      }, this.opts.retrySseMs);
    }
  }

  private stopPolling(): void {
    const { timers } = this.opts;
    if (this.pollTimer !== null) timers.clearInterval(this.pollTimer);
    if (this.retryTimer !== null) timers.clearInterval(this.retryTimer);
    this.pollTimer = null;
    this.retryTimer = null;
    this.polling = false;
  }
}
