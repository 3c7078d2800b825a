/**
 * What a user can do with a run from its page, and why not when they cannot.
 * Pure: the run view asks once per render.
 */

import type { RunRecord, RunStatus } from '../api/types';

export interface ActionState {
  enabled: boolean;
  /** why the action is disabled (shown next to the button), null when enabled */
  reason: string | null;
}

export interface RunActionStates {
  resume: ActionState;
  rerun: ActionState;
  /** Cancel is offered only where the server can cancel the run (a run it started) */
  cancel: ActionState & { shown: boolean };
}

const RESUMABLE: ReadonlySet<RunStatus> = new Set<RunStatus>(['failed', 'cancelled', 'interrupted']);

export interface RunActionInput {
  run: Pick<RunRecord, 'status' | 'pipeline'>;
  /** is the run's pipeline registered with this server? null while unknown */
  registered: boolean | null;
  /** the server started this run and can cancel it */
  canCancel: boolean;
  /** an action is in flight */
  busy: boolean;
}

const on: ActionState = { enabled: true, reason: null };
const off = (reason: string): ActionState => ({ enabled: false, reason });

export function runActionStates({ run, registered, canCancel, busy }: RunActionInput): RunActionStates {
  const unregistered =
    registered === null
      ? 'Checking whether this server can run the pipeline…'
      : registered
        ? null
        : `Pipeline ${run.pipeline} is not registered with this server: start \`flowyml ui\` with it to run it from here.`;
  let resume: ActionState;
  if (!RESUMABLE.has(run.status)) {
    resume = off(
      run.status === 'running'
        ? 'The run is still running.'
        : 'Only a failed, cancelled or interrupted run can be resumed; this one succeeded.',
    );
  } else if (unregistered) resume = off(unregistered);
  else resume = busy ? off('Working…') : on;
  const rerun = unregistered ? off(unregistered) : busy ? off('Working…') : on;
  const running = run.status === 'running';
  return {
    resume,
    rerun,
    cancel: { shown: running && canCancel, ...(busy ? off('Working…') : on) },
  };
}
