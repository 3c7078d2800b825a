import { useState } from 'react';
import { Link } from 'react-router';
import type { ArtifactPreview as Preview, ArtifactRecord, ArtifactDetailResponse, Json } from '../api/types';
import { useApi } from '../hooks/useApi';
import { formatBytes, formatJson } from '../util/format';
import { seg } from '../api/client';
import { ErrorNote } from './Feedback';

const MAX_TABLE_ROWS = 200;

interface Table {
  columns: string[];
  rows: Json[][];
}

/** Accepts `{columns, rows|data}`, a list of records, or a list of lists. */
export function toTable(content: Json): Table | null {
  if (content && typeof content === 'object' && !Array.isArray(content)) {
    const cols = content.columns;
    const rows = content.rows ?? content.data;
    if (Array.isArray(cols) && Array.isArray(rows)) {
      return {
        columns: cols.map(String),
        rows: rows.map((r) => (Array.isArray(r) ? r : cols.map((c) => (r && typeof r === 'object' ? ((r as Record<string, Json>)[String(c)] ?? null) : null)))),
      };
    }
    return null;
  }
  if (Array.isArray(content) && content.length > 0) {
    if (content.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
      const columns: string[] = [];
      for (const r of content as Record<string, Json>[]) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
      return { columns, rows: (content as Record<string, Json>[]).map((r) => columns.map((c) => r[c] ?? null)) };
    }
    if (content.every(Array.isArray)) {
      const width = Math.max(...(content as Json[][]).map((r) => r.length));
      return { columns: Array.from({ length: width }, (_, i) => String(i)), rows: content as Json[][] };
    }
  }
  return null;
}

function rowsNote(shown: number, content: Json): string {
  const total =
    content && typeof content === 'object' && !Array.isArray(content) && typeof content.total_rows === 'number'
      ? content.total_rows
      : null;
  return total !== null && total > shown ? `Showing ${shown} of ${total.toLocaleString()} rows.` : `${shown} rows.`;
}

function cell(v: Json): string {
  return v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function PreviewView({ preview, size }: { preview: Preview; size?: number }) {
  const note = preview.truncated ? <p className="muted small">Preview truncated.</p> : null;
  if (preview.kind === 'table') {
    // The schema types `content` as unknown (any value); it was parsed from a JSON body.
    const content = preview.content as Json;
    const table = toTable(content);
    if (table) {
      const rows = table.rows.slice(0, MAX_TABLE_ROWS);
      return (
        <div className="preview">
          <div className="table-scroll">
            <table className="data-table compact">
              <thead>
                <tr>
                  {table.columns.map((c) => (
                    <th key={c} scope="col">
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((r, i) => (
                  <tr key={i}>
                    {table.columns.map((c, j) => (
                      <td key={c}>{cell(r[j] ?? null)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted small">
            {rowsNote(rows.length, content)}
            {preview.truncated || table.rows.length > rows.length ? ' Preview truncated.' : ''}
          </p>
        </div>
      );
    }
  }
  if (preview.kind === 'binary') {
    return (
      <div className="preview">
        <p className="muted">
          Binary content{size !== undefined ? ` (${formatBytes(size)})` : ''}: download it to inspect.
        </p>
        {typeof preview.content === 'string' && preview.content && <pre className="code">{preview.content}</pre>}
      </div>
    );
  }
  const text = preview.kind === 'text' && typeof preview.content === 'string' ? preview.content : formatJson(preview.content);
  return (
    <div className="preview">
      <pre className="code">{text}</pre>
      {note}
    </div>
  );
}

/** An artifact in a list, with its preview loaded when first opened. */
export function ArtifactCard({ artifact, label, open = false }: { artifact: ArtifactRecord; label?: string; open?: boolean }) {
  const [expanded, setExpanded] = useState(open);
  const detail = useApi<ArtifactDetailResponse>(expanded ? `artifacts/${seg(artifact.id)}` : null);
  return (
    <details className="artifact-card" open={open} onToggle={(e) => setExpanded((e.target as HTMLDetailsElement).open || expanded)}>
      <summary>
        <span className="artifact-name">{label ?? artifact.name}</span>
        <span className="muted small">
          {artifact.type_name} · {formatBytes(artifact.size)}
        </span>
        <Link to={`/artifacts/${seg(artifact.id)}`} className="small" onClick={(e) => e.stopPropagation()}>
          details
        </Link>
      </summary>
      {detail.loading && <p className="muted small">Loading preview…</p>}
      {detail.error !== null && <ErrorNote error={detail.error} />}
      {detail.data && <PreviewView preview={detail.data.preview} size={artifact.size} />}
    </details>
  );
}
