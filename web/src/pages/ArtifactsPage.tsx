import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { apiFetch, isAbort, seg } from '../api/client';
import type { ArtifactListResponse, ArtifactRecord, PipelineListResponse, RunListResponse } from '../api/types';
import { useApi } from '../hooks/useApi';
import { Empty, ErrorNote, Loading } from '../components/Feedback';
import { formatBytes, formatIso, formatTime, shortId } from '../util/format';

const PAGE = 200;
const MAX_ROWS = 1000;

export function ArtifactsPage() {
  const [params, setParams] = useSearchParams();
  const name = params.get('name') ?? '';
  const runId = params.get('run_id') ?? '';
  const step = params.get('step') ?? '';
  const q = params.get('q') ?? '';
  const type = params.get('type') ?? '';
  const pipeline = params.get('pipeline') ?? '';
  const pipelines = useApi<PipelineListResponse>('pipelines');
  // artifacts know their run, not their pipeline: the pipeline filter goes through its runs
  const runsOf = useApi<RunListResponse>(pipeline ? 'runs' : null, { pipeline, limit: 500 });
  const [items, setItems] = useState<ArtifactRecord[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [offset, setOffset] = useState(0);

  useEffect(() => {
    setOffset(0);
  }, [name, runId, step]);

  useEffect(() => {
    const ac = new AbortController();
    setLoading(true);
    apiFetch<ArtifactListResponse>('artifacts', { query: { name, run_id: runId, step, limit: PAGE, offset }, signal: ac.signal })
      .then((page) => {
        setItems((prev) => (offset === 0 ? page.items : [...prev, ...page.items]).slice(0, MAX_ROWS));
        setHasMore(page.items.length === PAGE);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!isAbort(e)) setError(e);
      })
      .finally(() => {
        if (!ac.signal.aborted) setLoading(false);
      });
    return () => ac.abort();
  }, [name, runId, step, offset]);

  const types = useMemo(() => [...new Set(items.map((a) => a.type_name))].sort(), [items]);
  const shown = useMemo(() => {
    const needle = q.trim().toLowerCase();
    const runIds = pipeline && runsOf.data ? new Set(runsOf.data.items.map((r) => r.run_id)) : null;
    return items.filter(
      (a) =>
        (!needle || [a.name, a.step, a.type_name, a.run_id].some((v) => v.toLowerCase().includes(needle))) &&
        (!type || a.type_name === type) &&
        (!runIds || runIds.has(a.run_id)),
    );
  }, [items, q, type, pipeline, runsOf.data]);

  const search = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const key of ['q', 'type', 'pipeline', 'name', 'run_id', 'step']) {
      const v = String(form.get(key) ?? '').trim();
      if (v) next.set(key, v);
    }
    setParams(next);
  };

  return (
    <section aria-labelledby="artifacts-title">
      <div className="page-head">
        <h1 id="artifacts-title">Artifacts</h1>
        <form className="filters" role="search" aria-label="Search artifacts" onSubmit={search} key={`${q}|${type}|${pipeline}|${name}|${runId}|${step}|${types.length}|${pipelines.data ? 1 : 0}`}>
          <label>
            Search
            <input name="q" type="search" defaultValue={q} placeholder="part of a name, step, type or run" />
          </label>
          <label>
            Type
            <select name="type" defaultValue={type}>
              <option value="">Any type</option>
              {(type && !types.includes(type) ? [type, ...types] : types).map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label>
            Pipeline
            <select name="pipeline" defaultValue={pipeline}>
              <option value="">All pipelines</option>
              {(pipelines.data?.items ?? []).map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
          {name && <input type="hidden" name="name" value={name} />}
          <label>
            Run id
            <input name="run_id" defaultValue={runId} className="mono" />
          </label>
          <label>
            Step
            <input name="step" defaultValue={step} />
          </label>
          <button type="submit" className="btn">
            Search
          </button>
        </form>
      </div>
      {error !== null && <ErrorNote error={error} title="Could not load artifacts" />}
      {loading && items.length === 0 ? (
        <Loading what="artifacts" />
      ) : shown.length === 0 ? (
        <Empty>No artifact matches.</Empty>
      ) : (
        <>
          <div className="table-scroll">
            <table className="data-table">
              <caption className="sr-only">Artifacts</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Step</th>
                  <th scope="col">Run</th>
                  <th scope="col" className="num">
                    Size
                  </th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <Link to={`/artifacts/${seg(a.id)}`}>{a.name}</Link>
                    </td>
                    <td className="mono small">{a.type_name}</td>
                    <td>
                      <Link to={`/runs/${seg(a.run_id)}?step=${encodeURIComponent(a.step)}`}>{a.step}</Link>
                    </td>
                    <td>
                      <Link to={`/runs/${seg(a.run_id)}`} className="mono" title={a.run_id}>
                        {shortId(a.run_id)}
                      </Link>
                    </td>
                    <td className="num">{formatBytes(a.size)}</td>
                    <td>
                      <time dateTime={formatIso(a.created_at)}>{formatTime(a.created_at)}</time>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="list-footer">
            <span className="muted small">
              {shown.length} of {items.length} loaded shown
            </span>
            {hasMore && items.length < MAX_ROWS && (
              <button type="button" className="btn" disabled={loading} onClick={() => setOffset(items.length)}>
                {loading ? 'Loading…' : 'Load more'}
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}
