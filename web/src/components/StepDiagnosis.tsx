import { Link } from 'react-router';
import { seg } from '../api/client';
import type { StepAttempt, StepDetailResponse } from '../api/types';
import type { StepView } from '../state/runReducer';
import { formatDuration, formatTime } from '../util/format';
import { errorText } from './RunHeader';
import { StatusBadge } from './StatusIcon';
import { Traceback } from './Traceback';

export type Attempt = StepAttempt;


export function attemptsOf(detail: StepDetailResponse | null): Attempt[] {
  return detail?.attempts ?? [];
}

export function skipReasonOf(step: StepView, detail: StepDetailResponse | null): string | null {
  if (step.reason) return step.reason;
  if (detail?.skip_reason) return detail.skip_reason;
  return step.status === 'skipped' ? step.error : null; // stores keep the reason as the error
}

/** "upstream step 'extract' failed" -> the step it names, to link to. */
export function upstreamOf(reason: string): string | null {
  const m = /step ['"]([^'"]+)['"]/.exec(reason);
  return m ? (m[1] as string) : null;
}

function StepLink({ step }: { step: string }) {
  return (
    <Link to={{ search: `?step=${encodeURIComponent(step)}` }} className="mono">
      {step}
    </Link>
  );
}

/** Why a step was skipped (a neutral note, not an error), linking to the step it names. */
export function SkipNote({ reason }: { reason: string | null }) {
  const upstream = reason ? upstreamOf(reason) : null;
  return (
    <p className="note note-neutral" data-skip-reason={reason ?? ''}>
      <strong>Skipped</strong>
      {upstream && reason ? (
        <>
          : {reason.slice(0, reason.indexOf(upstream) - 1)}
          <StepLink step={upstream} />
          {reason.slice(reason.indexOf(upstream) + upstream.length + 1)}
        </>
      ) : reason ? (
        `: ${reason}`
      ) : (
        ' (no reason recorded).'
      )}
    </p>
  );
}

/** A cached step: where its outputs came from, not "0 ms, 0 attempts". */
export function CacheNote({ source }: { source: string | null }) {
  return (
    <p className="note note-cached">
      <strong>From cache</strong>
      {source ? (
        <>
          : outputs reused from run{' '}
          <Link to={`/runs/${seg(source)}`} className="mono">
            {source}
          </Link>
        </>
      ) : (
        ': outputs reused from an earlier run.'
      )}
    </p>
  );
}

function ErrorLine({ error, type }: { error: string | null; type: string | null }) {
  return (
    <div className="error-box">
      {type && <strong>{type}: </strong>}
      {errorText({ error, error_type: type })}
    </div>
  );
}

/** Every attempt, oldest first; each failed one keeps its error and traceback. */
export function Attempts({ attempts, step }: { attempts: Attempt[]; step: StepView }) {
  if (attempts.length === 0) {
    // a skipped step's "error" is its reason, shown by SkipNote
    if ((!step.error && !step.traceback) || step.status === 'skipped') return null;
    return (
      <section className="panel-section" aria-label="Error">
        <h3>{step.status === 'retrying' ? 'Last error' : 'Error'}</h3>
        <ErrorLine error={step.error} type={step.error_type} />
        {step.traceback && <Traceback text={step.traceback} />}
      </section>
    );
  }
  return (
    <section className="panel-section" aria-labelledby="attempts-title">
      <h3 id="attempts-title">Attempts ({attempts.length})</h3>
      <ol className="attempts">
        {attempts.map((a) => (
          <li key={a.attempt} className="attempt" data-attempt={a.attempt} data-status={a.status}>
            <div className="attempt-head">
              <span>Attempt {a.attempt}</span> <StatusBadge status={a.status} />{' '}
              <span className="muted small">
                {formatTime(a.started_at)} · {formatDuration(a.duration)}
              </span>
            </div>
            {a.error && <ErrorLine error={a.error} type={a.error_type} />}
            {a.traceback && (
              <details open={a.attempt === attempts[attempts.length - 1]?.attempt}>
                <summary>Traceback of attempt {a.attempt}</summary>
                <Traceback text={a.traceback} />
              </details>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
