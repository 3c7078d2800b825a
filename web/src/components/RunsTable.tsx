import { memo } from 'react';
import { Link } from 'react-router';
import { seg } from '../api/client';
import type { RunRecord } from '../api/types';
import { formatIso, formatTime, shortId } from '../util/format';
import { Elapsed } from './Elapsed';
import { StatusBadge } from './StatusIcon';

export function RunsTable({ runs, showPipeline = true, caption }: { runs: readonly RunRecord[]; showPipeline?: boolean; caption: string }) {
  return (
    <div className="table-scroll">
      <table className="data-table runs-table">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            {showPipeline && <th scope="col">Pipeline</th>}
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col" className="num">
              Duration
            </th>
            <th scope="col">Steps</th>
            <th scope="col" className="num">
              Cached
            </th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <RunRow key={r.run_id} run={r} showPipeline={showPipeline} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

const RunRow = memo(function RunRow({ run, showPipeline }: { run: RunRecord; showPipeline: boolean }) {
  const pct = run.steps_total > 0 ? Math.round((run.steps_done / run.steps_total) * 100) : 0;
  return (
    <tr data-run={run.run_id} data-status={run.status}>
      <td>
        <Link to={`/runs/${seg(run.run_id)}`} className="mono" title={run.run_id}>
          {shortId(run.run_id)}
        </Link>
      </td>
      {showPipeline && (
        <td>
          <Link to={`/pipelines/${seg(run.pipeline)}`}>{run.pipeline}</Link>
        </td>
      )}
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td>
        <time dateTime={formatIso(run.started_at)}>{formatTime(run.started_at)}</time>
      </td>
      <td className="num">
        <Elapsed start={run.started_at} end={run.finished_at} duration={run.duration} running={run.status === 'running'} />
      </td>
      <td>
        <div className="steps-cell">
          <span className="steps-count">
            {run.steps_done}/{run.steps_total}
          </span>
          <span className="progress" aria-hidden="true">
            <span className={`progress-bar bar-${run.status}`} style={{ width: `${pct}%` }} />
          </span>
          {run.steps_failed > 0 && <span className="failed-count">{run.steps_failed} failed</span>}
        </div>
      </td>
      <td className="num">{run.steps_cached}</td>
    </tr>
  );
});
