/**
 * TypeScript types of the flowyml HTTP/SSE API.
 *
 * TO BE GENERATED FROM /openapi.json — hand-written for now from docs/api.md,
 * flowyml/events.py and flowyml/storage/_records.py because the server's OpenAPI
 * schema does not exist yet. When it does, replace this file with generated output
 * (same names) and delete the hand-written copy.
 */

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export type StepStatus =
  | 'pending'
  | 'running'
  | 'retrying'
  | 'succeeded'
  | 'cached'
  | 'failed'
  | 'skipped'
  | 'cancelled'
  | 'interrupted';

export const RUN_STATUSES: readonly RunStatus[] = [
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'interrupted',
];

export const STEP_STATUSES: readonly StepStatus[] = [
  'pending',
  'running',
  'retrying',
  'succeeded',
  'cached',
  'failed',
  'skipped',
  'cancelled',
  'interrupted',
];

/** Any JSON value (params, metadata, previews). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface RunRecord {
  run_id: string;
  pipeline: string;
  status: RunStatus;
  params: Record<string, Json>;
  started_at: number;
  finished_at: number | null;
  duration: number | null;
  pid: number;
  host: string;
  resumed_from: string | null;
  error: string | null;
  heartbeat_at: number | null;
  seq: number;
  steps_total: number;
  steps_done: number;
  steps_cached: number;
  steps_failed: number;
}

export interface StepRunRecord {
  run_id: string;
  step: string;
  status: StepStatus;
  attempts: number;
  started_at: number | null;
  finished_at: number | null;
  duration: number | null;
  cache_key: string | null;
  cached_from: string | null;
  error: string | null;
  error_type: string | null;
  traceback: string | null;
  /** parameter name -> consumed artifact id */
  inputs: Record<string, string>;
  /** output name -> produced artifact id */
  outputs: Record<string, string>;
}

export interface ArtifactRecord {
  id: string;
  name: string;
  run_id: string;
  step: string;
  uri: string;
  type_name: string;
  materializer: string;
  size: number;
  content_hash: string;
  created_at: number;
  metadata: Record<string, Json>;
}

export interface ArtifactRef {
  id: string;
  name: string;
  uri: string;
  type_name: string;
  materializer: string;
  size: number;
  content_hash: string;
  metadata?: Record<string, Json>;
}

export interface DagNode {
  id: string;
  name: string;
  inputs: string[];
  outputs: string[];
  is_async: boolean;
  params: string[];
  tags: string[];
  options: Record<string, Json>;
}

export interface DagEdge {
  source: string;
  target: string;
  name: string;
}

export interface Dag {
  pipeline: string;
  nodes: DagNode[];
  edges: DagEdge[];
}

// ---- events (SSE `data:`) -------------------------------------------------

interface EventBase {
  run_id: string;
  ts: number;
}

export interface RunStartedEvent extends EventBase {
  type: 'run_started';
  pipeline: string;
  params: Record<string, Json>;
  pid: number;
  host: string;
  resumed_from: string | null;
  steps: string[];
}

export interface StepStartedEvent extends EventBase {
  type: 'step_started';
  step: string;
  attempt: number;
  inputs: Record<string, string>;
  cache_key: string | null;
}

export interface StepRetryingEvent extends EventBase {
  type: 'step_retrying';
  step: string;
  attempt: number;
  error: string;
  delay: number;
}

export interface StepSucceededEvent extends EventBase {
  type: 'step_succeeded';
  step: string;
  attempt: number;
  duration: number;
  outputs: Record<string, ArtifactRef>;
  cache_key: string | null;
}

export interface StepCachedEvent extends EventBase {
  type: 'step_cached';
  step: string;
  attempt?: number;
  cache_key: string;
  outputs: Record<string, ArtifactRef>;
  source_run_id: string | null;
  inputs?: Record<string, string>;
}

export interface StepFailedEvent extends EventBase {
  type: 'step_failed';
  step: string;
  attempt: number;
  error: string;
  error_type: string;
  traceback: string;
  duration: number;
}

export interface StepSkippedEvent extends EventBase {
  type: 'step_skipped';
  step: string;
  attempt?: number;
  reason: string;
}

export interface RunFinishedEvent extends EventBase {
  type: 'run_finished';
  status: RunStatus;
  duration: number;
  error: string | null;
}

export type FlowEvent =
  | RunStartedEvent
  | StepStartedEvent
  | StepRetryingEvent
  | StepSucceededEvent
  | StepCachedEvent
  | StepFailedEvent
  | StepSkippedEvent
  | RunFinishedEvent;

export type EventType = FlowEvent['type'];

export type StepEvent = Extract<FlowEvent, { step: string }>;

export const EVENT_TYPES: readonly EventType[] = [
  'run_started',
  'step_started',
  'step_retrying',
  'step_succeeded',
  'step_cached',
  'step_failed',
  'step_skipped',
  'run_finished',
];

/** An event as received from an SSE stream: `id:` is the store-wide event id. */
export interface StreamEvent {
  id: number | null;
  event: FlowEvent;
}

// ---- responses -------------------------------------------------------------

export interface HealthResponse {
  status: 'ok';
  version: string;
  store: string;
}

export interface PipelineSummary {
  name: string;
  code_version: string;
  updated_at: number;
  registered: boolean;
  params: Record<string, Json>;
  last_run: RunRecord | null;
}

export interface PipelineListResponse {
  items: PipelineSummary[];
}

export interface PipelineDetailResponse {
  name: string;
  code_version: string;
  registered: boolean;
  params: Record<string, Json>;
  dag: Dag;
  recent_runs: RunRecord[];
}

export interface TriggerRunResponse {
  run_id: string;
}

export interface RunListResponse {
  items: RunRecord[];
  next_cursor: number | null;
}

export interface RunDetailResponse {
  run: RunRecord;
  steps: StepRunRecord[];
  dag: Dag | null;
}

export interface CancelRunResponse {
  run_id: string;
  status: 'cancelling';
}

export interface StepDetailResponse {
  step: StepRunRecord;
  inputs: ArtifactRecord[];
  outputs: ArtifactRecord[];
}

export interface ArtifactListResponse {
  items: ArtifactRecord[];
}

export type PreviewKind = 'json' | 'text' | 'table' | 'binary';

export interface ArtifactPreview {
  kind: PreviewKind;
  content: Json;
  truncated: boolean;
}

export interface ArtifactDetailResponse {
  artifact: ArtifactRecord;
  preview: ArtifactPreview;
}

export interface LineageResponse {
  artifact: ArtifactRecord;
  producer: StepRunRecord | null;
  inputs: ArtifactRecord[];
  consumers: StepRunRecord[];
  derived: ArtifactRecord[];
}

export interface ErrorResponse {
  detail: string;
}
