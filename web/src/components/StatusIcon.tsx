import type { RunStatus, StepStatus } from '../api/types';

export type AnyStatus = StepStatus | RunStatus;

/** Small status glyphs (decorative: the status is always written next to them). */
export function StatusIcon({ status, size = 14 }: { status: AnyStatus; size?: number }) {
  const common = {
    width: size,
    height: size,
    viewBox: '0 0 16 16',
    'aria-hidden': true,
    focusable: false,
    className: `status-icon icon-${status}`,
  } as const;
  const stroke = { fill: 'none', stroke: 'currentColor', strokeWidth: 2, strokeLinecap: 'round', strokeLinejoin: 'round' } as const;
  switch (status) {
    case 'pending':
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="5.5" {...stroke} strokeDasharray="2.5 2.5" />
        </svg>
      );
    case 'running':
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="5.5" {...stroke} opacity="0.3" />
          <path d="M8 2.5a5.5 5.5 0 0 1 5.5 5.5" {...stroke} className="spin" />
        </svg>
      );
    case 'retrying':
      return (
        <svg {...common}>
          <path d="M13 8a5 5 0 1 1-1.6-3.7M13 2.5v3h-3" {...stroke} />
        </svg>
      );
    case 'succeeded':
      return (
        <svg {...common}>
          <path d="M3 8.5l3.2 3L13 4.5" {...stroke} />
        </svg>
      );
    case 'cached':
      return (
        <svg {...common}>
          <ellipse cx="8" cy="4" rx="5" ry="2" {...stroke} />
          <path d="M3 4v8c0 1.1 2.2 2 5 2s5-.9 5-2V4M3 8c0 1.1 2.2 2 5 2s5-.9 5-2" {...stroke} />
        </svg>
      );
    case 'failed':
      return (
        <svg {...common}>
          <path d="M4 4l8 8M12 4l-8 8" {...stroke} />
        </svg>
      );
    case 'skipped':
      return (
        <svg {...common}>
          <path d="M3 4l5 4-5 4M9 4l5 4-5 4" {...stroke} />
        </svg>
      );
    case 'cancelled':
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="5.5" {...stroke} />
          <path d="M4.2 11.8l7.6-7.6" {...stroke} />
        </svg>
      );
    case 'interrupted':
      return (
        <svg {...common}>
          <path d="M9.5 1.5L4 9h4l-1.5 5.5L12 7H8z" {...stroke} />
        </svg>
      );
  }
}

export function StatusBadge({ status, label }: { status: AnyStatus; label?: string }) {
  return (
    <span className={`badge status-${status}`} data-status={status}>
      <StatusIcon status={status} />
      <span>{label ?? status}</span>
    </span>
  );
}
