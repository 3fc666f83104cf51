import { Rng } from '@ip2/snn';
import type { Learner } from '../learner.js';
import type { Numbers } from './stats.js';

function checkSquare(n: number, a: Numbers, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (a.length !== n * n) throw new RangeError(`${what} has ${a.length} values, expected ${n}×${n}`);
}

/**
 * The undirected weighted graph of a recurrent weight matrix ([pre][post], row-major):
 * A = (|W| + |W|ᵀ) / 2 with a zero diagonal. Excitatory and inhibitory connections count alike.
 */
export function undirectedGraph(n: number, w: Numbers): Float64Array {
  checkSquare(n, w, 'the weight matrix');
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = (Math.abs(w[i * n + j]!) + Math.abs(w[j * n + i]!)) / 2;
      if (!Number.isFinite(v)) throw new RangeError(`weight (${i}, ${j}) or (${j}, ${i}) is not finite`);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

function checkGraph(n: number, a: Numbers): void {
  checkSquare(n, a, 'the adjacency matrix');
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = a[i * n + j]!;
      if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`edge weight (${i}, ${j}) must be finite and ≥ 0`);
      if (v !== a[j * n + i]!) throw new RangeError(`the adjacency matrix is not symmetric at (${i}, ${j})`);
    }
  }
}

function strengths(n: number, a: Numbers): Float64Array {
  const k = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j]!;
    k[i] = s;
  }
  return k;
}

/**
 * Newman's modularity Q = (1/2m) Σ_ij [A_ij − k_i k_j / 2m] δ(c_i, c_j) of a partition of a
 * symmetric, non-negative weighted graph (k_i the strength of node i, 2m = Σ_ij A_ij). NaN for a
 * graph without edges.
 */
export function modularity(n: number, a: Numbers, communities: Numbers): number {
  checkGraph(n, a);
  if (communities.length !== n) throw new RangeError(`${communities.length} community labels for ${n} nodes`);
  const k = strengths(n, a);
  let twoM = 0;
  for (const x of k) twoM += x;
  if (twoM === 0) return Number.NaN;
  const inside = new Map<number, number>();
  const total = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const c = communities[i]!;
    total.set(c, (total.get(c) ?? 0) + k[i]!);
    let s = 0;
    for (let j = 0; j < n; j++) if (communities[j] === c) s += a[i * n + j]!;
    inside.set(c, (inside.get(c) ?? 0) + s);
  }
  let q = 0;
  for (const [c, tot] of total) q += inside.get(c)! / twoM - (tot / twoM) ** 2;
  return q;
}

export interface CommunityOptions {
  /** Seed of the power iteration's start vectors (drawn from `Rng`). */
  readonly seed?: number;
  /** Power-iteration cap per bisection. */
  readonly maxIterations?: number;
  /** Stop when the unit vector moves less than this (Euclidean norm) in one iteration. */
  readonly tolerance?: number;
  /** Fine-tune each bisection by moving single nodes while that raises Q (Newman 2006, §“refinement”). */
  readonly refine?: boolean;
}

export interface Communities {
  /** Community of each node, numbered 0, 1, … in order of each community's lowest node. */
  readonly labels: Int32Array;
  readonly count: number;
  /** Nodes per community. */
  readonly sizes: readonly number[];
  /** Modularity of this partition. */
  readonly q: number;
}

/**
 * Communities by Newman's leading-eigenvector method (PNAS 2006): split a group in two by the signs
 * of the leading eigenvector of its generalised modularity matrix B⁽ᵍ⁾, optionally fine-tune the
 * split, and keep splitting while a split raises Q. The eigenvector comes from power iteration on
 * B⁽ᵍ⁾ + cI, with c a Gershgorin bound so that the most positive eigenvalue dominates; its start
 * vector is drawn from a seeded `Rng`, so the result is the same on every machine.
 */
export function detectCommunities(n: number, a: Numbers, options: CommunityOptions = {}): Communities {
  checkGraph(n, a);
  const maxIterations = options.maxIterations ?? 10_000;
  const tolerance = options.tolerance ?? 1e-10;
  const refine = options.refine ?? true;
  const rng = Rng.seeded(options.seed ?? 0, 'leading-eigenvector');
  const k = strengths(n, a);
  let twoM = 0;
  for (const x of k) twoM += x;

  const bisect = (g: readonly number[]): [number[], number[]] | null => {
    const m = g.length;
    if (m < 2 || twoM === 0) return null;
    const b = new Float64Array(m * m);
    for (let x = 0; x < m; x++) {
      const i = g[x]!;
      let row = 0;
      for (let y = 0; y < m; y++) {
        const j = g[y]!;
        const v = a[i * n + j]! - (k[i]! * k[j]!) / twoM;
        b[x * m + y] = v;
        row += v;
      }
      b[x * m + x]! -= row;
    }
    let shift = 0;
    for (let x = 0; x < m; x++) {
      let s = 0;
      for (let y = 0; y < m; y++) s += Math.abs(b[x * m + y]!);
      shift = Math.max(shift, s);
    }
    if (shift === 0) return null;

    const v = Float64Array.from({ length: m }, () => rng.range(-1, 1));
    const normalise = (u: Float64Array) => {
      let s = 0;
      for (const e of u) s += e * e;
      const norm = Math.sqrt(s);
      for (let x = 0; x < m; x++) u[x] = u[x]! / norm;
    };
    normalise(v);
    const next = new Float64Array(m);
    for (let it = 0; it < maxIterations; it++) {
      for (let x = 0; x < m; x++) {
        let s = shift * v[x]!;
        for (let y = 0; y < m; y++) s += b[x * m + y]! * v[y]!;
        next[x] = s;
      }
      normalise(next);
      let moved = 0;
      for (let x = 0; x < m; x++) moved += (next[x]! - v[x]!) ** 2;
      v.set(next);
      if (Math.sqrt(moved) < tolerance) break;
    }
    // Rayleigh quotient of B⁽ᵍ⁾: no positive eigenvalue means no split raises Q.
    let lambda = 0;
    for (let x = 0; x < m; x++) {
      let s = 0;
      for (let y = 0; y < m; y++) s += b[x * m + y]! * v[y]!;
      lambda += v[x]! * s;
    }
    if (lambda <= 1e-12 * shift) return null;

    const s = Int8Array.from(v, (e) => (e >= 0 ? 1 : -1));
    // h_x = Σ_y B_xy s_y; flipping x changes sᵀBs by −4 s_x (h_x − B_xx s_x).
    const h = new Float64Array(m);
    for (let x = 0; x < m; x++) {
      let t = 0;
      for (let y = 0; y < m; y++) t += b[x * m + y]! * s[y]!;
      h[x] = t;
    }
    if (refine) {
      const eps = 1e-12 * shift;
      for (;;) {
        let best = -1;
        let bestGain = eps;
        for (let x = 0; x < m; x++) {
          const gain = -4 * s[x]! * (h[x]! - b[x * m + x]! * s[x]!);
          if (gain > bestGain) {
            bestGain = gain;
            best = x;
          }
        }
        if (best < 0) break;
        const old = s[best]!;
        s[best] = -old;
        for (let x = 0; x < m; x++) h[x]! -= 2 * b[x * m + best]! * old;
      }
    }
    let f = 0;
    for (let x = 0; x < m; x++) f += s[x]! * h[x]!;
    // ΔQ = sᵀB⁽ᵍ⁾s / 4m.
    if (f / (2 * twoM) <= 1e-12) return null;
    const plus: number[] = [];
    const minus: number[] = [];
    for (let x = 0; x < m; x++) (s[x]! > 0 ? plus : minus).push(g[x]!);
    return plus.length === 0 || minus.length === 0 ? null : [plus, minus];
  };

  const queue: number[][] = [Array.from({ length: n }, (_, i) => i)];
  const done: number[][] = [];
  while (queue.length > 0) {
    const g = queue.shift()!;
    const split = bisect(g);
    if (split) queue.push(...split);
    else done.push(g);
  }
  done.sort((x, y) => Math.min(...x) - Math.min(...y));
  const labels = new Int32Array(n);
  done.forEach((g, c) => g.forEach((i) => (labels[i] = c)));
  return { labels, count: done.length, sizes: done.map((g) => g.length), q: modularity(n, a, labels) };
}

export interface RecurrentModularity extends Communities {
  /** Neurons (nodes). */
  readonly n: number;
}

/** Modularity and communities of a learner's recurrent graph (see `undirectedGraph`). */
export function recurrentModularity(
  learner: Pick<Learner, 'model' | 'recurrentWeights'>,
  options: CommunityOptions = {},
): RecurrentModularity {
  if (!learner.recurrentWeights) throw new RangeError(`model '${learner.model}' exposes no recurrent weights`);
  const { n, w } = learner.recurrentWeights();
  return { n, ...detectCommunities(n, undirectedGraph(n, w), options) };
}
