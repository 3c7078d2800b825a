import { describe, expect, it } from 'vitest';
import type { Dag } from '../api/types';
import { dagFromSteps } from './dagFromSteps';
import { dagKey, layoutDag, NODE_HEIGHT, NODE_WIDTH, simplifyEdges } from './dagLayout';
import { emptyStep } from '../state/runReducer';

/** A deterministic pseudo-random layered DAG: `n` nodes, each with up to 3 parents. */
function randomDag(n: number, spread = 20, seed = 7): { ids: string[]; edges: Dag['edges'] } {
  let x = seed;
  const rand = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const ids = Array.from({ length: n }, (_, i) => `step_${i}`);
  const edges: Dag['edges'] = [];
  for (let i = 1; i < n; i++) {
    const parents = 1 + Math.floor(rand() * 3);
    for (let p = 0; p < parents; p++) {
      const j = Math.max(0, i - 1 - Math.floor(rand() * spread));
      edges.push({ source: ids[j]!, target: ids[i]!, name: `out_${p}` });
    }
  }
  return { ids, edges };
}

function expectNoOverlapWithinRanks(positions: Map<string, { x: number; y: number }>) {
  const byX = new Map<number, number[]>();
  for (const p of positions.values()) {
    const key = Math.round(p.x);
    byX.set(key, [...(byX.get(key) ?? []), p.y]);
  }
  for (const ys of byX.values()) {
    ys.sort((a, b) => a - b);
    for (let i = 1; i < ys.length; i++) expect(ys[i]! - ys[i - 1]!).toBeGreaterThanOrEqual(NODE_HEIGHT);
  }
  return byX.size;
}

describe.each(['dagre', 'layered'] as const)('layoutDag (%s)', (engine) => {
  it('puts every edge target in a later rank than its source (left to right)', () => {
    const ids = ['load', 'clean', 'features', 'train', 'evaluate', 'report'];
    const edges = [
      { source: 'load', target: 'clean', name: 'raw' },
      { source: 'clean', target: 'features', name: 'df' },
      { source: 'clean', target: 'train', name: 'df' },
      { source: 'features', target: 'train', name: 'x' },
      { source: 'train', target: 'evaluate', name: 'model' },
      { source: 'features', target: 'evaluate', name: 'x' },
      { source: 'evaluate', target: 'report', name: 'metrics' },
    ];
    const { positions } = layoutDag(ids, edges, engine);
    for (const e of edges) {
      expect(positions.get(e.target)!.x).toBeGreaterThanOrEqual(positions.get(e.source)!.x + NODE_WIDTH);
    }
    expectNoOverlapWithinRanks(positions);
  });

});

describe('layoutDag (auto)', () => {
  it.each([3, 20])('lays out 500 nodes (edge spread %i) in under a second, ranks respecting edges, no overlaps', (spread) => {
    const { ids, edges } = randomDag(500, spread);
    const t0 = performance.now();
    const { positions } = layoutDag(ids, edges);
    const ms = performance.now() - t0;
    console.info(`500-node layout: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(1000);
    expect(positions.size).toBe(500);
    for (const e of edges) expect(positions.get(e.target)!.x).toBeGreaterThan(positions.get(e.source)!.x);
    expect(expectNoOverlapWithinRanks(positions)).toBeGreaterThan(5);
  });

  it('handles isolated nodes, parallel edges, self loops and unknown ends', () => {
    const ids = ['a', 'b', 'lonely'];
    const edges = [
      { source: 'a', target: 'b', name: 'x' },
      { source: 'a', target: 'b', name: 'y' },
      { source: 'a', target: 'a', name: 'self' },
      { source: 'a', target: 'ghost', name: 'z' },
    ];
    expect(simplifyEdges(ids, edges)).toEqual([{ source: 'a', target: 'b', names: ['x', 'y'] }]);
    for (const engine of ['dagre', 'layered'] as const) {
      const { positions } = layoutDag(ids, edges, engine);
      expect(positions.size).toBe(3);
      expect(positions.get('b')!.x).toBeGreaterThan(positions.get('a')!.x);
      expectNoOverlapWithinRanks(positions);
    }
  });
});

describe('dagFromSteps', () => {
  it('links producers to consumers through artifact ids', () => {
    const a = { ...emptyStep('r', 'a'), outputs: { data: 'art1' } };
    const b = { ...emptyStep('r', 'b'), inputs: { data: 'art1' }, outputs: { model: 'art2' } };
    const c = { ...emptyStep('r', 'c'), inputs: { model: 'art2', data: 'art1' } };
    const dag = dagFromSteps('p', [a, b, c]);
    expect(dag.nodes.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    expect(dag.edges).toEqual([
      { source: 'a', target: 'b', name: 'data' },
      { source: 'b', target: 'c', name: 'model' },
      { source: 'a', target: 'c', name: 'data' },
    ]);
  });

  it('keys only on structure', () => {
    const d1 = dagFromSteps('p', [emptyStep('r', 'a'), emptyStep('r', 'b')]);
    const d2 = dagFromSteps('p', [emptyStep('r', 'a'), emptyStep('r', 'b')]);
    expect(dagKey(d1)).toBe(dagKey(d2));
    expect(dagKey(d1)).not.toBe(dagKey(dagFromSteps('p', [emptyStep('r', 'a')])));
  });
});
