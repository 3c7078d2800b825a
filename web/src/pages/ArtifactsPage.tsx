import { useEffect, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { apiFetch, isAbort, seg } from '../api/client';
import type { ArtifactListResponse, ArtifactRecord } from '../api/types';
import { Empty, ErrorNote, Loading } from '../components/Feedback';
import { formatBytes, formatIso, formatTime, shortId } from '../util/format';

const PAGE = 50;
const MAX_ROWS = 1000;

export function ArtifactsPage() {
  const [params, setParams] = useSearchParams();
  const name = params.get('name') ?? '';
  const runId = params.get('run_id') ?? '';
  const step = params.get('step') ?? '';
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

  const search = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const key of ['name', 'run_id', 'step']) {
      const v = String(form.get(key) ?? '').trim();
      if (v) next.set(key, v);
    }
    setParams(next);
  };

  return (
    <section aria-labelledby="artifacts-title">
      <div className="page-head">
        <h1 id="artifacts-title">Artifacts</h1>
        <form className="filters" role="search" aria-label="Search artifacts" onSubmit={search} key={`${name}|${runId}|${step}`}>
          <label>
            Name
            <input name="name" defaultValue={name} placeholder="e.g. model" />
          </label>
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
      ) : items.length === 0 ? (
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
                {items.map((a) => (
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
            <span className="muted small">{items.length} shown</span>
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
