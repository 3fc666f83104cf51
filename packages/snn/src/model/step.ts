/**
 * One time step of a population of IP²-RSNN neurons (SCIENCE.md §2), in plain float64: the
 * equations as written, one neuron at a time. The engines (fused WebAssembly, TensorFlow.js, WGSL)
 * compute the same update in their own way; the float64 reference forward pass (reference.ts) is
 * built from this function, and the tests hold every engine to it.
 */

/** Per-neuron parameters of a population, natural values (not the engines' raw parameterisation). */
export interface NeuronParams {
  /** Dendritic and somatic time constants τ_d, τ_s (ms), [N]. */
  readonly tauD: ArrayLike<number>;
  readonly tauS: ArrayLike<number>;
  /** Base firing threshold θ, [N]. */
  readonly theta: ArrayLike<number>;
  /** Adaptation strength β and time constant τ_a (ms), [N]; read only when `adapt` is true. */
  readonly beta: ArrayLike<number>;
  readonly tauA: ArrayLike<number>;
  /** Whether the adaptation variable integrates the spikes (false: a ≡ 0, the paper's neuron). */
  readonly adapt: boolean;
  /**
   * 'hard': s = H(u − ϑ). 'soft': s = σ(κ (u − ϑ) / θ), a smooth spike for exact gradient checks,
   * with κ = `softness`.
   */
  readonly spike: 'hard' | 'soft';
  readonly softness: number;
  /** Time constant τ_out (ms) of the spike readout's filter z; null: no filter (membrane readout, z ≡ 0). */
  readonly tauOut: number | null;
}

/** The state of a population after a step, each [N]. */
export interface NeuronState {
  /** Dendritic current. */
  readonly d: Float64Array;
  /** Somatic potential. */
  readonly u: Float64Array;
  /** Adaptation. */
  readonly a: Float64Array;
  /** Adaptive threshold ϑ = θ + β a. */
  readonly thr: Float64Array;
  /** Spikes. */
  readonly s: Float64Array;
  /** Filtered spike train of the spike readout. */
  readonly z: Float64Array;
}

/** The state before the first step: everything zero, ϑ = θ. */
export function initialState(params: NeuronParams): NeuronState {
  const n = params.theta.length;
  return {
    d: new Float64Array(n),
    u: new Float64Array(n),
    a: new Float64Array(n),
    thr: Float64Array.from(params.theta),
    s: new Float64Array(n),
    z: new Float64Array(n),
  };
}

/**
 * The synaptic input I = b + W_in x + W_rec s_prev of one trial, summed in that order (inputs
 * channel by channel, then presynaptic neurons in index order). Layouts as in Params: wIn
 * [nIn][N], wRec [N pre][N post].
 */
export function synapticInput(
  x: ArrayLike<number>,
  sPrev: ArrayLike<number>,
  wIn: ArrayLike<number>,
  wRec: ArrayLike<number>,
  b: ArrayLike<number>,
): Float64Array {
  const N = b.length;
  const nIn = x.length;
  const I = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let sum = b[i]!;
    for (let k = 0; k < nIn; k++) sum += x[k]! * wIn[k * N + i]!;
    for (let j = 0; j < N; j++) sum += sPrev[j]! * wRec[j * N + i]!;
    I[i] = sum;
  }
  return I;
}

/**
 * One step of `dt` ms from `state` under the synaptic input I[t] (`input`, [N]); returns the new
 * state (the old one is not changed):
 *
 *     d[t] = α_d d[t−1] + (1 − α_d) I[t]                α_d = exp(−dt/τ_d)
 *     u[t] = α_s u[t−1] + (1 − α_s) d[t] − ϑ[t−1] s[t−1]  α_s = exp(−dt/τ_s)   (soft reset)
 *     a[t] = ρ a[t−1] + (1 − ρ) s[t−1]                   ρ = exp(−dt/τ_a)
 *     ϑ[t] = θ + β a[t]
 *     s[t] = H(u[t] − ϑ[t])
 *     z[t] = κ z[t−1] + (1 − κ) s[t]                     κ = exp(−dt/τ_out)
 */
export function step(input: ArrayLike<number>, state: NeuronState, params: NeuronParams, dt: number): NeuronState {
  const N = params.theta.length;
  const { tauD, tauS, theta, beta, tauA, adapt } = params;
  const next: NeuronState = {
    d: new Float64Array(N),
    u: new Float64Array(N),
    a: new Float64Array(N),
    thr: new Float64Array(N),
    s: new Float64Array(N),
    z: new Float64Array(N),
  };
  const kappa = params.tauOut === null ? 0 : Math.exp(-dt / params.tauOut);
  for (let i = 0; i < N; i++) {
    const aD = Math.exp(-dt / tauD[i]!);
    const aS = Math.exp(-dt / tauS[i]!);
    const sPrev = state.s[i]!;
    const d = aD * state.d[i]! + (1 - aD) * input[i]!;
    const u = aS * state.u[i]! + (1 - aS) * d - state.thr[i]! * sPrev;
    let a = state.a[i]!;
    if (adapt) {
      const rho = Math.exp(-dt / tauA[i]!);
      a = rho * a + (1 - rho) * sPrev;
    }
    const thr = theta[i]! + (adapt ? beta[i]! : 0) * a;
    const v = u - thr;
    const s = params.spike === 'soft' ? 1 / (1 + Math.exp((-params.softness * v) / theta[i]!)) : v > 0 ? 1 : 0;
    next.d[i] = d;
    next.u[i] = u;
    next.a[i] = a;
    next.thr[i] = thr;
    next.s[i] = s;
    if (params.tauOut !== null) next.z[i] = kappa * state.z[i]! + (1 - kappa) * s;
  }
  return next;
}
