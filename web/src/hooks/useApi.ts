import { useCallback, useEffect, useState } from 'react';
import { apiFetch, isAbort, type Query } from '../api/client';

export interface ApiState<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/**
 * GET a JSON resource; refetches when `path`, `query` or `refreshKey` change
 * (`null` path = skip).
 */
export function useApi<T>(path: string | null, query: Query = {}, refreshKey: string = ''): ApiState<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(path !== null);
  const [nonce, setNonce] = useState(0);
  const queryKey = JSON.stringify(query);

  useEffect(() => {
    if (path === null) return;
    const ac = new AbortController();
    setLoading(true);
    apiFetch<T>(path, { query: JSON.parse(queryKey) as Query, signal: ac.signal })
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!isAbort(e)) setError(e);
      })
      .finally(() => {
        if (!ac.signal.aborted) setLoading(false);
      });
    return () => ac.abort();
  }, [path, queryKey, nonce, refreshKey]);

  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data, error, loading, reload };
}
