/**
 * Connection registry: every live stream reports its state here, and the header's
 * indicator shows the worst one (offline > polling > reconnecting > connecting > live).
 */

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'offline' | 'closed';
export type ConnectionSummary = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'polling' | 'offline';

const states = new Map<string, ConnectionState>();
const listeners = new Set<() => void>();
let summary: ConnectionSummary = 'idle';

const RANK: Record<ConnectionSummary, number> = { idle: 0, live: 1, connecting: 2, reconnecting: 3, polling: 4, offline: 5 };

function recompute(): void {
  let next: ConnectionSummary = 'idle';
  for (const s of states.values()) {
    if (s === 'closed') continue;
    if (RANK[s] > RANK[next]) next = s;
  }
  if (next !== summary) {
    summary = next;
    listeners.forEach((l) => l());
  }
}

export function setConnection(name: string, state: ConnectionState): void {
  states.set(name, state);
  recompute();
}

export function clearConnection(name: string): void {
  states.delete(name);
  recompute();
}

export function getConnectionSummary(): ConnectionSummary {
  return summary;
}

export function subscribeConnection(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
