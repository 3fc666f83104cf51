import { allMasks, maskKeys, maskLabel, Rng, type Mask, type PropertyKey } from '@ip2/snn';

/**
 * What a candidate stands for: the empty mask is the `rsnn-noip` control (synaptic plasticity only),
 * the all-ones mask is the `ip-inner` reference (every property learnable, no meta level), every other
 * mask is a proper subset (SCIENCE.md §7).
 */
export type CandidateRole = 'rsnn-noip' | 'ip-inner' | 'ip-masked';

/** One learnability mask of a search. Its id is the mask label ('101': bit i = key i of the space). */
export interface Candidate {
  readonly id: string;
  readonly mask: Mask;
  /** The learnable keys, in the space's order. */
  readonly keys: readonly PropertyKey[];
  readonly role: CandidateRole;
}

export function candidateFromMask(space: readonly PropertyKey[], mask: Mask): Candidate {
  const keys = maskKeys(space, mask);
  const role: CandidateRole = keys.length === 0 ? 'rsnn-noip' : keys.length === space.length ? 'ip-inner' : 'ip-masked';
  return { id: maskLabel(mask), mask: [...mask], keys, role };
}

/** Every mask of the space (2^K), in `allMasks` order: the empty mask first. */
export function allCandidates(space: readonly PropertyKey[]): Candidate[] {
  return allMasks(space).map((m) => candidateFromMask(space, m));
}

/**
 * n distinct masks drawn without replacement from the 2^K of the space, with the generator seeded by
 * the base seed (sub-stream 'random-masks'): the same base seed gives the same masks everywhere. They are
 * listed in `allMasks` order, not in draw order, so listings do not depend on the draw.
 */
export function randomCandidates(space: readonly PropertyKey[], n: number, baseSeed: number): Candidate[] {
  const all = allMasks(space);
  if (!Number.isInteger(n) || n < 1 || n > all.length) {
    throw new RangeError(`random candidates: n must be an integer from 1 to ${all.length}, got ${n}`);
  }
  const order = Rng.seeded(baseSeed, 'random-masks').shuffle(all.map((_, i) => i));
  return order
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => candidateFromMask(space, all[i]!));
}

/** Candidate ids compared by UTF-16 code units: locale-independent, the tie-breaker of every ranking. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
