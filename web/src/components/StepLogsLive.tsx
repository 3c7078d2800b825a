import { useEffect, useState } from 'react';
import { apiFetch, errorMessage, isAbort, seg } from '../api/client';
import { formatTime } from '../util/format';

/** One stored log line, as `GET /api/runs/{run_id}/logs` returns it. */
export interface LogLine {
  seq: number;
  step: string;
  attempt: number;
  created_at: number;
  level: string;
  logger: string;
  message: string;
}

interface LogPage {
  items: LogLine[];
  next_cursor: number;
}

export const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR'] as const;
const RANK: Record<string, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };

/** The lines at ``level`` or above (unknown levels are always shown). */
export function atLeast(lines: readonly LogLine[], level: string): LogLine[] {
  const floor = RANK[level] ?? 0;
  return lines.filter((l) => (RANK[l.level] ?? Number.POSITIVE_INFINITY) >= floor);
}

/** How often a followed step's new lines are fetched, in milliseconds. */
export const FOLLOW_MS = 1000;

/**
 * A step's log lines, read from the server page by page; while the step runs and "Follow"
 * is on, new lines are fetched every second and appended.
 */
export function StepLogsLive({ runId, step, running }: { runId: string; step: string; running: boolean }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [level, setLevel] = useState<string>('DEBUG');
  const [follow, setFollow] = useState(true);

  useEffect(() => {
    setLines([]);
    setError(null);
    const abort = new AbortController();
    let cursor = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fetchMore = async (): Promise<void> => {
      try {
        for (;;) {
          const page = await apiFetch<LogPage>(`runs/${seg(runId)}/logs`, {
            query: { step, cursor, limit: 1000 },
            signal: abort.signal,
          });
          cursor = page.next_cursor;
          if (page.items.length > 0) setLines((prev) => [...prev, ...page.items]);
          if (page.items.length < 1000) break;
        }
      } catch (err) {
        if (!isAbort(err)) setError(errorMessage(err));
      }
      if (running && follow && !abort.signal.aborted) timer = setTimeout(() => void fetchMore(), FOLLOW_MS);
    };
    void fetchMore();
    return () => {
      abort.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [runId, step, running, follow]);

  const shown = atLeast(lines, level);
  return (
    <section className="panel-section" aria-labelledby="logs-title">
      <h3 id="logs-title">Logs</h3>
      <div className="logs-controls">
        <label>
          Level{' '}
          <select aria-label="Log level" value={level} onChange={(e) => setLevel(e.target.value)}>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l === 'DEBUG' ? 'all' : `${l} and above`}
              </option>
            ))}
          </select>
        </label>{' '}
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
      </div>
      {error !== null && <p className="muted small">Logs: {error}</p>}
      {shown.length === 0 ? (
        <p className="muted small">No logs captured for this step.</p>
      ) : (
        <ol className="logs code" aria-label="Log records">
          {shown.map((r) => (
            <li key={r.seq} className={`log log-${r.level.toLowerCase()}`}>
              <span className="muted">{formatTime(r.created_at)}</span> <span className="log-level">{r.level}</span>{' '}
              {r.message}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
