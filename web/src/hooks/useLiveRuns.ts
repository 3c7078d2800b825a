import { useCallback, useEffect, useRef, useState } from 'react';
import { apiFetch, isAbort, seg } from '../api/client';
import { subscribeGlobalEvents } from '../api/globalEvents';
import type { RunDetailResponse, RunListResponse } from '../api/types';
import {
  applyRunListEvents,
  emptyRunList,
  mergeRunPage,
  upsertRuns,
  type RunListState,
  type RunsFilter,
} from '../state/runsList';

export interface LiveRuns {
  state: RunListState;
  loading: boolean;
  loadingMore: boolean;
  error: unknown;
  loadMore(): void;
}

const MAX_RECONCILE = 20;

/** A filtered list of runs from `GET api/runs`, kept live from the global event stream. */
export function useLiveRuns(filter: RunsFilter, pageSize = 50): LiveRuns {
  const [state, setState] = useState<RunListState>(emptyRunList);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  const itemsRef = useRef(state.items);
  itemsRef.current = state.items;
  const query = { pipeline: filter.pipeline, status: filter.status, tag: filter.tag, limit: pageSize };
  const queryKey = JSON.stringify(query);

  useEffect(() => {
    const ac = new AbortController();
    const q = JSON.parse(queryKey) as typeof query;
    setLoading(true);
    setState(emptyRunList);
    const fetchFirst = () => apiFetch<RunListResponse>('runs', { query: q, signal: ac.signal });
    fetchFirst()
      .then((page) => {
        setState((s) => mergeRunPage(s, page, false));
        setError(null);
      })
      .catch((e: unknown) => {
        if (!isAbort(e)) setError(e);
      })
      .finally(() => {
        if (!ac.signal.aborted) setLoading(false);
      });

    // counters from events are approximate (the stream starts live, after the page was
    // fetched): refetch the rows of runs that just finished
    const reconcile = (runIds: string[]) => {
      const listed = new Set(itemsRef.current.map((r) => r.run_id));
      for (const id of runIds.filter((r) => listed.has(r)).slice(0, MAX_RECONCILE)) {
        apiFetch<RunDetailResponse>(`runs/${seg(id)}`, { signal: ac.signal })
          .then((d) => setState((s) => upsertRuns(s, [d.run], filterRef.current)))
          .catch(() => undefined);
      }
    };
    const unsubscribe = subscribeGlobalEvents({
      onEvents: (batch) => {
        setState((s) => applyRunListEvents(s, batch, filterRef.current));
        const finished = batch.filter((b) => b.event.type === 'run_finished').map((b) => b.event.run_id);
        if (finished.length > 0) reconcile(finished);
      },
      refresh: () => {
        fetchFirst()
          .then((page) => setState((s) => upsertRuns(s, page.items, filterRef.current)))
          .catch(() => undefined);
      },
    });
    return () => {
      ac.abort();
      unsubscribe();
    };
  }, [queryKey]);

  const cursor = state.nextCursor;
  const loadMore = useCallback(() => {
    if (cursor === null) return;
    setLoadingMore(true);
    apiFetch<RunListResponse>('runs', { query: { ...(JSON.parse(queryKey) as object), cursor } })
      .then((page) => setState((s) => mergeRunPage(s, page, true)))
      .catch((e: unknown) => setError(e))
      .finally(() => setLoadingMore(false));
  }, [cursor, queryKey]);

  return { state, loading, loadingMore, error, loadMore };
}
