import { instantiateKernels, type KernelExports } from './kernels/index.js';
import { wasm } from './kernels/index.js';
import {
  ACCUMULATOR_PLANES,
  NETWORK_PLANES,
  PROPERTY_PLANES,
  type AccumulatorPlane,
  type PropertyPlane,
} from '../model/planes.js';

export const REGIONS = [
  // Every parameter group, its gradient and Adam moments: [group][P][size] (ALL_KEYS order).
  'params',
  'grads',
  'adamM',
  'adamV',
  // W_outᵀ [P][nOut][N] (lesioned columns zeroed) and the accumulator of its gradient.
  'wOutT',
  'gradWOutT',
  // The glossary's natural values of the intrinsic properties as float32 rows [P][N], and the
  // accumulators of their derivatives [P][N].
  ...PROPERTY_PLANES,
  ...ACCUMULATOR_PLANES,
  // Σ u² and Σ s of each network (float64).
  'sums',
  ...NETWORK_PLANES,
  'xin',
  // The trajectory [T+1][P][B][N]: the glossary's TRAJECTORY_PLANES, with ψ after s and the adjoint z̄
  // of the filtered spikes before Ī.
  'I',
  'd',
  'u',
  'a',
  'adaptiveThreshold',
  's',
  'psi',
  'z',
  'zBar',
  'IBar',
  // s̄ from the recurrence and the readout, [P][B][N]; ū, d̄, ā of two steps, [2][3][P][B][N].
  'sBar',
  'adj',
  // The readout y and its adjoint ȳ, [T][P][B][nOut].
  'y',
  'yBar',
  'spikeIdx',
  'spikeOff',
] as const;
export type Region = (typeof REGIONS)[number];

/**
 * The kernels' operands, in one WebAssembly memory: weights and their gradients (kept across
 * growth), the intrinsic properties and their derivative accumulators, inputs, trajectory
 * [T+1][P][B][N] (slot 0: the initial state), ψ, Ī, the adjoints of d, u, a for two steps,
 * spike lists, readout and its gradient. Float32 except the spike lists and the f64 sums.
 */
export class Arena {
  readonly kernels: KernelExports;
  /** Byte offsets. */
  readonly at: Readonly<Record<Region, number>>;
  readonly f: Readonly<Record<Exclude<Region, 'spikeIdx' | 'spikeOff' | 'sums'>, Float32Array>>;
  readonly spikeIdx: Int32Array;
  readonly spikeOff: Int32Array;
  readonly sums: Float64Array;

  constructor(sizes: Readonly<Record<Region, number>>) {
    const at = {} as Record<Region, number>;
    let bytes = 0;
    for (const r of REGIONS) {
      at[r] = bytes;
      bytes += Math.ceil((sizes[r] * 4) / 64) * 64;
    }
    const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    this.kernels = instantiateKernels(memory);
    this.at = at;
    const f = {} as Record<Region, Float32Array>;
    for (const r of REGIONS) f[r] = new Float32Array(memory.buffer, at[r], sizes[r]);
    this.f = f;
    this.spikeIdx = new Int32Array(memory.buffer, at.spikeIdx, sizes.spikeIdx);
    this.spikeOff = new Int32Array(memory.buffer, at.spikeOff, sizes.spikeOff);
    this.sums = new Float64Array(memory.buffer, at.sums, sizes.sums / 2);
  }
}

/** The sizes the arena's regions depend on: P networks of nIn inputs, N neurons, nOut outputs, `total` parameters each. */
export interface ArenaShape {
  readonly P: number;
  readonly N: number;
  readonly nIn: number;
  readonly nOut: number;
  readonly total: number;
}

/** Floats (int32 for the spike lists) of every region, for `slots` trajectory slots of B trials. */
export function regionSizes(shape: ArenaShape, slots: number, B: number): Record<Region, number> {
  const { P, N, nIn, nOut } = shape;
  const traj = slots * P * B * N;
  const all = P * shape.total;
  // The glossary's per-neuron planes, [P][N] each.
  const perNeuron = Object.fromEntries([...PROPERTY_PLANES, ...ACCUMULATOR_PLANES].map((r) => [r, P * N])) as Record<
    PropertyPlane | AccumulatorPlane,
    number
  >;
  return {
    params: all,
    grads: all,
    adamM: all,
    adamV: all,
    wOutT: P * nOut * N,
    gradWOutT: P * nOut * N,
    sums: 4 * P,
    xin: P * slots * B * nIn,
    I: traj,
    d: traj,
    u: traj,
    a: traj,
    adaptiveThreshold: traj,
    s: traj,
    psi: traj,
    z: traj,
    zBar: traj,
    IBar: traj,
    sBar: P * B * N,
    adj: 6 * P * B * N,
    y: slots * P * B * nOut,
    yBar: slots * P * B * nOut,
    spikeIdx: traj,
    spikeOff: slots * P * B + 1,
    ...perNeuron,
    homeostaticFactor: P,
  };
}
