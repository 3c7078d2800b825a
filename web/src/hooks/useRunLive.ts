import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { apiFetch, isAbort, seg } from '../api/client';
import { LiveStream } from '../api/live';
import type { Dag, RunDetailResponse, StepPageResponse } from '../api/types';
import { preloadDagView } from '../components/LazyDagView';
import { dagFromSteps } from '../layout/dagFromSteps';
import {
  applyRunEvents,
  applyStepPage,
  isTerminalRun,
  runStateFromSnapshot,
  type RunViewState,
} from '../state/runReducer';

export interface RunLive {
  state: RunViewState | null;
  dag: Dag | null;
  /** the server runs this run and can cancel it */
  canCancel: boolean;
  /** later pages of steps are still loading */
  loadingSteps: boolean;
  /** call once the DAG is on screen: later pages of steps wait for it */
  onDrawn(): void;
  error: unknown;
}

const STEP_PAGE = 1000;

/**
 * One run, live: snapshot from `GET api/runs/{id}`, then its SSE stream (replayed from
 * the start, applied in frame batches through the pure reducer) until `run_finished`.
 * Falls back to polling the snapshot every 2 s when the stream is unavailable.
 */
export function useRunLive(runId: string): RunLive {
  const [state, setState] = useState<RunViewState | null>(null);
  const [snapshotDag, setSnapshotDag] = useState<Dag | null>(null);
  const [inferred, setInferred] = useState<RunDetailResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [canCancel, setCanCancel] = useState(false);
  const [loadingSteps, setLoadingSteps] = useState(false);
  const inferredOnce = useRef(false);
  const drawn = useRef<() => void>(() => undefined);

  useEffect(() => {
    void preloadDagView(); // in parallel with the run's data
    const ac = new AbortController();
    let stream: LiveStream | null = null;
    setState(null);
    setError(null);
    setSnapshotDag(null);
    setInferred(null);
    inferredOnce.current = false;
    const load = () => apiFetch<RunDetailResponse>(`runs/${seg(runId)}`, { signal: ac.signal });
    const takeSnapshot = (resp: RunDetailResponse) => {
      setState((prev) => runStateFromSnapshot(resp, prev ?? undefined));
      setCanCancel(resp.can_cancel);
      if (resp.dag) setSnapshotDag(resp.dag);
      else if (resp.dag_size === 0) setInferred(resp);
    };
    // ask for the DAG at once, beside the run: a big one is not inlined in the run's answer,
    // and waiting for that answer to learn so costs a round trip (unused for small runs).
    // The graph alone (ids, names, outputs) is a quarter of the whole DAG's bytes to fetch
    // and parse.
    const dagPath = `runs/${seg(runId)}/dag`;
    const dagQuery = { query: { graph: 'true' }, signal: ac.signal };
    const early = apiFetch<Dag>(dagPath, dagQuery).catch(() => null);
    let dagRequest: Promise<unknown> | null = null;
    const loadDag = (resp: RunDetailResponse): Promise<unknown> => {
      if (resp.dag || resp.dag_size === 0) return Promise.resolve();
      dagRequest ??= early
        .then((dag) => dag ?? apiFetch<Dag>(dagPath, dagQuery))
        .then(setSnapshotDag, (e: unknown) => {
          if (!isAbort(e)) setError(e);
        });
      return dagRequest;
    };
    // the first nodes on screen, or a few seconds (no DAG, or a failed one): then page on
    const drawnOrLate = new Promise<void>((resolve) => {
      drawn.current = resolve;
      setTimeout(resolve, 3000);
    });
    const nextFrames = () =>
      new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 0))));
    // big runs: the snapshot holds the first page of steps; the rest load page by page
    // (drawn as they come) while the stream already runs
    const loadPages = async (cursor: string, dagReady: Promise<unknown>) => {
      setLoadingSteps(true);
      let next: string | null = cursor;
      try {
        // draw the first nodes before asking for more: the pages compete for the network,
        // the server and the main thread with the DAG itself
        await Promise.all([preloadDagView(), dagReady]);
        await drawnOrLate;
        await nextFrames();
        while (next !== null && !ac.signal.aborted) {
          const page: StepPageResponse = await apiFetch<StepPageResponse>(`runs/${seg(runId)}/steps`, {
            query: { cursor: next, limit: STEP_PAGE },
            signal: ac.signal,
          });
          setState((s) => (s ? applyStepPage(s, page.items) : s));
          next = page.next_cursor;
        }
      } catch (e) {
        if (!isAbort(e)) setError(e);
      } finally {
        if (!ac.signal.aborted) setLoadingSteps(false);
      }
    };

    load()
      .then((resp) => {
        takeSnapshot(resp);
        const dagReady = loadDag(resp);
        if (resp.steps_next_cursor) void loadPages(resp.steps_next_cursor, dagReady);
        if (isTerminalRun(resp.run.status)) return;
        stream = new LiveStream({
          name: `run:${runId}`,
          path: `runs/${seg(runId)}/events`,
          endOnRunFinished: true,
          onEvents: (batch) => {
            setState((s) => (s ? applyRunEvents(s, batch) : s));
            // without a stored DAG the edges come from artifacts: refresh them once at the end
            if (!resp.dag && batch.some((b) => b.event.type === 'run_finished')) {
              load().then(takeSnapshot, () => undefined);
            }
          },
          poll: async () => {
            const fresh = await load();
            takeSnapshot(fresh);
            return isTerminalRun(fresh.run.status);
          },
        }).start();
      })
      .catch((e: unknown) => {
        if (!isAbort(e)) setError(e);
      });
    return () => {
      ac.abort();
      stream?.close();
    };
  }, [runId]);

  // an inferred DAG is computed from a snapshot only (never per event): the layout stays put
  const inferredDag = useMemo(
    () => (inferred ? dagFromSteps(inferred.run.pipeline, inferred.steps) : null),
    [inferred],
  );
  const onDrawn = useCallback(() => drawn.current(), []);
  return { state, dag: snapshotDag ?? inferredDag, canCancel, loadingSteps, onDrawn, error };
}
