import { heldOutBatch } from './batch.js';
import { createInstance } from './instance.js';
import { getFamily } from './registry.js';
import { DEFAULT_DT_MS } from './timing.js';

/** The seed of the sample that `inputDrive` measures (any fixed value: the statistic is the family's). */
const DRIVE_SEED = 0x1d2;

/**
 * E‖x‖²: the mean squared norm of one step's input vector over the trials of a family (every
 * condition equally, 8 trials each, from a fixed instance), i.e. the expected number of active
 * channels for unit-norm stimuli and 0/1 fixation and cue channels. Input weights scaled by it keep
 * the drive the same across families, whatever their number of unused channels (SCIENCE.md §2).
 */
export function inputDrive(familyId: string, dt: number = DEFAULT_DT_MS): number {
  const family = getFamily(familyId);
  const batch = heldOutBatch(createInstance(familyId, DRIVE_SEED, 0), DRIVE_SEED, 8 * family.conditions.length, dt);
  let sum = 0;
  for (const x of batch.inputs) sum += x * x;
  return sum / (batch.steps * batch.batch);
}
