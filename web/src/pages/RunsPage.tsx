import { useMemo, useRef } from 'react';
import { useSearchParams } from 'react-router';
import { RUN_STATUSES, type PipelineListResponse, type RunRecord, type RunStatus } from '../api/types';
import { useApi } from '../hooks/useApi';
import { useLiveRuns } from '../hooks/useLiveRuns';
import { useNow } from '../hooks/useNow';
import { RecentRunsChart } from '../components/RecentRunsChart';
import { RunsTable, type Sorting } from '../components/RunsTable';
import { Empty, ErrorNote, Loading } from '../components/Feedback';
import { MAX_RUN_ROWS } from '../state/runsList';
import { dayBound, recentByPipeline, viewRuns, type RunsView, type SortKey } from '../state/runsView';

type ParamKey = 'pipeline' | 'status' | 'tag' | 'q' | 'from' | 'to' | 'sort' | 'dir';

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const pipeline = params.get('pipeline') ?? '';
  const statusParam = params.get('status') ?? '';
  const status = (RUN_STATUSES as readonly string[]).includes(statusParam) ? (statusParam as RunStatus) : '';
  const tag = params.get('tag') ?? '';
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const view: RunsView = {
    q: params.get('q') ?? '',
    from: dayBound(from, false),
    to: dayBound(to, true),
    sort: params.get('sort') === 'duration' ? 'duration' : 'started',
    dir: params.get('dir') === 'asc' ? 'asc' : 'desc',
  };
  const pipelines = useApi<PipelineListResponse>('pipelines');
  const { state, loading, loadingMore, error, loadMore } = useLiveRuns({ pipeline, status, tag });
  const knownTags = useKnownTags(state.items, tag);
  const anyRunning = state.items.some((r) => r.status === 'running');
  const now = useNow(anyRunning && view.sort === 'duration');
  const shown = useMemo(
    () => viewRuns(state.items, view, now),
    // `view` is rebuilt from the URL on every render: depend on its parts
    [state.items, view.q, view.from, view.to, view.sort, view.dir, now],
  );
  const recent = useMemo(() => recentByPipeline(state.items, 20), [state.items]);

  const setFilter = (changes: Partial<Record<ParamKey, string>>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setParams(next, { replace: true });
  };
  const sorting: Sorting = {
    key: view.sort,
    dir: view.dir,
    onSort: (key: SortKey) =>
      setFilter({ sort: key === 'started' ? '' : key, dir: view.sort === key && view.dir === 'desc' ? 'asc' : '' }),
  };
  const names = pipelines.data?.items.map((p) => p.name) ?? [];
  if (pipeline && !names.includes(pipeline)) names.unshift(pipeline);
  const filtered = !!(pipeline || status || tag || view.q || from || to);
  const onTag = (t: string) => setFilter({ tag: t === tag ? '' : t });

  return (
    <section aria-labelledby="runs-title">
      <div className="page-head">
        <h1 id="runs-title">Runs</h1>
        <form className="filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
          <label>
            Search
            <input
              type="search"
              value={view.q}
              placeholder="run id or pipeline"
              onChange={(e) => setFilter({ q: e.target.value })}
            />
          </label>
          <label>
            Pipeline
            <select value={pipeline} onChange={(e) => setFilter({ pipeline: e.target.value })}>
              <option value="">All pipelines</option>
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label>
            Status
            <select value={status} onChange={(e) => setFilter({ status: e.target.value })}>
              <option value="">Any status</option>
              {RUN_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Tag
            <select value={tag} onChange={(e) => setFilter({ tag: e.target.value })}>
              <option value="">Any tag</option>
              {knownTags.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label>
            From
            <input type="date" value={from} max={to || undefined} onChange={(e) => setFilter({ from: e.target.value })} />
          </label>
          <label>
            To
            <input type="date" value={to} min={from || undefined} onChange={(e) => setFilter({ to: e.target.value })} />
          </label>
        </form>
      </div>
      {tag && (
        <p className="active-filters">
          <span className="muted">Runs tagged</span>
          <span className="tag-chip" aria-hidden="true">
            {tag}
          </span>
          <button type="button" className="btn btn-ghost" onClick={() => setFilter({ tag: '' })}>
            Clear tag filter
          </button>
        </p>
      )}
      {recent.length > 0 && (
        <section className="card sparks" aria-label="Recent runs per pipeline">
          {recent.map((r) => (
            <RecentRunsChart key={r.pipeline} recent={r} />
          ))}
        </section>
      )}
      {error !== null && <ErrorNote error={error} title="Could not load runs" />}
      {loading && state.items.length === 0 ? (
        <Loading what="runs" />
      ) : shown.length === 0 ? (
        <Empty>{filtered ? 'No run matches these filters.' : 'No runs yet. Run a pipeline and it will appear here live.'}</Empty>
      ) : (
        <>
          <RunsTable runs={shown} caption="Runs" sorting={sorting} tag={tag} onTag={onTag} />
          <div className="list-footer">
            <span className="muted small">
              {shown.length} of {state.items.length} loaded run{state.items.length === 1 ? '' : 's'} shown
              {state.items.length >= MAX_RUN_ROWS ? ' (list capped)' : ''}
            </span>
            {state.nextCursor !== null && state.items.length < MAX_RUN_ROWS && (
              <button type="button" className="btn" onClick={loadMore} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : 'Load more'}
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}

/** Every tag seen on this page so far (the list may be filtered by one), sorted. */
function useKnownTags(items: readonly RunRecord[], current: string): string[] {
  const seen = useRef(new Set<string>());
  for (const run of items) for (const t of run.tags ?? []) seen.current.add(t);
  if (current) seen.current.add(current);
  return [...seen.current].sort();
}
