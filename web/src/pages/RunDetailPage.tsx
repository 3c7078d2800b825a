import { useCallback, useMemo } from 'react';
import { useParams, useSearchParams } from 'react-router';
import { ApiError } from '../api/client';
import { DagView } from '../components/LazyDagView';
import { ErrorNote, Loading } from '../components/Feedback';
import { RunHeader } from '../components/RunHeader';
import { StepPanel } from '../components/StepPanel';
import { Timeline } from '../components/Timeline';
import { useRunLive } from '../hooks/useRunLive';
import { countSteps, parseElement, summarizeElements } from '../state/mapElements';
import type { RunViewState, StepView } from '../state/runReducer';

const NO_STEPS: RunViewState['order'] = [];

/** The step to name in a failed run's banner: a failed step (a node before an element). */
function firstFailed(state: RunViewState | null): StepView | null {
  if (!state) return null;
  let element: StepView | null = null;
  for (const name of state.order) {
    const s = state.steps[name];
    if (s?.status !== 'failed') continue;
    if (!parseElement(name)) return s;
    element ??= s;
  }
  return element;
}

export function RunDetailPage() {
  const { runId = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const selected = params.get('step');
  const { state, dag, canCancel, loadingSteps, onDrawn, error } = useRunLive(runId);

  const select = useCallback(
    (step: string | null) => {
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          if (step) next.set('step', step);
          else next.delete('step');
          return next;
        },
        { replace: true },
      );
    },
    [setParams],
  );
  const onSelect = useCallback((step: string) => select(step), [select]);
  const onClose = useCallback(() => select(null), [select]);
  const order = state?.order ?? NO_STEPS;
  const stepMap = state?.steps;
  const elements = useMemo(() => summarizeElements(order, stepMap ?? {}), [order, stepMap]);
  const counts = useMemo(() => countSteps(order, stepMap ?? {}), [order, stepMap]);
  const failed = useMemo(() => firstFailed(state), [state]);

  if (error !== null) {
    const notFound = error instanceof ApiError && error.status === 404;
    return <ErrorNote error={error} title={notFound ? 'Run not found' : 'Could not load the run'} />;
  }
  if (!state) return <Loading what="run" />;
  const selectedStep = selected ? state.steps[selected] : undefined;

  return (
    <div className={`run-page${selectedStep ? ' with-panel' : ''}`}>
      <div className="run-main">
        <RunHeader run={state.run} counts={counts} failed={failed} canCancel={canCancel} />
        <section aria-labelledby="dag-title" className="card">
          <div className="card-head">
            <h2 id="dag-title">Graph</h2>
            {loadingSteps && (
              <span className="muted small" role="status">
                Loading steps… {state.order.length} so far
              </span>
            )}
            <span className="muted small">Click a step, or focus it and press Enter, for its details.</span>
          </div>
          {dag && dag.nodes.length > 0 ? (
            <DagView
              dag={dag}
              steps={state.steps}
              elements={elements}
              selected={selected}
              onSelect={onSelect}
              onReady={onDrawn}
              label={`DAG of run ${runId}`}
            />
          ) : (
            <p className="muted">This run has no steps.</p>
          )}
        </section>
        <section aria-labelledby="timeline-title" className="card">
          <div className="card-head">
            <h2 id="timeline-title">Timeline</h2>
          </div>
          <Timeline run={state.run} order={state.order} steps={state.steps} onSelect={onSelect} />
        </section>
      </div>
      {selectedStep && (
        <StepPanel
          key={selectedStep.step}
          runId={runId}
          step={selectedStep}
          order={state.order}
          steps={state.steps}
          onClose={onClose}
        />
      )}
    </div>
  );
}
