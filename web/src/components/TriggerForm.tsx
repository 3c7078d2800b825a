import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { apiFetch, errorMessage, seg } from '../api/client';
import type { Json, TriggerRunResponse } from '../api/types';

/** Parse the form's JSON text fields; returns the params or the per-field errors. */
export function parseParams(fields: Record<string, string>): { params: Record<string, Json> } | { errors: Record<string, string> } {
  const params: Record<string, Json> = {};
  const errors: Record<string, string> = {};
  for (const [name, text] of Object.entries(fields)) {
    try {
      params[name] = JSON.parse(text) as Json;
    } catch {
      errors[name] = 'Not valid JSON (strings need double quotes, e.g. "abc").';
    }
  }
  return Object.keys(errors).length > 0 ? { errors } : { params };
}

/** Form to start a run of a registered pipeline; values are JSON, prefilled with defaults. */
export function TriggerForm({ pipeline, defaults }: { pipeline: string; defaults: Record<string, unknown> }) {
  const navigate = useNavigate();
  const [fields, setFields] = useState<Record<string, string>>(() =>
    Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, JSON.stringify(v)])),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [submitError, setSubmitError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseParams(fields);
    if ('errors' in parsed) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    setSubmitError(null);
    setBusy(true);
    try {
      const { run_id } = await apiFetch<TriggerRunResponse>(`pipelines/${seg(pipeline)}/runs`, {
        method: 'POST',
        body: { params: parsed.params },
      });
      navigate(`/runs/${seg(run_id)}`);
    } catch (err) {
      setSubmitError(errorMessage(err));
      setBusy(false);
    }
  };

  const names = Object.keys(fields);
  return (
    <form className="trigger-form" onSubmit={(e) => void submit(e)} aria-labelledby="trigger-title" noValidate>
      <h2 id="trigger-title">Run this pipeline</h2>
      {names.length === 0 && <p className="muted small">This pipeline takes no parameters.</p>}
      {names.map((name) => {
        const id = `param-${name}`;
        const err = errors[name];
        return (
          <div key={name} className="field">
            <label htmlFor={id}>
              {name} <span className="muted small">(JSON)</span>
            </label>
            <input
              id={id}
              className={`mono${err ? ' invalid' : ''}`}
              value={fields[name] ?? ''}
              onChange={(e) => setFields((f) => ({ ...f, [name]: e.target.value }))}
              aria-invalid={err ? true : undefined}
              aria-describedby={err ? `${id}-error` : undefined}
              spellCheck={false}
            />
            {err && (
              <span id={`${id}-error`} className="field-error">
                {err}
              </span>
            )}
          </div>
        );
      })}
      {submitError && (
        <div className="error-note" role="alert">
          {submitError}
        </div>
      )}
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Starting…' : 'Start run'}
      </button>
    </form>
  );
}
