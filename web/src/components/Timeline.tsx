import { memo, useState, type UIEvent } from 'react';
import type { RunRecord } from '../api/types';
import { useNow } from '../hooks/useNow';
import { isTerminalRun, type StepView } from '../state/runReducer';
import { formatDuration } from '../util/format';
import { StatusIcon } from './StatusIcon';

interface Props {
  run: RunRecord;
  order: readonly string[];
  steps: Readonly<Record<string, StepView>>;
  onSelect(step: string): void;
}

const TICKS = [0, 0.25, 0.5, 0.75, 1];
const ROW_HEIGHT = 24;
const VIEW_HEIGHT = 420;
const OVERSCAN = 10;

/** Gantt-style view: one bar per started step, from its start to its end (or now). */
export function Timeline({ run, order, steps, onSelect }: Props) {
  const live = !isTerminalRun(run.status);
  const now = useNow(live);
  const [scrollTop, setScrollTop] = useState(0);
  const onScroll = (e: UIEvent<HTMLDivElement>) => setScrollTop(e.currentTarget.scrollTop);
  const started = order.map((n) => steps[n]).filter((s): s is StepView => !!s && s.started_at !== null);
  started.sort((a, b) => (a.started_at as number) - (b.started_at as number));
  if (started.length === 0) return <p className="muted">No step has started yet.</p>;

  const t0 = Math.min(run.started_at || Infinity, ...started.map((s) => s.started_at as number));
  let t1 = run.finished_at ?? (live ? now : t0);
  for (const s of started) t1 = Math.max(t1, s.finished_at ?? (live ? now : (s.started_at as number)));
  const span = Math.max(t1 - t0, 0.001);
  const notStarted = order.length - started.length;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(started.length, Math.ceil((scrollTop + VIEW_HEIGHT) / ROW_HEIGHT) + OVERSCAN);

  return (
    <div className="timeline" role="table" aria-label="Step timeline">
      <div className="timeline-row timeline-axis" role="row">
        <span className="timeline-label" role="columnheader">
          Step
        </span>
        <div className="timeline-track" role="columnheader" aria-label="time since run start">
          {TICKS.map((t) => (
            <span key={t} className="timeline-tick" style={{ left: `${t * 100}%` }}>
              {formatDuration(t * span)}
            </span>
          ))}
        </div>
      </div>
      {/* windowed: only the rows in view are rendered (500-step runs stay cheap) */}
      <div className="timeline-body" style={{ maxHeight: VIEW_HEIGHT }} onScroll={onScroll}>
        <div style={{ height: started.length * ROW_HEIGHT, position: 'relative' }}>
          {started.slice(first, last).map((s, i) => (
            <TimelineRow
              key={s.step}
              top={(first + i) * ROW_HEIGHT}
              step={s}
              t0={t0}
              span={span}
              now={live && s.finished_at === null ? now : null}
              onSelect={onSelect}
            />
          ))}
        </div>
      </div>
      {notStarted > 0 && (
        <p className="muted small timeline-note">
          {notStarted} step{notStarted === 1 ? '' : 's'} not started.
        </p>
      )}
    </div>
  );
}

const TimelineRow = memo(function TimelineRow({
  top,
  step,
  t0,
  span,
  now,
  onSelect,
}: {
  top: number;
  step: StepView;
  t0: number;
  span: number;
  now: number | null;
  onSelect(step: string): void;
}) {
  const start = step.started_at as number;
  const end = step.finished_at ?? now ?? start;
  const left = ((start - t0) / span) * 100;
  const width = Math.max(((end - start) / span) * 100, 0.4);
  const label = `${step.step}: ${step.status}, ${formatDuration(end - start)}, from +${formatDuration(start - t0)}`;
  return (
    <div className="timeline-row" role="row" style={{ position: 'absolute', top, left: 0, right: 0, height: ROW_HEIGHT }}>
      <span className="timeline-label" role="rowheader">
        <button type="button" className="link-button" onClick={() => onSelect(step.step)} title={step.step}>
          {step.step}
        </button>
      </span>
      <div className="timeline-track" role="cell">
        <div
          className={`timeline-bar status-${step.status}`}
          style={{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}
          title={label}
          aria-label={label}
        >
          <StatusIcon status={step.status} size={11} />
        </div>
      </div>
    </div>
  );
});
