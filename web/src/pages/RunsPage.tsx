import { useSearchParams } from 'react-router';
import { RUN_STATUSES, type PipelineListResponse, type RunStatus } from '../api/types';
import { useApi } from '../hooks/useApi';
import { useLiveRuns } from '../hooks/useLiveRuns';
import { RunsTable } from '../components/RunsTable';
import { Empty, ErrorNote, Loading } from '../components/Feedback';
import { MAX_RUN_ROWS } from '../state/runsList';

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const pipeline = params.get('pipeline') ?? '';
  const statusParam = params.get('status') ?? '';
  const status = (RUN_STATUSES as readonly string[]).includes(statusParam) ? (statusParam as RunStatus) : '';
  const pipelines = useApi<PipelineListResponse>('pipelines');
  const { state, loading, loadingMore, error, loadMore } = useLiveRuns({ pipeline, status });

  const setFilter = (key: 'pipeline' | 'status', value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  const names = pipelines.data?.items.map((p) => p.name) ?? [];
  if (pipeline && !names.includes(pipeline)) names.unshift(pipeline);

  return (
    <section aria-labelledby="runs-title">
      <div className="page-head">
        <h1 id="runs-title">Runs</h1>
        <form className="filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
          <label>
            Pipeline
            <select value={pipeline} onChange={(e) => setFilter('pipeline', e.target.value)}>
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
            <select value={status} onChange={(e) => setFilter('status', e.target.value)}>
              <option value="">Any status</option>
              {RUN_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        </form>
      </div>
      {error !== null && <ErrorNote error={error} title="Could not load runs" />}
      {loading && state.items.length === 0 ? (
        <Loading what="runs" />
      ) : state.items.length === 0 ? (
        <Empty>
          {pipeline || status ? 'No run matches these filters.' : 'No runs yet. Run a pipeline and it will appear here live.'}
        </Empty>
      ) : (
        <>
          <RunsTable runs={state.items} caption="Runs, newest first" />
          <div className="list-footer">
            <span className="muted small">
              {state.items.length} run{state.items.length === 1 ? '' : 's'} shown
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
