import { useNow } from '../hooks/useNow';
import { formatDuration } from '../util/format';

/** A duration that counts up each second while `running`, else the final value. */
export function Elapsed({
  start,
  end,
  duration,
  running,
}: {
  start: number | null;
  end?: number | null;
  duration?: number | null;
  running: boolean;
}) {
  const now = useNow(running);
  if (!running) {
    if (duration !== null && duration !== undefined) return <>{formatDuration(duration)}</>;
    if (start !== null && end !== null && end !== undefined) return <>{formatDuration(end - start)}</>;
    return <>—</>;
  }
  if (start === null) return <>—</>;
  return <>{formatDuration(Math.max(0, now - start))}</>;
}
