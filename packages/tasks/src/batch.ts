import { Rng, type TrialBatch } from '@ip2/snn';
import { CUE_INPUT, FIXATION_INPUT, N_RESPONSES, OUTPUT_FIXATION, STIMULUS_DIM, STIMULUS_INPUT } from './channels.js';
import { balancedConditions, type TaskInstance, type TrialSpec } from './family.js';
import { checkIndex, checkSeed } from './instance.js';
import { getFamily } from './registry.js';
import { DEFAULT_DT_MS, GRACE_MS, trialTiming } from './timing.js';

/** A rendered batch, with the trial specs it came from and the step it was rendered at. */
export interface TaskBatch extends TrialBatch {
  readonly labels: Int32Array;
  readonly responseMask: Float32Array;
  readonly dt: number;
  readonly trials: readonly TrialSpec[];
}

/** The training stream or the held-out stream; their seed paths differ, so they are separate streams. */
export type TrialStream = 'train' | 'heldout';

/**
 * The generator behind a batch. Training batch `index` of an instance draws from
 * `Rng.seeded(seed, 'trials', family, instanceSeed, taskIndex, 'train', index)`; the held-out batch
 * from `(..., 'heldout')`. `seed` is the trial seed, which may differ from the instance's seed.
 */
export function trialRng(instance: TaskInstance, seed: number, stream: TrialStream, index = 0): Rng {
  checkSeed(seed);
  if (stream === 'train') {
    checkIndex('batch index', index);
    return Rng.seeded(seed, 'trials', instance.family, instance.seed, instance.taskIndex, 'train', index);
  }
  return Rng.seeded(seed, 'trials', instance.family, instance.seed, instance.taskIndex, 'heldout');
}

/** `batchSize` trials: conditions balanced across the batch, then each trial drawn in order. */
export function drawTrials(instance: TaskInstance, rng: Rng, batchSize: number): TrialSpec[] {
  if (!Number.isInteger(batchSize) || batchSize <= 0)
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  const family = getFamily(instance.family);
  const conditions = balancedConditions(rng, batchSize, family.conditions.length);
  return conditions.map((c) => family.drawTrial(instance, c, rng));
}

/**
 * Renders trials to a time-major `TrialBatch` at `dt` ms per step. Inputs: stimulus and cue
 * patterns over their epochs, fixation input 1 before the go cue. Targets: one-hot, fixation before
 * the go cue, the correct response from it on. Mask: 1 except the grace period after the go cue.
 * Response mask: 1 from the end of the grace period to the end of the trial.
 */
export function renderBatch(
  instance: TaskInstance,
  trials: readonly TrialSpec[],
  dt: number = DEFAULT_DT_MS,
  graceMs: number = GRACE_MS,
): TaskBatch {
  const family = getFamily(instance.family);
  const timing = trialTiming(family, dt, graceMs);
  const { steps: T, goStep, scoredFrom } = timing;
  const B = trials.length;
  if (B === 0) throw new RangeError('a batch needs at least one trial');
  const { nIn, nOut } = instance;
  const inputs = new Float32Array(T * B * nIn);
  const targets = new Float32Array(T * B * nOut);
  const mask = new Float32Array(T * B);
  const responseMask = new Float32Array(T * B);
  const labels = new Int32Array(B);
  const epochByName = new Map(timing.epochs.map((e) => [e.name, e]));

  trials.forEach((trial, b) => {
    if (!Number.isInteger(trial.response) || trial.response < 0 || trial.response >= N_RESPONSES)
      throw new RangeError(`trial ${b}: response ${trial.response} is not a response channel`);
    labels[b] = trial.response;
    for (const ev of trial.events) {
      const epoch = epochByName.get(ev.epoch);
      if (!epoch) throw new RangeError(`trial ${b}: no epoch '${ev.epoch}' in family '${family.id}'`);
      const patterns = ev.block === 'stimulus' ? instance.stimuli : instance.cues;
      const pattern = patterns[ev.pattern];
      if (!pattern) throw new RangeError(`trial ${b}: no ${ev.block} pattern ${ev.pattern}`);
      const offset = ev.block === 'stimulus' ? STIMULUS_INPUT : CUE_INPUT;
      for (let t = epoch.start; t < epoch.end; t++) {
        const base = (t * B + b) * nIn + offset;
        for (let i = 0; i < STIMULUS_DIM; i++) inputs[base + i] = inputs[base + i]! + pattern[i]!;
      }
    }
    for (let t = 0; t < T; t++) {
      const tb = t * B + b;
      const go = t >= goStep;
      if (!go) inputs[tb * nIn + FIXATION_INPUT] = 1;
      targets[tb * nOut + (go ? trial.response : OUTPUT_FIXATION)] = 1;
      mask[tb] = go && t < scoredFrom ? 0 : 1;
      responseMask[tb] = t >= scoredFrom ? 1 : 0;
    }
  });

  return { steps: T, batch: B, nIn, nOut, inputs, targets, mask, labels, responseMask, dt, trials };
}

/** Training batch number `index` (the iteration) of an instance. */
export function trainingBatch(
  instance: TaskInstance,
  seed: number,
  index: number,
  batchSize: number,
  dt: number = DEFAULT_DT_MS,
  graceMs: number = GRACE_MS,
): TaskBatch {
  return renderBatch(instance, drawTrials(instance, trialRng(instance, seed, 'train', index), batchSize), dt, graceMs);
}

/** The held-out evaluation batch of an instance, from a stream no training batch uses. */
export function heldOutBatch(
  instance: TaskInstance,
  seed: number,
  batchSize: number,
  dt: number = DEFAULT_DT_MS,
  graceMs: number = GRACE_MS,
): TaskBatch {
  return renderBatch(instance, drawTrials(instance, trialRng(instance, seed, 'heldout'), batchSize), dt, graceMs);
}
