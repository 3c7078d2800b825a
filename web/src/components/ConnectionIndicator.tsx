import { useSyncExternalStore } from 'react';
import { getConnectionSummary, subscribeConnection, type ConnectionSummary } from '../api/connection';

const TEXT: Record<ConnectionSummary, string> = {
  idle: 'idle',
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  polling: 'polling',
  offline: 'offline',
};

const TITLE: Record<ConnectionSummary, string> = {
  idle: 'No live stream open',
  connecting: 'Opening the live event stream',
  live: 'Receiving live events from the server',
  reconnecting: 'Connection lost: the browser is reconnecting and will resume where it left off',
  polling: 'Live stream unavailable: refreshing every 2 seconds instead',
  offline: 'The server does not answer: retrying every 2 seconds',
};

export function ConnectionIndicator() {
  const state = useSyncExternalStore(subscribeConnection, getConnectionSummary);
  return (
    <div className={`conn conn-${state}`} role="status" aria-live="polite" title={TITLE[state]} data-connection={state}>
      <span className="conn-dot" aria-hidden="true" />
      <span>{TEXT[state]}</span>
    </div>
  );
}
