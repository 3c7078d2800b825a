import { Link } from 'react-router';
import { seg } from '../api/client';
import type { PipelineListResponse } from '../api/types';
import { Empty, ErrorNote, Loading } from '../components/Feedback';
import { StatusBadge } from '../components/StatusIcon';
import { useApi } from '../hooks/useApi';
import { formatIso, formatTime, shortId } from '../util/format';

export function PipelinesPage() {
  const { data, error, loading } = useApi<PipelineListResponse>('pipelines');
  return (
    <section aria-labelledby="pipelines-title">
      <div className="page-head">
        <h1 id="pipelines-title">Pipelines</h1>
      </div>
      {error !== null && <ErrorNote error={error} title="Could not load pipelines" />}
      {loading && !data ? (
        <Loading what="pipelines" />
      ) : data && data.items.length === 0 ? (
        <Empty>No pipelines yet. A pipeline appears here after its first run.</Empty>
      ) : (
        data && (
          <div className="table-scroll">
            <table className="data-table">
              <caption className="sr-only">Pipelines</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Code version</th>
                  <th scope="col">Updated</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Can run here</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((p) => (
                  <tr key={p.name}>
                    <td>
                      <Link to={`/pipelines/${seg(p.name)}`}>{p.name}</Link>
                    </td>
                    <td className="mono">{shortId(p.code_version, 12)}</td>
                    <td>
                      <time dateTime={formatIso(p.updated_at)}>{formatTime(p.updated_at)}</time>
                    </td>
                    <td>
                      {p.last_run ? (
                        <Link to={`/runs/${seg(p.last_run.run_id)}`} className="inline-flex">
                          <StatusBadge status={p.last_run.status} /> <span className="small muted">{formatTime(p.last_run.started_at)}</span>
                        </Link>
                      ) : (
                        <span className="muted">never</span>
                      )}
                    </td>
                    <td>{p.registered ? 'yes' : <span className="muted">no</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
    </section>
  );
}
