import { memo } from 'react';
import { Link } from 'react-router';
import { seg } from '../api/client';
import type { RunRecord } from '../api/types';
import type { SortDir, SortKey } from '../state/runsView';
import { formatIso, formatTime, inlineJson, shortId } from '../util/format';
import { Elapsed } from './Elapsed';
import { StatusBadge } from './StatusIcon';
import { TagChips } from './TagChips';

export interface Sorting {
  key: SortKey;
  dir: SortDir;
  onSort(key: SortKey): void;
}

function SortHeader({ label, k, sorting, className }: { label: string; k: SortKey; sorting?: Sorting; className?: string }) {
  if (!sorting) return <th scope="col" className={className}>{label}</th>;
  const active = sorting.key === k;
  const aria = active ? (sorting.dir === 'asc' ? 'ascending' : 'descending') : 'none';
  return (
    <th scope="col" className={className} aria-sort={aria}>
      <button type="button" className="sort-button" onClick={() => sorting.onSort(k)}>
        {label}
        <span aria-hidden="true">{active ? (sorting.dir === 'asc' ? ' ▲' : ' ▼') : ' ↕'}</span>
      </button>
    </th>
  );
}

export function RunsTable({
  runs,
  showPipeline = true,
  caption,
  sorting,
  tag = '',
  onTag,
}: {
  runs: readonly RunRecord[];
  showPipeline?: boolean;
  caption: string;
  sorting?: Sorting;
  /** the tag the list is filtered by ('' for none) */
  tag?: string;
  /** a click on a run's tag: filter by it (without: the tags link to the runs list) */
  onTag?: (tag: string) => void;
}) {
  return (
    <div className="table-scroll">
      <table className="data-table runs-table">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            {showPipeline && <th scope="col">Pipeline</th>}
            <th scope="col">Status</th>
            <SortHeader label="Started" k="started" sorting={sorting} />
            <SortHeader label="Duration" k="duration" sorting={sorting} className="num" />
            <th scope="col">Steps</th>
            <th scope="col">Params</th>
            <th scope="col" className="num">
              Cached
            </th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <RunRow key={r.run_id} run={r} showPipeline={showPipeline} tag={tag} onTag={onTag} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * "done/total" of the DAG's steps. A store that counts map elements (`fetch[3]`) among the
 * finished steps reports more done than there are steps: then say so rather than "53/3".
 */
export function stepsText(run: Pick<RunRecord, 'steps_done' | 'steps_failed' | 'steps_total'>): {
  text: string;
  ratio: number;
} {
  const { steps_done: done, steps_failed: failed, steps_total: total } = run;
  if (done + failed <= total || total === 0) return { text: `${done}/${total}`, ratio: total > 0 ? done / total : 0 };
  return { text: `${total} steps · ${done} done incl. map elements`, ratio: failed > 0 ? 1 - failed / (done + failed) : 1 };
}

const RunRow = memo(function RunRow({
  run,
  showPipeline,
  tag,
  onTag,
}: {
  run: RunRecord;
  showPipeline: boolean;
  tag: string;
  onTag: ((tag: string) => void) | undefined;
}) {
  const steps = stepsText(run);
  const pct = Math.round(steps.ratio * 100);
  return (
    <tr data-run={run.run_id} data-status={run.status}>
      <td>
        <Link to={`/runs/${seg(run.run_id)}`} className="mono" title={run.run_id}>
          {shortId(run.run_id)}
        </Link>
        <TagChips tags={run.tags} active={tag} onTag={onTag} />
      </td>
      {showPipeline && (
        <td>
          <Link to={`/pipelines/${seg(run.pipeline)}`}>{run.pipeline}</Link>
        </td>
      )}
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td>
        <time dateTime={formatIso(run.started_at)}>{formatTime(run.started_at)}</time>
      </td>
      <td className="num">
        <Elapsed start={run.started_at} end={run.finished_at} duration={run.duration} running={run.status === 'running'} />
      </td>
      <td>
        <div className="steps-cell">
          <span className="steps-count">{steps.text}</span>
          <span className="progress" aria-hidden="true">
            <span className={`progress-bar bar-${run.status}`} style={{ width: `${pct}%` }} />
          </span>
          {run.steps_failed > 0 && <span className="failed-count">{run.steps_failed} failed</span>}
        </div>
      </td>
      <td className="params-cell">
        <Params params={run.params} />
      </td>
      <td className="num">{run.steps_cached}</td>
    </tr>
  );
});

function Params({ params }: { params: Record<string, unknown> | undefined }) {
  const entries = Object.entries(params ?? {});
  if (entries.length === 0) return <span className="muted">—</span>;
  const text = entries.map(([k, v]) => `${k}=${inlineJson(v)}`).join(', ');
  return (
    <span className="params-inline mono" title={text}>
      {text}
    </span>
  );
}
