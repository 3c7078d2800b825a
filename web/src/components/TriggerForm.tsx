import { useMemo, useRef, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { ApiError, apiFetch, errorMessage, seg } from '../api/client';
import type { TriggerRunResponse } from '../api/types';
import { useApi } from '../hooks/useApi';
import {
  fieldErrorsFromServer,
  fieldsFromDefaults,
  fieldsFromSchema,
  initialInput,
  parseForm,
  type ParamField,
} from '../state/paramForm';
import { parseRunTags, RUN_TAGS_KEY } from '../state/runTags';

function FieldInput({
  field,
  id,
  value,
  invalid,
  describedBy,
  onChange,
}: {
  field: ParamField;
  id: string;
  value: string;
  invalid: boolean;
  describedBy: string | undefined;
  onChange(v: string): void;
}) {
  const common = {
    id,
    name: field.name,
    'aria-invalid': invalid || undefined,
    'aria-describedby': describedBy,
    required: field.required,
    className: invalid ? 'invalid' : undefined,
  };
  switch (field.kind) {
    case 'boolean':
      return <input {...common} type="checkbox" checked={value === 'true'} onChange={(e) => onChange(e.target.checked ? 'true' : 'false')} />;
    case 'enum':
      return (
        <select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
          {!field.required && <option value="">{field.hasDefault ? '(default)' : '—'}</option>}
          {field.options.map((o) => (
            <option key={JSON.stringify(o)} value={JSON.stringify(o)}>
              {typeof o === 'string' ? o : JSON.stringify(o)}
            </option>
          ))}
        </select>
      );
    case 'integer':
    case 'number':
      return (
        <input
          {...common}
          type="number"
          inputMode={field.kind === 'integer' ? 'numeric' : 'decimal'}
          step={field.kind === 'integer' ? 1 : 'any'}
          min={field.minimum ?? undefined}
          max={field.maximum ?? undefined}
          value={value}
          onChange={(e) => onChange(e.target.value)}
        />
      );
    case 'date':
      return <input {...common} type="date" value={value} onChange={(e) => onChange(e.target.value)} />;
    case 'datetime':
      return <input {...common} type="datetime-local" value={value} onChange={(e) => onChange(e.target.value)} />;
    case 'json':
      return (
        <textarea
          {...common}
          className={`mono${invalid ? ' invalid' : ''}`}
          rows={2}
          value={value}
          spellCheck={false}
          onChange={(e) => onChange(e.target.value)}
        />
      );
    default:
      return <input {...common} type="text" value={value} onChange={(e) => onChange(e.target.value)} />;
  }
}

const HINT: Record<ParamField['kind'], string> = {
  integer: 'whole number',
  number: 'number',
  boolean: 'yes / no',
  enum: 'one of',
  date: 'date',
  datetime: 'date and time',
  string: 'text',
  json: 'JSON',
};

/**
 * Start a run of a registered pipeline. Fields are typed from the pipeline's parameter
 * JSON Schema (numbers, booleans, dates, choices, text, JSON for containers), checked in
 * the browser; a 422 from the server lands on the field it names.
 */
export function TriggerForm({ pipeline, defaults }: { pipeline: string; defaults: Record<string, unknown> }) {
  const navigate = useNavigate();
  const schema = useApi<unknown>(`pipelines/${seg(pipeline)}/schema`);
  const noSchema = schema.error instanceof ApiError && schema.error.status === 404;
  const fields = useMemo(
    () => (schema.data ? fieldsFromSchema(schema.data) : noSchema ? fieldsFromDefaults(defaults) : null),
    [schema.data, noSchema, defaults],
  );
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [noCache, setNoCache] = useState(false);
  const [runTags, setRunTags] = useState('');
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);

  if (!fields) {
    return schema.error && !noSchema ? (
      <p className="error-note" role="alert">
        Could not load the parameters: {errorMessage(schema.error)}
      </p>
    ) : (
      <p className="muted" role="status">
        Loading the parameters…
      </p>
    );
  }
  const inputs: Record<string, string> = Object.fromEntries(fields.map((f) => [f.name, edits[f.name] ?? initialInput(f)]));

  const focusFirstError = (errs: Record<string, string>) => {
    const first = fields.find((f) => errs[f.name])?.name ?? (errs[RUN_TAGS_KEY] ? RUN_TAGS_KEY : null);
    if (first) formRef.current?.querySelector<HTMLElement>(`[name="${CSS.escape(first)}"]`)?.focus();
  };
  const tagsError = errors[RUN_TAGS_KEY];
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseForm(fields, inputs);
    const tags = parseRunTags(runTags);
    if ('errors' in parsed || 'error' in tags) {
      const errs = { ...('errors' in parsed ? parsed.errors : {}), ...('error' in tags ? { [RUN_TAGS_KEY]: tags.error } : {}) };
      setErrors(errs);
      focusFirstError(errs);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const body = {
        params: parsed.params,
        ...(noCache ? { enable_cache: false } : {}),
        ...(tags.tags.length ? { tags: tags.tags } : {}),
      };
      const { run_id } = await apiFetch<TriggerRunResponse>(`pipelines/${seg(pipeline)}/runs`, { method: 'POST', body });
      navigate(`/runs/${seg(run_id)}`);
    } catch (err) {
      const placed =
        err instanceof ApiError && err.status === 422
          ? fieldErrorsFromServer(err.raw, fields.map((f) => f.name))
          : { '': errorMessage(err) };
      setErrors(placed);
      focusFirstError(placed);
      setBusy(false);
    }
  };

  return (
    <form ref={formRef} className="trigger-form" onSubmit={(e) => void submit(e)} aria-labelledby="trigger-title" noValidate>
      <h2 id="trigger-title">Run this pipeline</h2>
      {fields.length === 0 && <p className="muted small">This pipeline takes no parameters.</p>}
      {fields.map((f) => {
        const id = `param-${f.name}`;
        const err = errors[f.name];
        const described = [f.description ? `${id}-help` : '', err ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
        return (
          <div key={f.name} className={`field field-${f.kind}`}>
            <label htmlFor={id}>
              {f.label}
              {f.required && <span aria-hidden="true"> *</span>}{' '}
              <span className="muted small">
                ({HINT[f.kind]}
                {f.kind === 'enum' ? `: ${f.options.map((o) => (typeof o === 'string' ? o : JSON.stringify(o))).join(', ')}` : ''})
              </span>
            </label>
            <FieldInput
              field={f}
              id={id}
              value={inputs[f.name] ?? ''}
              invalid={!!err}
              describedBy={described}
              onChange={(v) => setEdits((prev) => ({ ...prev, [f.name]: v }))}
            />
            {f.description && (
              <span id={`${id}-help`} className="muted small field-help">
                {f.description}
              </span>
            )}
            {err && (
              <span id={`${id}-error`} className="field-error">
                {err}
              </span>
            )}
          </div>
        );
      })}
      <div className="field field-tags">
        <label htmlFor="run-tags">
          Run tags <span className="muted small">(comma-separated, added to the pipeline's)</span>
        </label>
        <input
          id="run-tags"
          name={RUN_TAGS_KEY}
          type="text"
          placeholder="nightly, team:data"
          value={runTags}
          aria-invalid={!!tagsError || undefined}
          aria-describedby={tagsError ? 'run-tags-error' : undefined}
          className={tagsError ? 'invalid' : undefined}
          onChange={(e) => setRunTags(e.target.value)}
        />
        {tagsError && (
          <span id="run-tags-error" className="field-error">
            {tagsError}
          </span>
        )}
      </div>
      <label className="check field">
        <input type="checkbox" checked={noCache} onChange={(e) => setNoCache(e.target.checked)} />
        Run every step (ignore the cache)
      </label>
      {errors[''] && (
        <div className="error-note" role="alert">
          {errors['']}
        </div>
      )}
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Starting…' : 'Start run'}
      </button>
    </form>
  );
}
