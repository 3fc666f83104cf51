import { hasAdaptation, type NetworkConfig } from '../model/config.js';
import type { NetworkState, ParamKey } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { decayRate, learningRate, tauRange, trainableKeys } from '../network.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { Rng } from '../rng.js';
import { MG_H, MG_S } from '../model/surrogates.js';

const ALL_GROUPS: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];

/** Surrogate codes used inside the kernels (a switch on a small integer, not on a string). */
export const SURROGATE_FAST_SIGMOID = 0;
export const SURROGATE_ARCTAN = 1;
export const SURROGATE_MULTI_GAUSSIAN = 2;

/**
 * The scalar settings of one network of a fused core: everything the kernels branch on, resolved
 * once from its configuration, plus the small mutable state (optimiser step, σ_h, noise stream).
 */
export class Member {
  readonly config: NetworkConfig;
  readonly adapt: boolean;
  readonly soft: boolean;
  readonly surrogate: number;
  readonly gamma: number;
  readonly kappa: number;
  /** Multi-Gaussian: 1/κ, 2 (MG_S/κ)², and γ / shape(0). */
  readonly mgSigma: number;
  readonly mgW2: number;
  readonly mgScale: number;
  readonly xent: boolean;
  readonly trainable: readonly ParamKey[];
  readonly trainableSet: ReadonlySet<ParamKey>;
  readonly trainWeights: boolean;
  readonly lr: Readonly<Record<ParamKey, number>>;
  /** Decoupled weight-decay rate of each group (0: none). */
  readonly decay: Readonly<Record<ParamKey, number>>;
  /** Float32 [log min, log max] of each time constant clamped after a step (null: no clamp). */
  readonly tauRange: Readonly<Record<ParamKey, readonly [number, number] | null>>;
  /** Properties step by plain gradient descent instead of Adam. */
  readonly sgdProperties: boolean;
  /** Spike readout (leaky output units over the spikes) instead of the membrane readout. */
  readonly spikeReadout: boolean;
  /** κ = exp(−dt/τ_out) of the spike readout. */
  readonly kappaOut: number;
  /** The time constants are clamped after each step (their gradient is never cut inside the pass). */
  readonly clampAfterStep: boolean;
  /** The weight penalty is inside the loss (version 1) rather than decoupled. */
  readonly l2InLoss: boolean;
  step: number;
  homeostaticTarget: number | null;
  readonly rng: Rng;

  constructor(state: NetworkState) {
    const c = state.config;
    this.config = c;
    this.adapt = hasAdaptation(c);
    this.soft = c.spike === 'soft';
    const s = c.surrogate;
    this.surrogate =
      s.name === 'fast-sigmoid'
        ? SURROGATE_FAST_SIGMOID
        : s.name === 'arctan'
          ? SURROGATE_ARCTAN
          : SURROGATE_MULTI_GAUSSIAN;
    this.gamma = s.gamma;
    this.kappa = s.kappa;
    const sigma = 1 / s.kappa;
    this.mgSigma = sigma;
    this.mgW2 = 2 * MG_S * MG_S * sigma * sigma;
    this.mgScale = s.gamma / (1 + MG_H - 2 * MG_H * Math.exp(-(sigma * sigma) / this.mgW2));
    this.xent = c.loss.kind === 'xent';
    this.trainable = trainableKeys(c);
    this.trainableSet = new Set(this.trainable);
    this.trainWeights = c.trainWeights;
    this.lr = {
      wIn: learningRate(c, 'wIn'),
      wRec: learningRate(c, 'wRec'),
      b: learningRate(c, 'b'),
      wOut: learningRate(c, 'wOut'),
      bOut: learningRate(c, 'bOut'),
      tauD: learningRate(c, 'tauD'),
      tauS: learningRate(c, 'tauS'),
      theta: learningRate(c, 'theta'),
      beta: learningRate(c, 'beta'),
      tauA: learningRate(c, 'tauA'),
    };
    const perGroup = <T>(f: (k: ParamKey) => T) =>
      Object.fromEntries(ALL_GROUPS.map((k) => [k, f(k)])) as Record<ParamKey, T>;
    this.decay = perGroup((k) => decayRate(c, k));
    this.tauRange = perGroup((k) => tauRange(c, k));
    this.sgdProperties = c.optimizer.properties === 'sgd';
    this.spikeReadout = c.readout === 'spikes';
    this.kappaOut = Math.exp(-c.dt / c.tauOut);
    this.clampAfterStep = c.tauClamp.mode === 'step';
    this.l2InLoss = c.weightDecay.mode === 'loss';
    this.step = state.adam.step;
    this.homeostaticTarget = state.homeostaticTarget;
    this.rng = Rng.fromState(state.rng);
  }
}
