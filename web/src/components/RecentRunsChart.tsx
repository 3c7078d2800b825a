import { Link } from 'react-router';
import { seg } from '../api/client';
import { RUN_STATUSES } from '../api/types';
import type { RecentRuns } from '../state/runsView';
import { formatDuration } from '../util/format';

const W = 6;
const GAP = 2;
const H = 28;

/** Bars of a pipeline's latest runs (height: duration, colour and order: outcome). */
export function RecentRunsChart({ recent }: { recent: RecentRuns }) {
  const max = Math.max(...recent.runs.map((r) => r.duration ?? 0), 0.001);
  const summary = RUN_STATUSES.filter((s) => recent.counts[s])
    .map((s) => `${recent.counts[s]} ${s}`)
    .join(', ');
  const durations = recent.runs.map((r) => r.duration).filter((d): d is number => d !== null);
  const range =
    durations.length > 0 ? `; durations ${formatDuration(Math.min(...durations))} to ${formatDuration(Math.max(...durations))}` : '';
  const label = `Last ${recent.runs.length} runs of ${recent.pipeline}: ${summary}${range}`;
  return (
    <figure className="spark" data-pipeline={recent.pipeline}>
      <figcaption>
        <Link to={`/pipelines/${seg(recent.pipeline)}`}>{recent.pipeline}</Link>
      </figcaption>
      <svg width={recent.runs.length * (W + GAP)} height={H} role="img" aria-label={label}>
        <title>{label}</title>
        {recent.runs.map((r, i) => {
          const h = Math.max(3, ((r.duration ?? max) / max) * (H - 2));
          return <rect key={r.run_id} className={`spark-${r.status}`} x={i * (W + GAP)} y={H - h} width={W} height={h} rx={1} />;
        })}
      </svg>
      <span className="small muted">{summary}</span>
    </figure>
  );
}
