/**
 * Live event streams: an EventSource with batching, connection state and a
 * polling fallback.
 *
 * - events are queued and delivered once per animation frame (see state/batcher);
 * - the browser reconnects by itself after an error (sending Last-Event-ID); we show
 *   "reconnecting…" meanwhile;
 * - a stream we open again ourselves (a new SSE ticket, the server back after an outage,
 *   SSE retried after polling) is a new EventSource, which has no Last-Event-ID to send:
 *   its URL carries `last_event_id=<the last id seen>` so it resumes where the old one
 *   stopped instead of replaying everything or skipping the gap;
 * - while the stream is down we poll (which also probes the server): a failed poll
 *   shows "offline", and the first poll that succeeds again reopens the stream at once
 *   (with a fresh SSE ticket), so the page is live again within a poll interval;
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
  /** bumps on every (re)open, so a slow ticket request for an old attempt is dropped */
  private generation = 0;
  private errors = 0;
  private pollTimer: unknown = null;
  private retryTimer: unknown = null;
  /** polling instead of streaming (SSE gave up for now) */
  private polling = false;
  /** the last poll failed: the server is unreachable */
  private offline = false;
  /** the current stream was open at some point (so a refusal now is likely a spent ticket) */
  private wasLive = false;
  private closed = false;
  /** id of the last event received, sent when a new EventSource opens */
  private lastEventId: string | null = null;
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
    this.setState('connecting');
    if (this.opts.EventSourceImpl) this.openSse();
    else this.enterPolling();
    return this;
  }

  /** Stop everything: stream, timers and queued events. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropSse();
    this.stopTimers();
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
    const generation = ++this.generation;
    const resume = this.lastEventId === null ? {} : { last_event_id: this.lastEventId };
    sseUrl(this.opts.path, this.opts.baseURI ?? document.baseURI, resume).then(
      (url) => {
        if (generation === this.generation && !this.closed) this.attach(new Impl(url), Impl);
      },
      () => {
        if (generation === this.generation) this.onSseError(null, Impl);
      },
    );
  }

  private attach(es: EventSource, Impl: typeof EventSource): void {
    this.es = es;
    es.onopen = () => {
      if (this.es !== es) return;
      this.errors = 0;
      this.wasLive = true;
      this.offline = false;
      this.stopTimers();
      this.setState('live');
    };
    es.onerror = () => {
      if (this.es === es) this.onSseError(es, Impl);
    };
    const onMessage = (msg: MessageEvent<string>) => {
      if (this.es !== es) return;
      this.receive(msg);
    };
    for (const type of EVENT_TYPES) es.addEventListener(type, onMessage as EventListener);
    es.addEventListener('message', onMessage as EventListener);
  }

  private onSseError(es: EventSource | null, Impl: typeof EventSource): void {
    this.errors += 1;
    if (es && es.readyState === Impl.CLOSED && this.wasLive && !this.polling) {
      // the browser's own reconnect was refused (with tickets: the ticket is spent); try
      // once more at once with a fresh URL before falling back to polling
      this.wasLive = false;
      this.dropSse();
      this.setState('reconnecting');
      this.openSse();
      return;
    }
    if (!es || es.readyState === Impl.CLOSED || this.polling || this.errors >= this.opts.maxErrors) {
      this.dropSse();
      this.enterPolling();
      return;
    }
    // the browser reconnects by itself (sending Last-Event-ID); meanwhile probe the server
    if (!this.offline) this.setState('reconnecting');
    this.startProbing();
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
    if (Number.isFinite(id)) this.lastEventId = msg.lastEventId;
    this.batcher.push({ id: Number.isFinite(id) ? id : null, event });
    if (this.opts.endOnRunFinished && event.type === 'run_finished') {
      this.batcher.flush();
      this.close();
    }
  }

  private dropSse(): void {
    this.generation += 1;
    if (this.es) {
      this.es.onopen = null;
      this.es.onerror = null;
      this.es.close();
      this.es = null;
    }
  }

  /** One poll: refreshes what the page shows and tells whether the server answers. */
  private readonly tick = async (): Promise<void> => {
    if (!this.opts.poll || this.closed) return;
    let finished: boolean | void;
    try {
      finished = await this.opts.poll();
    } catch {
      if (this.closed) return;
      this.offline = true;
      this.setState('offline');
      return;
    }
    if (this.closed) return;
    if (finished === true) {
      this.close();
      return;
    }
    if (this.offline) {
      // the server is back: stream again now rather than at the next retry
      this.offline = false;
      this.setState(this.polling ? 'polling' : 'reconnecting');
      if (this.opts.EventSourceImpl) {
        this.dropSse();
        this.openSse();
      }
    }
  };

  private startProbing(): void {
    if (this.pollTimer !== null || !this.opts.poll) return;
    void this.tick();
    this.pollTimer = this.opts.timers.setInterval(() => void this.tick(), this.opts.pollMs);
  }

  private enterPolling(): void {
    if (this.closed) return;
    if (!this.offline) this.setState('polling');
    if (this.polling) return;
    this.polling = true;
    if (this.pollTimer === null) this.startProbing();
    else void this.tick();
    if (this.opts.EventSourceImpl && this.retryTimer === null) {
      this.retryTimer = this.opts.timers.setInterval(() => {
        if (!this.es) this.openSse();
      }, this.opts.retrySseMs);
    }
  }

  private stopTimers(): void {
    const { timers } = this.opts;
    if (this.pollTimer !== null) timers.clearInterval(this.pollTimer);
    if (this.retryTimer !== null) timers.clearInterval(this.retryTimer);
    this.pollTimer = null;
    this.retryTimer = null;
    this.polling = false;
  }
}
