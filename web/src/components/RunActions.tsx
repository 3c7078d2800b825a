import { useEffect, useId, useState } from 'react';
import { useNavigate } from 'react-router';
import { apiFetch, errorMessage, seg } from '../api/client';
import type { CancelRunResponse, PipelineListResponse, RunRecord, TriggerRunResponse } from '../api/types';
import { useApi } from '../hooks/useApi';
import { runActionStates } from '../state/runActions';

/**
 * Resume / Run again / Cancel for one run. Every action goes through the API; a
 * disabled button says why next to it. A failed cancel's message clears once the
 * run has ended.
 */
export function RunActions({ run, canCancel }: { run: RunRecord; canCancel: boolean }) {
  const navigate = useNavigate();
  // the list, not the pipeline's detail: that one carries the whole DAG (10,000 steps...)
  const pipelines = useApi<PipelineListResponse>('pipelines');
  const [busy, setBusy] = useState<'resume' | 'rerun' | 'cancel' | null>(null);
  const [error, setError] = useState<{ action: string; message: string } | null>(null);
  const [noCache, setNoCache] = useState(false);
  const reasonId = useId();
  const registered = pipelines.data
    ? (pipelines.data.items.find((p) => p.name === run.pipeline)?.registered ?? false)
    : pipelines.error !== null
      ? false
      : null;
  const states = runActionStates({ run, registered, canCancel, busy: busy !== null });
  const running = run.status === 'running';

  useEffect(() => {
    // the run ended (cancelled or not): a stale "Cancel failed" would mislead
    if (!running) setError((e) => (e?.action === 'Cancel' ? null : e));
  }, [running]);

  const act = async (kind: 'resume' | 'rerun' | 'cancel', label: string, call: () => Promise<string | null>) => {
    setBusy(kind);
    setError(null);
    try {
      const next = await call();
      if (next) navigate(`/runs/${seg(next)}`);
    } catch (e) {
      setError({ action: label, message: errorMessage(e) });
    } finally {
      setBusy(null);
    }
  };
  const resume = () =>
    act('resume', 'Resume', async () => {
      const r = await apiFetch<TriggerRunResponse>(`runs/${seg(run.run_id)}/resume`, { method: 'POST' });
      return r.run_id;
    });
  const rerun = () =>
    act('rerun', 'Run again', async () => {
      const body = { params: run.params ?? {}, ...(noCache ? { enable_cache: false } : {}) };
      const r = await apiFetch<TriggerRunResponse>(`pipelines/${seg(run.pipeline)}/runs`, { method: 'POST', body });
      return r.run_id;
    });
  const cancel = () =>
    act('cancel', 'Cancel', async () => {
      await apiFetch<CancelRunResponse>(`runs/${seg(run.run_id)}/cancel`, { method: 'POST' });
      return null;
    });

  const reason = states.resume.reason ?? states.rerun.reason;
  return (
    <div className="run-actions" role="group" aria-label="Run actions">
      <div className="run-actions-row">
        {states.cancel.shown && (
          <button type="button" className="btn btn-danger" onClick={() => void cancel()} disabled={!states.cancel.enabled}>
            {busy === 'cancel' ? 'Cancelling…' : 'Cancel run'}
          </button>
        )}
        <button
          type="button"
          className="btn btn-primary"
          onClick={() => void resume()}
          disabled={!states.resume.enabled}
          aria-describedby={states.resume.reason ? reasonId : undefined}
          title={states.resume.reason ?? 'Run again, reusing every step that already succeeded'}
        >
          {busy === 'resume' ? 'Resuming…' : 'Resume'}
        </button>
        <button
          type="button"
          className="btn"
          onClick={() => void rerun()}
          disabled={!states.rerun.enabled}
          aria-describedby={states.rerun.reason ? reasonId : undefined}
          title={states.rerun.reason ?? 'A new run with the same parameters'}
        >
          {busy === 'rerun' ? 'Starting…' : 'Run again'}
        </button>
        <label className="check">
          <input type="checkbox" checked={noCache} onChange={(e) => setNoCache(e.target.checked)} disabled={!states.rerun.enabled} />
          without cache
        </label>
      </div>
      {reason && (
        <p id={reasonId} className="muted small action-reason">
          {reason}
        </p>
      )}
      {error && (
        <div className="error-note" role="alert">
          {error.action} failed: {error.message}
        </div>
      )}
    </div>
  );
}
