/**
 * Intrinsic properties of the neurons (SCIENCE.md §3): each neuron has its own value of each. The
 * engines learn them in an unconstrained parameterisation ("raw"); these are the transforms.
 */

export const PROPERTY_KEYS = ['tauD', 'tauS', 'theta', 'beta', 'tauA'] as const;
export type PropertyKey = (typeof PROPERTY_KEYS)[number];

/** The paper's search space. */
export const PAPER_SPACE: readonly PropertyKey[] = ['tauD', 'tauS', 'theta'];

export const PROPERTY_INFO: Readonly<
  Record<PropertyKey, { readonly name: string; readonly kind: 'tau' | 'softplus'; readonly source: 'paper' | 'ip2' }>
> = {
  tauD: { name: 'dendritic time constant τ_d (ms)', kind: 'tau', source: 'paper' },
  tauS: { name: 'somatic time constant τ_s (ms)', kind: 'tau', source: 'paper' },
  theta: { name: 'firing threshold θ', kind: 'softplus', source: 'paper' },
  beta: { name: 'adaptation strength β', kind: 'softplus', source: 'ip2' },
  tauA: { name: 'adaptation time constant τ_a (ms)', kind: 'tau', source: 'ip2' },
};

export function isPropertyKey(key: string): key is PropertyKey {
  return (PROPERTY_KEYS as readonly string[]).includes(key);
}

/** Parses a comma-separated or array list of keys; throws naming the bad key and the valid ones. */
export function parsePropertyKeys(input: string | readonly string[], what = 'property key'): PropertyKey[] {
  const parts =
    typeof input === 'string'
      ? input
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : [...input];
  const out: PropertyKey[] = [];
  for (const p of parts) {
    if (!isPropertyKey(p)) throw new RangeError(`unknown ${what} '${p}'; valid: ${PROPERTY_KEYS.join(', ')}`);
    if (out.includes(p)) throw new RangeError(`duplicate ${what} '${p}'`);
    out.push(p);
  }
  return out;
}

/** A learnability mask: one bit per key of the search space, in the space's order. */
export type Mask = readonly boolean[];

export function maskFromKeys(space: readonly PropertyKey[], learnable: readonly PropertyKey[]): Mask {
  for (const k of learnable) {
    if (!space.includes(k)) throw new RangeError(`mask key '${k}' is not in the search space [${space.join(', ')}]`);
  }
  return space.map((k) => learnable.includes(k));
}

export function maskKeys(space: readonly PropertyKey[], mask: Mask): PropertyKey[] {
  if (mask.length !== space.length)
    throw new RangeError(`mask has ${mask.length} bits, space has ${space.length} keys`);
  return space.filter((_, i) => mask[i]);
}

/** '101' style label, bit i = key i of the space. */
export function maskLabel(mask: Mask): string {
  return mask.map((b) => (b ? '1' : '0')).join('');
}

/** Every mask over a space of K keys (2^K), the empty mask first. */
export function allMasks(space: readonly PropertyKey[]): Mask[] {
  const k = space.length;
  const out: Mask[] = [];
  for (let bits = 0; bits < 1 << k; bits++) out.push(space.map((_, i) => ((bits >> i) & 1) === 1));
  return out;
}

export function softplus(x: number): number {
  return x > 30 ? x : Math.log1p(Math.exp(x));
}

export function softplusInverse(y: number): number {
  if (!(y > 0)) throw new RangeError(`softplus⁻¹ needs a positive value, got ${y}`);
  return y > 30 ? y : Math.log(Math.expm1(y));
}

export interface TauClamp {
  readonly min: number;
  readonly max: number;
}

/** raw → natural value, in float64. */
export function toNatural(key: PropertyKey, raw: number, clamp: TauClamp): number {
  if (PROPERTY_INFO[key].kind === 'tau') return Math.min(clamp.max, Math.max(clamp.min, Math.exp(raw)));
  return softplus(raw);
}

/** natural value → raw, in float64. */
export function toRaw(key: PropertyKey, natural: number): number {
  if (PROPERTY_INFO[key].kind === 'tau') return Math.log(natural);
  return softplusInverse(natural);
}
