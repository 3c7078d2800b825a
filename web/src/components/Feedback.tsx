import type { ReactNode } from 'react';
import { errorMessage } from '../api/client';

export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  return (
    <div className="error-note" role="alert">
      {title && <strong>{title}: </strong>}
      {errorMessage(error)}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
