import type { NetworkState, TrialBatch } from './engine.js';
import { FusedEngine } from './fused/fused-engine.js';

/** Firing rate in Hz of `spikesPerStep` spikes per neuron per step of `dt` ms. */
export function rateHz(spikesPerStep: number, dt: number): number {
  return (spikesPerStep * 1000) / dt;
}

export interface Calibration {
  /** The state with every neuron's bias shifted by `shift`. */
  readonly state: NetworkState;
  readonly shift: number;
  /** Initial firing rate (Hz) on the calibration batch before and after. */
  readonly before: number;
  readonly after: number;
}

/**
 * Shifts every neuron's bias by one shared amount so that the network's mean firing rate on `batch`
 * is near `targetHz` (SCIENCE.md §2, drive at initialisation). Deterministic: a bisection of the
 * shift over [−8, 8] (in units of the threshold's scale) with the fused engine's forward pass, 30
 * halvings at most, stopping once the rate is within 5% of the target. The network is otherwise
 * untouched; a network already within 5% is returned as it is.
 */
export function calibrateFiringRate(state: NetworkState, batch: TrialBatch, targetHz: number): Calibration {
  if (!(targetHz > 0)) throw new RangeError(`firing target must be positive, got ${targetHz}`);
  const dt = state.config.dt;
  const bias = state.params.b;
  const rateAt = (shift: number): number => {
    const b = Float32Array.from(bias, (x) => x + shift);
    const e = FusedEngine.create({ ...state, params: { ...state.params, b } });
    try {
      return rateHz(e.evaluate(batch).firingRate, dt);
    } finally {
      e.dispose();
    }
  };
  const before = rateAt(0);
  const close = (r: number) => Math.abs(r - targetHz) <= 0.05 * targetHz;
  if (close(before)) return { state, shift: 0, before, after: before };
  let lo = -8;
  let hi = 8;
  let shift = 0;
  let after = before;
  for (let i = 0; i < 30; i++) {
    shift = (lo + hi) / 2;
    after = rateAt(shift);
    if (close(after)) break;
    if (after < targetHz) lo = shift;
    else hi = shift;
  }
  const shifted = Float32Array.from(bias, (x) => x + shift);
  return { state: { ...state, params: { ...state.params, b: shifted } }, shift, before, after };
}
