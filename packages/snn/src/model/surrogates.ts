/**
 * Surrogate derivatives of the spike nonlinearity (SCIENCE.md §2). The forward pass is a hard
 * threshold; the backward pass replaces dH/dv with ψ(v), v = u − ϑ, scaled by the neuron's base
 * threshold θ so that the surrogate's width is relative to the distance to threshold.
 */

export const SURROGATE_NAMES = ['fast-sigmoid', 'arctan', 'multi-gaussian'] as const;
export type SurrogateName = (typeof SURROGATE_NAMES)[number];

export interface SurrogateParams {
  readonly name: SurrogateName;
  /** Peak height ψ(0) (dampening factor). */
  readonly gamma: number;
  /** Sharpness: larger is narrower. */
  readonly kappa: number;
}

/** Multi-Gaussian (Yin et al. 2021) shape constants: side-lobe height and width ratio. */
export const MG_H = 0.15;
export const MG_S = 6;

export function isSurrogateName(name: string): name is SurrogateName {
  return (SURROGATE_NAMES as readonly string[]).includes(name);
}

export function assertSurrogateName(name: string): SurrogateName {
  if (!isSurrogateName(name)) {
    throw new RangeError(`unknown surrogate '${name}'; valid: ${SURROGATE_NAMES.join(', ')}`);
  }
  return name;
}

/**
 * ψ(v; θ): the surrogate derivative at v = u − ϑ for a neuron of base threshold θ. Closed forms,
 * with x = v / θ:
 *  - fast-sigmoid:   γ / (1 + κ|x|)²
 *  - arctan:         γ / (1 + (π κ x / 2)²)
 *  - multi-gaussian: γ [ (1+h) g(x; 0, σ) − h g(x; σ, sσ) − h g(x; −σ, sσ) ] / c,
 *                    g(x; μ, s) = exp(−(x−μ)²/(2s²)), σ = 1/κ, c normalises the value at 0 to γ.
 */
export function surrogate(params: SurrogateParams, v: number, theta: number): number {
  const x = v / theta;
  const { gamma, kappa } = params;
  switch (params.name) {
    case 'fast-sigmoid': {
      const d = 1 + kappa * Math.abs(x);
      return gamma / (d * d);
    }
    case 'arctan': {
      const z = (Math.PI * kappa * x) / 2;
      return gamma / (1 + z * z);
    }
    case 'multi-gaussian': {
      const sigma = 1 / kappa;
      return (gamma * mgShape(x, sigma)) / mgShape(0, sigma);
    }
  }
}

export function mgShape(x: number, sigma: number): number {
  const s2 = sigma * sigma;
  const w2 = MG_S * MG_S * s2;
  return (
    (1 + MG_H) * Math.exp(-(x * x) / (2 * s2)) -
    MG_H * Math.exp(-((x - sigma) * (x - sigma)) / (2 * w2)) -
    MG_H * Math.exp(-((x + sigma) * (x + sigma)) / (2 * w2))
  );
}
