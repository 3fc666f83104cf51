import { deriveSeed } from '@ip2/snn';

/** The seed of run `seedIndex`: the same for every candidate, so all candidates see the same task instances. */
export function runSeed(baseSeed: number, seedIndex: number): number {
  return deriveSeed(baseSeed, 'run', seedIndex);
}

/**
 * The seeds of the validation runs: `n` seeds drawn from the sub-stream 'validation' of the base seed,
 * skipping any value that is one of the search's run seeds (runSeed(baseSeed, 0 … searchSeeds − 1)) or an
 * earlier validation seed. So the validation never trains on a sequence the search saw, whatever the hash
 * gives, and the seeds depend only on (baseSeed, searchSeeds, n) — and seed v only on (baseSeed, searchSeeds, v).
 */
export function validationSeeds(baseSeed: number, searchSeeds: number, n: number): number[] {
  const used = new Set<number>();
  for (let s = 0; s < searchSeeds; s++) used.add(runSeed(baseSeed, s));
  const out: number[] = [];
  for (let j = 0; out.length < n; j++) {
    const seed = deriveSeed(baseSeed, 'validation', j);
    if (used.has(seed)) continue;
    used.add(seed);
    out.push(seed);
  }
  return out;
}

/**
 * The seed index of validation run v: after the search's own (protocol.seeds + v), so that a validation run
 * is an ordinary run of the candidate, stored, claimed and checkpointed like the others.
 */
export function validationSeedIndex(searchSeeds: number, v: number): number {
  return searchSeeds + v;
}
