import { Link } from 'react-router';
import { seg } from '../api/client';
import type { RunRecord } from '../api/types';
import type { StepCounts } from '../state/mapElements';
import type { StepView } from '../state/runReducer';
import { formatIso, formatTime, inlineJson } from '../util/format';
import { Elapsed } from './Elapsed';
import { RunActions } from './RunActions';
import { StatusBadge } from './StatusIcon';
import { TagChips } from './TagChips';

interface Props {
  run: RunRecord;
  counts: StepCounts;
  /** the first failed step of a failed run (for the banner) */
  failed: StepView | null;
  canCancel: boolean;
}

/** "Type: message" -> the message alone when the type is given apart. */
export function errorText(step: Pick<StepView, 'error' | 'error_type'>): string {
  const { error, error_type: type } = step;
  if (!error) return '';
  return type && error.startsWith(`${type}: `) ? error.slice(type.length + 2) : error;
}

function FailureBanner({ run, failed }: { run: RunRecord; failed: StepView | null }) {
  if (run.status !== 'failed' && !(failed && run.status !== 'running')) return null;
  return (
    <div className="failure-banner" role="alert">
      {failed ? (
        <>
          <span>
            Step{' '}
            <Link to={{ search: `?step=${encodeURIComponent(failed.step)}` }} className="mono">
              {failed.step}
            </Link>{' '}
            failed:{' '}
          </span>
          {failed.error_type && <strong className="mono">{failed.error_type}</strong>}
          {failed.error_type && ': '}
          <span className="failure-message">{errorText(failed) || 'no message'}</span>
        </>
      ) : (
        <span>{run.error ?? 'The run failed.'}</span>
      )}
    </div>
  );
}

export function RunHeader({ run, counts, failed, canCancel }: Props) {
  const running = run.status === 'running';
  const params = Object.entries(run.params ?? {});

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
        <RunActions run={run} canCancel={canCancel} />
      </div>
      <FailureBanner run={run} failed={failed} />
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
            {counts.done}/{counts.total} done
            {counts.cached > 0 && ` · ${counts.cached} cached`}
            {counts.failed > 0 && <span className="failed-count"> · {counts.failed} failed</span>}
            {counts.elementsTotal > 0 && (
              <span className="muted">
                {' '}
                · {counts.elementsDone}/{counts.elementsTotal} map elements
              </span>
            )}
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
      {(run.tags ?? []).length > 0 && (
        <div className="params">
          <span className="params-label">Tags</span>
          <TagChips tags={run.tags} />
        </div>
      )}
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
      {run.error && !failed && run.status !== 'failed' && (
        <div className="error-box" role="alert">
          {run.error}
        </div>
      )}
    </header>
  );
}
