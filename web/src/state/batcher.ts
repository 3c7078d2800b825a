/**
 * Frame batching: queue items and hand them over in ONE call per animation frame.
 *
 * A burst of thousands of SSE events becomes a single reducer pass and a single
 * React state update. Hidden tabs get no animation frames, so a timer backs the
 * frame up (browsers throttle it to ~1/s there); whichever fires first flushes.
 */

export interface Scheduler {
  requestFrame(cb: () => void): number;
  cancelFrame(handle: number): void;
  setTimer(cb: () => void, ms: number): number;
  clearTimer(handle: number): void;
}

export const browserScheduler: Scheduler = {
  requestFrame: (cb) =>
    typeof requestAnimationFrame === 'function'
      ? requestAnimationFrame(() => cb())
      : (setTimeout(cb, 16) as unknown as number),
  cancelFrame: (h) => {
    if (typeof cancelAnimationFrame === 'function') cancelAnimationFrame(h);
    else clearTimeout(h);
  },
  setTimer: (cb, ms) => setTimeout(cb, ms) as unknown as number,
  clearTimer: (h) => clearTimeout(h),
};

export interface Batcher<T> {
  /** Queue one item; the flush happens on the next frame (or the backup timer). */
  push(item: T): void;
  /** Deliver everything queued now (e.g. before closing a stream). */
  flush(): void;
  /** Drop the queue and cancel pending callbacks. */
  dispose(): void;
  /** Number of queued items (for tests and diagnostics). */
  readonly size: number;
}

export function createBatcher<T>(
  deliver: (items: T[]) => void,
  scheduler: Scheduler = browserScheduler,
  backupMs = 250,
): Batcher<T> {
  let queue: T[] = [];
  let frame: number | null = null;
  let timer: number | null = null;
  let disposed = false;

  const cancel = () => {
    if (frame !== null) scheduler.cancelFrame(frame);
    if (timer !== null) scheduler.clearTimer(timer);
    frame = null;
    timer = null;
  };

  const flush = () => {
    cancel();
    if (queue.length === 0 || disposed) return;
    const items = queue;
    queue = [];
    deliver(items);
  };

  return {
    push(item: T) {
      if (disposed) return;
      queue.push(item);
      if (frame === null) frame = scheduler.requestFrame(flush);
      if (timer === null) timer = scheduler.setTimer(flush, backupMs);
    },
    flush,
    dispose() {
      cancel();
      queue = [];
      disposed = true;
    },
    get size() {
      return queue.length;
    },
  };
}
