import { Rng } from '@ip2/snn';
import { inputChannels, N_OUTPUTS, STIMULUS_DIM } from './channels.js';
import type { TaskInstance } from './family.js';
import { getFamily } from './registry.js';
import { orthonormalVectors } from './stimuli.js';

export function checkSeed(seed: number): void {
  // Rng derives streams from the seed modulo 2^32; outside that range two seeds would collide.
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
}

export function checkIndex(what: string, index: number): void {
  if (!Number.isSafeInteger(index) || index < 0)
    throw new RangeError(`${what} must be a non-negative integer, got ${index}`);
}

/**
 * Task instance number `taskIndex` of a family for a seed: fresh orthonormal stimuli (and cues),
 * fresh associations. Each part comes from its own sub-stream of
 * `Rng.seeded(seed, 'instance', family, taskIndex)`, so adding a part to a family does not change
 * the others.
 */
export function createInstance(familyId: string, seed: number, taskIndex: number): TaskInstance {
  const family = getFamily(familyId);
  checkSeed(seed);
  checkIndex('taskIndex', taskIndex);
  const rng = Rng.seeded(seed, 'instance', family.id, taskIndex);
  const stimuli = orthonormalVectors(rng.fork('stimuli'), family.nStimuli, STIMULUS_DIM);
  const cues = orthonormalVectors(rng.fork('cues'), family.nCues, STIMULUS_DIM);
  const associations = Object.freeze([...(family.drawAssociations?.(rng.fork('associations')) ?? [])]);
  return Object.freeze({
    family: family.id,
    seed,
    taskIndex,
    nIn: inputChannels(family.nCues > 0),
    nOut: N_OUTPUTS,
    stimuli: Object.freeze(stimuli),
    cues: Object.freeze(cues),
    associations,
  });
}
