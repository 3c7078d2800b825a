/**
 * A fast layered (Sugiyama-style) layout for big DAGs, left to right.
 *
 * dagre needs seconds for a 500-step DAG, so large graphs use this instead:
 * 1. ranks by longest path from the sources (sources pulled next to their first consumer),
 * 2. long edges split by virtual nodes, one per rank they cross,
 * 3. order within ranks by alternating barycenter sweeps,
 * 4. vertical positions by isotonic regression (pool-adjacent-violators): each node as
 *    close as possible to the mean of its neighbours, with no overlap inside a rank.
 * Everything is linear in nodes + virtual nodes per sweep.
 */

export interface LayeredOptions {
  nodeWidth: number;
  nodeHeight: number;
  rankGap: number;
  nodeGap: number;
  /** vertical room taken by an edge crossing a rank */
  virtualHeight: number;
  sweeps: number;
  margin: number;
}

export const defaultLayeredOptions: LayeredOptions = {
  nodeWidth: 200,
  nodeHeight: 58,
  rankGap: 56,
  nodeGap: 18,
  virtualHeight: 8,
  sweeps: 8,
  margin: 16,
};

interface LNode {
  id: number;
  rank: number;
  virtual: boolean;
  height: number;
  preds: number[];
  succs: number[];
  pos: number; // index inside its rank
  y: number; // centre
}

/** Longest-path ranks; a cycle (should not happen) is broken by ignoring back edges. */
function assignRanks(n: number, preds: number[][], succs: number[][]): number[] {
  const indeg = preds.map((p) => p.length);
  const rank = new Array<number>(n).fill(0);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue.push(i);
  const done = new Array<boolean>(n).fill(false);
  let head = 0;
  for (;;) {
    while (head < queue.length) {
      const u = queue[head++] as number;
      done[u] = true;
      for (const v of succs[u] as number[]) {
        rank[v] = Math.max(rank[v] as number, (rank[u] as number) + 1);
        indeg[v] = (indeg[v] as number) - 1;
        if (indeg[v] === 0) queue.push(v);
      }
    }
    const stuck = done.findIndex((d) => !d);
    if (stuck < 0) break;
    indeg[stuck] = 0; // break a cycle
    queue.push(stuck);
  }
  // pull sources right, next to their nearest consumer, to shorten edges
  for (let i = 0; i < n; i++) {
    if ((preds[i] as number[]).length === 0 && (succs[i] as number[]).length > 0) {
      const minSucc = Math.min(...(succs[i] as number[]).map((s) => rank[s] as number));
      rank[i] = Math.max(rank[i] as number, minSucc - 1);
    }
  }
  return rank;
}

/** Place values `want` in order with minimum gaps, minimising squared distance (PAVA). */
export function isotonicPlace(want: readonly number[], gaps: readonly number[]): number[] {
  const n = want.length;
  const offset = new Array<number>(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) acc += gaps[i] as number;
    offset[i] = acc;
  }
  // z_i = y_i - offset_i must be non-decreasing
  const blockValue: number[] = [];
  const blockWeight: number[] = [];
  const blockSize: number[] = [];
  for (let i = 0; i < n; i++) {
    let value = (want[i] as number) - (offset[i] as number);
    let weight = 1;
    let size = 1;
    while (blockValue.length > 0 && (blockValue[blockValue.length - 1] as number) > value) {
      const w = blockWeight.pop() as number;
      const v = blockValue.pop() as number;
      size += blockSize.pop() as number;
      value = (v * w + value * weight) / (w + weight);
      weight += w;
    }
    blockValue.push(value);
    blockWeight.push(weight);
    blockSize.push(size);
  }
  const y = new Array<number>(n);
  let i = 0;
  for (let b = 0; b < blockValue.length; b++) {
    for (let k = 0; k < (blockSize[b] as number); k++, i++) y[i] = (blockValue[b] as number) + (offset[i] as number);
  }
  return y;
}

export interface LayeredResult {
  /** top-left corner per input node index */
  x: number[];
  y: number[];
}

export function layeredLayout(
  nodeCount: number,
  edges: ReadonlyArray<readonly [number, number]>,
  options: LayeredOptions = defaultLayeredOptions,
): LayeredResult {
  const o = options;
  const preds: number[][] = Array.from({ length: nodeCount }, () => []);
  const succs: number[][] = Array.from({ length: nodeCount }, () => []);
  for (const [s, t] of edges) {
    (succs[s] as number[]).push(t);
    (preds[t] as number[]).push(s);
  }
  const rank = assignRanks(nodeCount, preds, succs);

  // graph with virtual nodes
  const nodes: LNode[] = [];
  for (let i = 0; i < nodeCount; i++) {
    nodes.push({ id: i, rank: rank[i] as number, virtual: false, height: o.nodeHeight, preds: [], succs: [], pos: 0, y: 0 });
  }
  const link = (a: number, b: number) => {
    (nodes[a] as LNode).succs.push(b);
    (nodes[b] as LNode).preds.push(a);
  };
  for (const [s, t] of edges) {
    let rs = rank[s] as number;
    const rt = rank[t] as number;
    if (rt <= rs) continue; // back edge of a broken cycle
    let prev = s;
    while (rt - rs > 1) {
      rs += 1;
      const v = nodes.length;
      nodes.push({ id: v, rank: rs, virtual: true, height: o.virtualHeight, preds: [], succs: [], pos: 0, y: 0 });
      link(prev, v);
      prev = v;
    }
    link(prev, t);
  }

  const rankCount = nodes.reduce((m, nd) => Math.max(m, nd.rank + 1), 0);
  const layers: LNode[][] = Array.from({ length: rankCount }, () => []);
  // initial order: DFS-ish (input order keeps declared order stable)
  for (const nd of nodes) (layers[nd.rank] as LNode[]).push(nd);
  layers.forEach((layer) => layer.forEach((nd, i) => (nd.pos = i)));

  const sortByBarycenter = (layer: LNode[], side: 'preds' | 'succs') => {
    const key = new Map<LNode, number>();
    for (const nd of layer) {
      const nb = nd[side];
      if (nb.length === 0) key.set(nd, nd.pos);
      else {
        let sum = 0;
        for (const j of nb) sum += (nodes[j] as LNode).pos;
        key.set(nd, sum / nb.length);
      }
    }
    layer.sort((a, b) => (key.get(a) as number) - (key.get(b) as number) || a.pos - b.pos);
    layer.forEach((nd, i) => (nd.pos = i));
  };
  for (let s = 0; s < o.sweeps; s++) {
    if (s % 2 === 0) for (let r = 1; r < rankCount; r++) sortByBarycenter(layers[r] as LNode[], 'preds');
    else for (let r = rankCount - 2; r >= 0; r--) sortByBarycenter(layers[r] as LNode[], 'succs');
  }

  // vertical placement
  const gapsOf = (layer: LNode[]) =>
    layer.map((nd, i) => (i === 0 ? 0 : ((layer[i - 1] as LNode).height + nd.height) / 2 + o.nodeGap));
  for (const layer of layers) {
    let y = 0;
    layer.forEach((nd, i) => {
      if (i > 0) y += ((layer[i - 1] as LNode).height + nd.height) / 2 + o.nodeGap;
      nd.y = y;
    });
  }
  const place = (layer: LNode[], side: 'preds' | 'succs' | 'both') => {
    const want = layer.map((nd) => {
      const nb = side === 'both' ? [...nd.preds, ...nd.succs] : nd[side];
      if (nb.length === 0) return nd.y;
      let sum = 0;
      for (const j of nb) sum += (nodes[j] as LNode).y;
      return sum / nb.length;
    });
    const ys = isotonicPlace(want, gapsOf(layer));
    layer.forEach((nd, i) => (nd.y = ys[i] as number));
  };
  for (let s = 0; s < 6; s++) {
    if (s % 2 === 0) for (let r = 1; r < rankCount; r++) place(layers[r] as LNode[], 'preds');
    else for (let r = rankCount - 2; r >= 0; r--) place(layers[r] as LNode[], 'succs');
  }
  for (const layer of layers) place(layer, 'both');

  let minTop = Infinity;
  for (let i = 0; i < nodeCount; i++) minTop = Math.min(minTop, (nodes[i] as LNode).y - o.nodeHeight / 2);
  if (!Number.isFinite(minTop)) minTop = 0;
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const nd = nodes[i] as LNode;
    x.push(o.margin + nd.rank * (o.nodeWidth + o.rankGap));
    y.push(o.margin + nd.y - o.nodeHeight / 2 - minTop);
  }
  return { x, y };
}
