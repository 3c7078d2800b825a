import { useEffect, useRef } from 'react';
import { Link } from 'react-router';
import { seg } from '../api/client';
import type { StepDetailResponse } from '../api/types';
import { useApi } from '../hooks/useApi';
import type { StepView } from '../state/runReducer';
import { formatIso, formatTime } from '../util/format';
import { Elapsed } from './Elapsed';
import { ArtifactCard } from './ArtifactPreview';
import { ErrorNote } from './Feedback';
import { parseElement } from '../state/mapElements';
import { MapElements } from './MapElements';
import { StatusBadge } from './StatusIcon';
import { Attempts, attemptsOf, CacheNote, SkipNote, skipReasonOf } from './StepDiagnosis';
import { StepLogsLive } from './StepLogsLive';

interface Props {
  runId: string;
  step: StepView;
  /** the run's step names and states (a mapped step lists its elements) */
  order: readonly string[];
  steps: Readonly<Record<string, StepView>>;
  onClose(): void;
}

/**
 * Side panel for one step: state, timings, cache key, error and traceback, and the
 * input/output artifacts with previews. Escape closes it; focus goes back to where it was.
 */
export function StepPanel({ runId, step, order, steps, onClose }: Props) {
  const closeRef = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef<Element | null>(null);
  // refetch when the step's state moves on (new attempt, outputs stored, ...)
  const detail = useApi<StepDetailResponse>(
    `runs/${seg(runId)}/steps/${seg(step.step)}`,
    {},
    `${step.status}:${step.attempts}`,
  );

  useEffect(() => {
    returnFocus.current = document.activeElement;
    closeRef.current?.focus();
    return () => {
      const el = returnFocus.current;
      if (el instanceof HTMLElement && el.isConnected) el.focus();
    };
  }, [step.step]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose]);

  const running = step.status === 'running' || step.status === 'retrying';
  const inputs = detail.data?.inputs ?? [];
  const outputs = detail.data?.outputs ?? [];
  const paramOf = (id: string, map: Record<string, string>) => Object.entries(map).find(([, v]) => v === id)?.[0];
  const cached = step.status === 'cached';
  const cachedFrom = step.cached_from ?? detail.data?.cached_from ?? detail.data?.step.cached_from ?? null;
  const attempts = attemptsOf(detail.data);
  const element = parseElement(step.step);

  return (
    <aside className="panel" aria-labelledby="step-panel-title" data-panel-step={step.step}>
      <header className="panel-header">
        <h2 id="step-panel-title" className="panel-title" title={step.step}>
          {step.step}
        </h2>
        <button ref={closeRef} type="button" className="btn btn-ghost" onClick={onClose} aria-label="Close step details (Escape)">
          ✕
        </button>
      </header>
      <div className="panel-body">
        <dl className="facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={step.status} />
            {step.status === 'retrying' && step.retry_delay !== null && (
              <span className="muted small"> next try in {step.retry_delay}s</span>
            )}
          </dd>
          {!cached && (
            <>
              <dt>Attempts</dt>
              <dd>{step.attempts}</dd>
            </>
          )}
          <dt>Started</dt>
          <dd>
            <time dateTime={formatIso(step.started_at)}>{formatTime(step.started_at)}</time>
          </dd>
          <dt>Finished</dt>
          <dd>
            <time dateTime={formatIso(step.finished_at)}>{formatTime(step.finished_at)}</time>
          </dd>
          <dt>Duration</dt>
          <dd>
            {cached ? 'from cache' : <Elapsed start={step.started_at} end={step.finished_at} duration={step.duration} running={running} />}
          </dd>
          <dt>Cache key</dt>
          <dd className="mono break">{step.cache_key ?? '—'}</dd>
        </dl>

        {cached && <CacheNote source={cachedFrom} />}
        {step.status === 'skipped' && <SkipNote reason={skipReasonOf(step, detail.data)} />}
        <Attempts attempts={attempts} step={step} />
        <MapElements parent={step.step} order={order} steps={steps} />

        {detail.error !== null && <ErrorNote error={detail.error} title="Step details" />}

        <section className="panel-section">
          <h3>Inputs</h3>
          {element && <ElementInput element={element} parent={steps[element.parent] ?? null} />}
          {inputs.length === 0 ? (
            !element && <p className="muted small">{detail.loading ? 'Loading…' : 'No input artifacts.'}</p>
          ) : (
            inputs.map((a) => (
              <ArtifactCard key={a.id} artifact={a} label={paramOf(a.id, step.inputs) ?? a.name} open={inputs.length <= 2} />
            ))
          )}
        </section>
        <section className="panel-section">
          <h3>Outputs</h3>
          {outputs.length === 0 ? (
            <p className="muted small">{detail.loading ? 'Loading…' : 'No output artifacts.'}</p>
          ) : (
            outputs.map((a) => <ArtifactCard key={a.id} artifact={a} open={outputs.length <= 2} />)
          )}
        </section>
        <StepLogsLive runId={runId} step={step.step} running={['pending', 'running', 'retrying'].includes(step.status)} />
      </div>
    </aside>
  );
}

/** A map element's input: item `index` of the list its mapped step received (a fixed input is passed whole). */
function ElementInput({ element, parent }: { element: { parent: string; index: number }; parent: StepView | null }) {
  const lists = Object.entries(parent?.inputs ?? {});
  if (lists.length === 0) {
    return <p className="muted small">Element {element.index} of the list mapped by {element.parent}.</p>;
  }
  return (
    <ul className="link-list">
      {lists.map(([name, id]) => (
        <li key={name}>
          item <span className="mono">[{element.index}]</span> of{' '}
          <Link to={`/artifacts/${seg(id)}`} className="mono">
            {name}
          </Link>
          , an input of <span className="mono">{element.parent}</span>
        </li>
      ))}
    </ul>
  );
}
