import { describe, expect, it } from 'vitest';
import type { Dag, DagNode } from '../api/types';
import { collapseDag, groupOf, groupsOf } from './collapse';

const node = (id: string): DagNode => ({
  id,
  name: id,
  function: 'm.f',
  inputs: [],
  outputs: [`${id}_out`],
  params: [],
  bindings: {},
  is_async: false,
  tags: [],
  options: {},
});

const DAG: Dag = {
  pipeline: 'p',
  nodes: ['load', 'prep.clean', 'prep.dedupe', 'prep.inner.fix', 'train'].map(node),
  edges: [
    { source: 'load', target: 'prep.clean', name: 'raw' },
    { source: 'prep.clean', target: 'prep.dedupe', name: 'clean' },
    { source: 'prep.dedupe', target: 'prep.inner.fix', name: 'deduped' },
    { source: 'prep.inner.fix', target: 'train', name: 'fixed' },
    { source: 'load', target: 'train', name: 'raw' },
  ],
};

describe('collapsing sub-pipelines', () => {
  it('finds the outermost sub-pipeline of each step', () => {
    expect(groupOf('prep.inner.fix')).toBe('prep');
    expect(groupOf('load')).toBeNull();
    expect(groupsOf(DAG)).toEqual(['prep']);
  });

  it('folds a sub-pipeline into one node, keeping the edges that cross its border', () => {
    const { dag, members } = collapseDag(DAG, new Set(['prep']));
    expect(dag.nodes.map((n) => n.id)).toEqual(['load', 'prep', 'train']);
    expect(dag.edges.map((e) => `${e.source}>${e.target}`)).toEqual(['load>prep', 'prep>train', 'load>train']);
    expect(members.get('prep')).toEqual(['prep.clean', 'prep.dedupe', 'prep.inner.fix']);
    expect(dag.nodes[1]!.function).toBe('sub-pipeline of 3 steps');
  });

  it('changes nothing when nothing is collapsed', () => {
    expect(collapseDag(DAG, new Set()).dag).toBe(DAG);
  });
});
