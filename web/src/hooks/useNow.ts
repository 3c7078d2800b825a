import { useSyncExternalStore } from 'react';

/**
 * A shared 1-second clock (seconds, like the API's timestamps). Only components that
 * show a running duration subscribe, so a 500-step DAG does not re-render every second.
 */
const listeners = new Set<() => void>();
let now = Date.now() / 1000;
let timer: ReturnType<typeof setInterval> | null = null;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (timer === null) {
    now = Date.now() / 1000;
    timer = setInterval(() => {
      now = Date.now() / 1000;
      listeners.forEach((l) => l());
    }, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  };
}

const noop = () => () => {};
function snapshot(): number {
  // not ticking yet (first render): a value stable within the current second
  if (timer === null) now = Math.floor(Date.now() / 1000);
  return now;
}

/** Current time in seconds, ticking each second while `active`. */
export function useNow(active = true): number {
  return useSyncExternalStore(active ? subscribe : noop, snapshot);
}
