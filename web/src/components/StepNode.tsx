import { memo } from 'react';
import { Handle, Position, type Node, type NodeProps } from '@xyflow/react';
import { STEP_STATUSES, type DagNode } from '../api/types';
import { histogramText, type ElementSummary } from '../state/mapElements';
import type { StepView } from '../state/runReducer';
import { Elapsed } from './Elapsed';
import { StatusIcon } from './StatusIcon';

export interface StepNodeData extends Record<string, unknown> {
  name: string;
  /** the step's state in a run (absent when drawing a pipeline's definition) */
  step: StepView | null;
  /** a mapped step's elements */
  elements: ElementSummary | null;
  definition: DagNode | null;
}

export type StepFlowNode = Node<StepNodeData, 'step'>;

function timeLabel(step: StepView) {
  const running = step.status === 'running' || step.status === 'retrying';
  if (step.started_at === null) return null;
  return <Elapsed start={step.started_at} end={step.finished_at} duration={step.duration} running={running} />;
}

/**
 * One step of the DAG. Memoised: it re-renders only when its own record changes.
 * The root carries `data-step` and `data-status` for end-to-end tests.
 */
export const StepNode = memo(function StepNode({ data, selected }: NodeProps<StepFlowNode>) {
  const { name, step, elements, definition } = data;
  const status = step?.status;
  const histogram = elements ? histogramText(elements, STEP_STATUSES) : '';
  const group = definition?.options?.group === true;
  return (
    <div
      className={`step-node ${status ? `status-${status}` : 'status-none'}${selected ? ' selected' : ''}${group ? ' step-group' : ''}`}
      data-step={name}
      data-status={status}
      data-elements={elements?.total}
      title={histogram ? `${name}: ${elements?.total} ${group ? 'steps' : 'elements'} (${histogram}); ${group ? 'click to expand' : ''}` : name}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} className="step-handle" />
      <div className="step-node-title">{name}</div>
      <div className="step-node-meta">
        {group && elements ? (
          <span className="step-node-status">sub-pipeline · {elements.total} steps</span>
        ) : step ? (
          <>
            <span className="step-node-status">
              <StatusIcon status={step.status} size={12} />
              {step.status}
              {step.attempts > 1 ? ` · try ${step.attempts}` : ''}
            </span>
            {elements ? (
              <span className="step-node-time">×{elements.total}</span>
            ) : (
              <span className="step-node-time">{timeLabel(step)}</span>
            )}
          </>
        ) : (
          <span className="step-node-status">
            {definition?.is_async ? 'async · ' : ''}
            {definition ? `${definition.outputs.length} output${definition.outputs.length === 1 ? '' : 's'}` : ''}
          </span>
        )}
      </div>
      {elements && <Histogram summary={elements} label={histogram} noun={group ? 'steps' : 'elements'} />}
      <Handle type="source" position={Position.Right} isConnectable={false} className="step-handle" />
    </div>
  );
});

/** A thin stacked bar of the elements' statuses along the node's bottom edge. */
function Histogram({ summary, label, noun }: { summary: ElementSummary; label: string; noun: string }) {
  return (
    <div className="step-histogram" role="img" aria-label={`${summary.total} ${noun}: ${label}`} data-histogram={label}>
      {STEP_STATUSES.map((s) => {
        const n = summary.counts[s] ?? 0;
        return n > 0 ? <span key={s} className={`hist-${s}`} style={{ flexGrow: n }} /> : null;
      })}
    </div>
  );
}
