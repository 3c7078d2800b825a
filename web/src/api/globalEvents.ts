/**
 * The app-wide stream of all runs' events (`api/events`), shared by every page that
 * lists runs. Opened once for the tab; subscribers get batched events, and a
 * `refresh` call every poll interval while the stream is down.
 */

import type { StreamEvent } from './types';
import { apiFetch } from './client';
import { LiveStream } from './live';

export interface GlobalListener {
  onEvents(batch: StreamEvent[]): void;
  /** called every poll interval while in polling fallback: refetch what you show */
  refresh?(): void;
}

const listeners = new Set<GlobalListener>();
let stream: LiveStream | null = null;

export function startGlobalEvents(): () => void {
  if (!stream) {
    stream = new LiveStream({
      name: 'global',
      path: 'events',
      onEvents: (batch) => listeners.forEach((l) => l.onEvents(batch)),
      // the probe that tells "offline" from "polling": it throws while the server is down
      poll: async () => {
        await apiFetch('health');
        listeners.forEach((l) => l.refresh?.());
      },
    }).start();
  }
  return () => {
    stream?.close();
    stream = null;
  };
}

export function subscribeGlobalEvents(listener: GlobalListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
