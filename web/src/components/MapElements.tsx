import { useMemo, useState } from 'react';
import { Link } from 'react-router';
import { STEP_STATUSES } from '../api/types';
import { elementsOf, histogramText, summarizeElements } from '../state/mapElements';
import type { StepView } from '../state/runReducer';
import { formatDuration } from '../util/format';
import { StatusBadge } from './StatusIcon';

const PAGE = 20;

/** A mapped step's elements: status histogram, then a paged table, each element openable. */
export function MapElements({
  parent,
  order,
  steps,
}: {
  parent: string;
  order: readonly string[];
  steps: Readonly<Record<string, StepView>>;
}) {
  const names = useMemo(() => elementsOf(order, parent), [order, parent]);
  const summary = useMemo(() => summarizeElements(names, steps).get(parent), [names, steps, parent]);
  const [page, setPage] = useState(0);
  if (names.length === 0) return null;
  const pages = Math.ceil(names.length / PAGE);
  const current = Math.min(page, pages - 1);
  const shown = names.slice(current * PAGE, (current + 1) * PAGE);
  return (
    <section className="panel-section" aria-labelledby="elements-title">
      <h3 id="elements-title">Elements ({names.length})</h3>
      {summary && <p className="small">{histogramText(summary, STEP_STATUSES)}</p>}
      <table className="data-table compact">
        <caption className="sr-only">Elements of {parent}</caption>
        <thead>
          <tr>
            <th scope="col">Element</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">
              Duration
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map((name) => {
            const s = steps[name];
            return (
              <tr key={name} data-element={name}>
                <td>
                  <Link to={{ search: `?step=${encodeURIComponent(name)}` }} className="mono">
                    {name}
                  </Link>
                </td>
                <td>{s && <StatusBadge status={s.status} />}</td>
                <td className="num">{formatDuration(s?.duration)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {pages > 1 && (
        <nav className="pager" aria-label={`Pages of elements of ${parent}`}>
          <button type="button" className="btn" onClick={() => setPage(current - 1)} disabled={current === 0}>
            Previous
          </button>
          <span className="small" aria-live="polite">
            Page {current + 1} of {pages}
          </span>
          <button type="button" className="btn" onClick={() => setPage(current + 1)} disabled={current >= pages - 1}>
            Next
          </button>
        </nav>
      )}
    </section>
  );
}
