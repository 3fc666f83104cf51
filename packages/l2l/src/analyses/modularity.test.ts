import { describe, expect, it } from 'vitest';
import { Rng } from '@ip2/snn';
import type { Learner } from '../learner.js';
import { detectCommunities, modularity, recurrentModularity, undirectedGraph } from './modularity.js';

/** Symmetric 0/1 adjacency from an edge list. */
function graph(n: number, edges: readonly (readonly [number, number])[], weight = 1): Float64Array {
  const a = new Float64Array(n * n);
  for (const [i, j] of edges) {
    a[i * n + j] = weight;
    a[j * n + i] = weight;
  }
  return a;
}

function clique(nodes: readonly number[]): [number, number][] {
  const e: [number, number][] = [];
  for (let x = 0; x < nodes.length; x++) for (let y = x + 1; y < nodes.length; y++) e.push([nodes[x]!, nodes[y]!]);
  return e;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** k cliques of m nodes, clique c's last node joined to clique c+1's first. */
function ringOfCliques(k: number, m: number): Float64Array {
  const edges: [number, number][] = [];
  for (let c = 0; c < k; c++) {
    edges.push(...clique(range(c * m, m)));
    edges.push([c * m + m - 1, ((c + 1) % k) * m]);
  }
  return graph(k * m, edges);
}

describe("Newman's Q of a given partition", () => {
  it('two disconnected cliques split into themselves: Q = 1/2', () => {
    const a = graph(8, [...clique(range(0, 4)), ...clique(range(4, 4))]);
    expect(modularity(8, a, [0, 0, 0, 0, 1, 1, 1, 1])).toBeCloseTo(0.5, 14);
  });

  it('the path 0–1–2–3 cut in the middle: Q = 2 (2/6 − (3/6)²) = 1/6', () => {
    const a = graph(4, [
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(modularity(4, a, [0, 0, 1, 1])).toBeCloseTo(1 / 6, 14);
  });

  it('one community always gives 0; singletons give −Σ(k_i/2m)²', () => {
    const a = graph(6, clique(range(0, 6)));
    expect(modularity(6, a, new Array(6).fill(7))).toBeCloseTo(0, 14);
    expect(modularity(6, a, range(0, 6))).toBeCloseTo(-1 / 6, 14);
  });

  it('a ring of k cliques of m nodes split into its cliques: Q = e/(e+1) − 1/k, e = m(m−1)/2', () => {
    const a = ringOfCliques(6, 5);
    const labels = range(0, 30).map((i) => Math.floor(i / 5));
    expect(modularity(30, a, labels)).toBeCloseTo(10 / 11 - 1 / 6, 14);
  });

  it('weights count: a weak bridge between two triangles', () => {
    // Triangles of weight 1 joined by one edge of weight w: 2m = 12 + 2w, each side's strength 6 + w.
    const w = 0.25;
    const a = graph(6, [...clique([0, 1, 2]), ...clique([3, 4, 5])]);
    a[2 * 6 + 3] = w;
    a[3 * 6 + 2] = w;
    const twoM = 12 + 2 * w;
    expect(modularity(6, a, [0, 0, 0, 1, 1, 1])).toBeCloseTo(2 * (6 / twoM - ((6 + w) / twoM) ** 2), 14);
  });

  it('rejects what is not an undirected weighted graph; no edges gives NaN', () => {
    const a = graph(3, [[0, 1]]);
    a[1 * 3 + 2] = 1;
    expect(() => modularity(3, a, [0, 0, 1])).toThrow(/not symmetric/);
    expect(() => modularity(2, [0, -1, -1, 0], [0, 1])).toThrow(/≥ 0/);
    expect(modularity(3, new Float64Array(9), [0, 1, 2])).toBeNaN();
  });
});

describe('the undirected graph of a recurrent weight matrix', () => {
  it('takes (|W| + |W|ᵀ)/2 and drops self-connections', () => {
    const w = Float32Array.from([5, -2, 0, 1, 3, 4, 0, -1, 9]);
    expect(Array.from(undirectedGraph(3, w))).toEqual([0, 1.5, 0, 1.5, 0, 2.5, 0, 2.5, 0]);
  });
});

describe('leading-eigenvector community detection', () => {
  it('finds two disconnected cliques (Q = 1/2)', () => {
    const a = graph(8, [...clique([0, 2, 4, 6]), ...clique([1, 3, 5, 7])]);
    const c = detectCommunities(8, a);
    expect(Array.from(c.labels)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect(c).toMatchObject({ count: 2, sizes: [4, 4] });
    expect(c.q).toBeCloseTo(0.5, 14);
  });

  it('leaves a complete graph whole (Q = 0)', () => {
    const c = detectCommunities(7, graph(7, clique(range(0, 7))));
    expect(c.count).toBe(1);
    expect(c.q).toBeCloseTo(0, 14);
  });

  it('recovers every clique of a ring of cliques', () => {
    const c = detectCommunities(30, ringOfCliques(6, 5));
    expect(Array.from(c.labels)).toEqual(range(0, 30).map((i) => Math.floor(i / 5)));
    expect(c.q).toBeCloseTo(10 / 11 - 1 / 6, 12);
  });

  it('recovers planted groups of a noisy weighted graph, the same way for every seed', () => {
    const n = 40;
    const rng = Rng.seeded(3, 'planted');
    const group = (i: number) => i % 4;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) {
        const v = (group(i) === group(j) ? 1 : 0.15) * rng.uniform();
        a[i * n + j] = v;
        a[j * n + i] = v;
      }
    const c = detectCommunities(n, a, { seed: 1 });
    expect(c.count).toBe(4);
    expect(Array.from(c.labels)).toEqual(range(0, n).map(group));
    expect(c.q).toBeCloseTo(modularity(n, a, c.labels), 14);
    expect(Array.from(detectCommunities(n, a, { seed: 99 }).labels)).toEqual(Array.from(c.labels));
  });

  it('is deterministic and its Q is that of the partition it returns', () => {
    const n = 25;
    const rng = Rng.seeded(11, 'random-graph');
    const a = undirectedGraph(
      n,
      Float64Array.from({ length: n * n }, () => rng.normal()),
    );
    const c1 = detectCommunities(n, a, { seed: 5 });
    const c2 = detectCommunities(n, a, { seed: 5 });
    expect(Array.from(c1.labels)).toEqual(Array.from(c2.labels));
    expect(c1.q).toBe(c2.q);
    expect(c1.q).toBeCloseTo(modularity(n, a, c1.labels), 14);
    expect(c1.q).toBeGreaterThanOrEqual(0);
    expect(c1.sizes.reduce((s, x) => s + x, 0)).toBe(n);
  });

  it('a graph without edges is one community with an undefined Q', () => {
    const c = detectCommunities(4, new Float64Array(16));
    expect(c.count).toBe(1);
    expect(c.q).toBeNaN();
  });

  it('needs a model with recurrent weights', () => {
    expect(() => recurrentModularity({ model: 'lstm' } as Learner)).toThrow(/no recurrent weights/);
  });
});
