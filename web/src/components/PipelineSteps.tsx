import type { DagNode } from '../api/types';

/** The options the compiler exports per step (`Step.options()`), read defensively. */
interface StepOptions {
  cache?: boolean;
  retries?: number;
  retry_delay?: number;
  backoff?: number;
  timeout?: number | null;
  map_over?: string | null;
  condition?: boolean;
}

function docOf(node: DagNode): string | null {
  const doc = (node as DagNode & { doc?: unknown; docstring?: unknown }).doc ?? (node as { docstring?: unknown }).docstring;
  return typeof doc === 'string' && doc.trim() ? doc.trim() : null;
}

function retryText(o: StepOptions): string {
  if (!o.retries) return 'no';
  const delay = o.retry_delay ? `, ${o.retry_delay} s apart${o.backoff && o.backoff !== 1 ? ` ×${o.backoff}` : ''}` : '';
  return `${o.retries}${delay}`;
}

/** The pipeline's steps with what they do and how they run: docstring, retries, timeout, cache. */
export function PipelineSteps({ nodes }: { nodes: readonly DagNode[] }) {
  return (
    <div className="table-scroll">
      <table className="data-table compact pipeline-steps">
        <caption className="sr-only">Steps and their settings</caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Description</th>
            <th scope="col">Retries</th>
            <th scope="col">Timeout</th>
            <th scope="col">Cache</th>
            <th scope="col">Runs</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((n) => {
            const o = (n.options ?? {}) as StepOptions;
            const doc = docOf(n);
            return (
              <tr key={n.id} data-step-row={n.id}>
                <th scope="row" className="mono">
                  {n.name}
                  {n.tags.length > 0 && <span className="muted small"> · {n.tags.join(', ')}</span>}
                </th>
                <td className="doc">
                  {doc ?? <span className="muted">{n.function || '—'}</span>}
                </td>
                <td>{retryText(o)}</td>
                <td>{o.timeout ? `${o.timeout} s` : 'none'}</td>
                <td>{o.cache === false ? 'off' : 'on'}</td>
                <td className="small">
                  {[n.is_async ? 'async' : 'sync', o.map_over ? `map over ${o.map_over}` : '', o.condition ? 'conditional' : '']
                    .filter(Boolean)
                    .join(' · ')}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
