import { useState } from 'react';
import { Link } from 'react-router';
import { apiFetch, errorMessage, seg } from '../api/client';
import type { CancelRunResponse, RunRecord } from '../api/types';
import { formatIso, formatTime, inlineJson } from '../util/format';
import { Elapsed } from './Elapsed';
import { StatusBadge } from './StatusIcon';

export function RunHeader({ run }: { run: RunRecord }) {
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState<string | null>(null);
  const running = run.status === 'running';
  const params = Object.entries(run.params ?? {});

  const cancel = async () => {
    setCancelling(true);
    setCancelError(null);
    try {
      await apiFetch<CancelRunResponse>(`runs/${seg(run.run_id)}/cancel`, { method: 'POST' });
    } catch (e) {
      setCancelError(errorMessage(e));
      setCancelling(false);
    }
  };

  return (
    <header className="run-header">
      <div className="run-title-row">
        <div>
          <p className="eyebrow">
            <Link to="/">Runs</Link> / <span className="mono">{run.run_id}</span>
          </p>
          <h1>
            <Link to={`/pipelines/${seg(run.pipeline)}`}>{run.pipeline}</Link> <StatusBadge status={run.status} />
          </h1>
        </div>
        {running && (
          <div className="run-actions">
            <button type="button" className="btn btn-danger" onClick={() => void cancel()} disabled={cancelling}>
              {cancelling ? 'Cancelling…' : 'Cancel run'}
            </button>
          </div>
        )}
      </div>
      {cancelError && (
        <div className="error-note" role="alert">
          Cancel failed: {cancelError}
        </div>
      )}
      <dl className="run-facts">
        <div>
          <dt>Started</dt>
          <dd>
            <time dateTime={formatIso(run.started_at)}>{formatTime(run.started_at)}</time>
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>
            <Elapsed start={run.started_at} end={run.finished_at} duration={run.duration} running={running} />
          </dd>
        </div>
        <div>
          <dt>Steps</dt>
          <dd>
            {run.steps_done}/{run.steps_total} done
            {run.steps_cached > 0 && ` · ${run.steps_cached} cached`}
            {run.steps_failed > 0 && <span className="failed-count"> · {run.steps_failed} failed</span>}
          </dd>
        </div>
        <div>
          <dt>Host</dt>
          <dd className="mono">
            {run.host || '—'}
            {run.pid ? ` · pid ${run.pid}` : ''}
          </dd>
        </div>
        {run.resumed_from && (
          <div>
            <dt>Resumed from</dt>
            <dd>
              <Link to={`/runs/${seg(run.resumed_from)}`} className="mono">
                {run.resumed_from}
              </Link>
            </dd>
          </div>
        )}
      </dl>
      {params.length > 0 && (
        <div className="params">
          <span className="params-label">Params</span>
          <ul className="chips" aria-label="Run parameters">
            {params.map(([k, v]) => (
              <li key={k} className="chip" title={JSON.stringify(v)}>
                <span className="chip-key">{k}</span>=<span className="mono">{inlineJson(v)}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
      {run.error && (
        <div className="error-box" role="alert">
          {run.error}
        </div>
      )}
    </header>
  );
}
