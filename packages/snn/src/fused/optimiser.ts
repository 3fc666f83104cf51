import type { ParamKey } from '../engine.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import type { FusedCore } from './core.js';

/**
 * The optimiser step of network p: clip by global norm over the trainable groups, decoupled weight
 * decay, then Adam with bias correction (or plain SGD for the properties), then the τ clamp.
 */
export function optimiserStep(core: FusedCore, p: number): void {
  const m = core.members[p]!;
  const o = m.config.optimizer;
  const K = core.arena.kernels;
  let sq = 0;
  for (const k of m.trainable) sq += K.sum_squares(core.addr('grads', k, p), core.sizes[k]);
  const norm = Math.sqrt(sq);
  core.gradNorms[p] = norm;
  const scale = o.clipNorm > 0 ? Math.min(1, o.clipNorm / Math.max(norm, 1e-30)) : 1;
  const bc1 = 1 - Math.pow(o.beta1, m.step);
  const bc2 = 1 - Math.pow(o.beta2, m.step);
  for (const k of m.trainable) {
    const lambda = m.decay[k];
    const w = core.addr('params', k, p);
    // Decoupled weight decay (w ← w − lr·λ·w) before the optimiser's step.
    if (lambda !== 0) K.axpy(w, w, core.sizes[k], -m.lr[k] * lambda);
    if (m.sgdProperties && isProperty(k)) {
      K.axpy(w, core.addr('grads', k, p), core.sizes[k], -m.lr[k] * scale);
    } else {
      K.adam(
        core.addr('params', k, p),
        core.addr('grads', k, p),
        core.addr('adamM', k, p),
        core.addr('adamV', k, p),
        core.sizes[k],
        scale,
        m.lr[k],
        o.beta1,
        1 - o.beta1,
        o.beta2,
        1 - o.beta2,
        bc1,
        bc2,
        o.eps,
      );
    }
    const range = m.tauRange[k];
    if (range) {
      const v = core.params[k];
      const [lo, hi] = range;
      for (let i = p * core.sizes[k]; i < (p + 1) * core.sizes[k]; i++) {
        const x = v[i]!;
        if (x < lo) v[i] = lo;
        else if (x > hi) v[i] = hi;
      }
    }
  }
}

function isProperty(k: ParamKey): boolean {
  return (PROPERTY_KEYS as readonly string[]).includes(k);
}
