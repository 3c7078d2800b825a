import type { Dag, StepRunRecord } from '../api/types';

/**
 * A DAG rebuilt from step records when the run has none: an edge goes from the
 * step that produced an artifact to every step that consumed it.
 */
export function dagFromSteps(pipeline: string, steps: readonly StepRunRecord[]): Dag {
  const producer = new Map<string, { step: string; name: string }>();
  for (const s of steps) {
    for (const [name, id] of Object.entries(s.outputs ?? {})) producer.set(id, { step: s.step, name });
  }
  const edges: Dag['edges'] = [];
  for (const s of steps) {
    for (const id of Object.values(s.inputs ?? {})) {
      const from = producer.get(id);
      if (from && from.step !== s.step) edges.push({ source: from.step, target: s.step, name: from.name });
    }
  }
  return {
    pipeline,
    nodes: steps.map((s) => ({
      id: s.step,
      name: s.step,
      function: '',
      inputs: Object.keys(s.inputs ?? {}),
      outputs: Object.keys(s.outputs ?? {}),
      is_async: false,
      params: [],
      bindings: {},
      tags: [],
      options: {},
    })),
    edges,
  };
}
