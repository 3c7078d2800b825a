/**
 * Sub-pipelines in the DAG: their steps are named `<sub>.<step>`; collapsed, a
 * sub-pipeline is drawn as one node (named `<sub>`) that stands for all its steps.
 */

import type { Dag, DagNode } from '../api/types';

/** The outermost sub-pipeline a step belongs to (`prep.clean.fix` -> `prep`), or null. */
export function groupOf(id: string): string | null {
  const dot = id.indexOf('.');
  return dot > 0 ? id.slice(0, dot) : null;
}

/** Every sub-pipeline of the DAG, in first-seen order. */
export function groupsOf(dag: Dag): string[] {
  const seen = new Set<string>();
  for (const n of dag.nodes) {
    const g = groupOf(n.id);
    if (g !== null) seen.add(g);
  }
  return [...seen];
}

export interface CollapsedDag {
  dag: Dag;
  /** collapsed group id -> the steps it stands for */
  members: ReadonlyMap<string, readonly string[]>;
}

function groupNode(id: string, pipeline: string, members: readonly DagNode[]): DagNode {
  return {
    id,
    name: id,
    function: `sub-pipeline of ${members.length} steps`,
    inputs: [],
    outputs: members.flatMap((m) => m.outputs),
    params: [],
    bindings: {},
    is_async: false,
    tags: [...new Set(members.flatMap((m) => m.tags))],
    options: { group: true, pipeline },
  };
}

/** The DAG with each group in `collapsed` folded into a single node; edges inside it vanish. */
export function collapseDag(dag: Dag, collapsed: ReadonlySet<string>): CollapsedDag {
  if (collapsed.size === 0) return { dag, members: new Map() };
  const byGroup = new Map<string, DagNode[]>();
  const owner = (id: string): string => {
    const g = groupOf(id);
    return g !== null && collapsed.has(g) ? g : id;
  };
  const nodes: DagNode[] = [];
  for (const n of dag.nodes) {
    const o = owner(n.id);
    if (o === n.id) {
      nodes.push(n);
      continue;
    }
    let list = byGroup.get(o);
    if (!list) {
      list = [];
      byGroup.set(o, list);
      nodes.push(n); // placeholder: keeps the group where its first step was
    }
    list.push(n);
  }
  const out = nodes.map((n) => {
    const o = owner(n.id);
    return o === n.id ? n : groupNode(o, dag.pipeline, byGroup.get(o) ?? []);
  });
  const seen = new Set<string>();
  const edges = [];
  for (const e of dag.edges) {
    const source = owner(e.source);
    const target = owner(e.target);
    const key = `${source}\u0000${target}\u0000${e.name}`;
    if (source === target || seen.has(key)) continue;
    seen.add(key);
    edges.push({ ...e, source, target });
  }
  const members = new Map([...byGroup].map(([g, list]) => [g, list.map((n) => n.id)]));
  return { dag: { ...dag, nodes: out, edges }, members };
}
