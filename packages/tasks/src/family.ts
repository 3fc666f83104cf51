import type { Rng } from '@ip2/snn';
import { STIMULUS_DIM } from './channels.js';

/** A named stretch of the trial, [startMs, endMs). */
export interface Epoch {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** The epoch whose start is the go cue; every family ends with it. */
export const RESPONSE_EPOCH = 'response';

/** A pattern shown throughout one epoch: a stimulus (stimulus block) or a context cue (cue block). */
export interface StimulusEvent {
  readonly epoch: string;
  readonly block: 'stimulus' | 'cue';
  /** Index into the instance's `stimuli` or `cues`. */
  readonly pattern: number;
}

/** One trial, before it is rendered to steps. */
export interface TrialSpec {
  /** Name of the trial's condition (one of the family's `conditions`). */
  readonly condition: string;
  readonly events: readonly StimulusEvent[];
  /** The correct response: 0 = R1, 1 = R2, equal to its output channel. */
  readonly response: number;
}

/**
 * One problem of a family: its fresh stimuli and its fresh associations. Plain data, identical for
 * the same (family, seed, taskIndex) on every machine.
 */
export interface TaskInstance {
  /** Id of the family in the registry. */
  readonly family: string;
  readonly seed: number;
  readonly taskIndex: number;
  readonly nIn: number;
  readonly nOut: number;
  /** Orthonormal unit vectors in R^10, shown on the stimulus channels. */
  readonly stimuli: readonly Float32Array[];
  /** Orthonormal unit vectors in R^10, shown on the cue channels (empty for families without cues). */
  readonly cues: readonly Float32Array[];
  /** Per-instance random associations; the meaning is the family's (sma: response of each stimulus). */
  readonly associations: readonly number[];
}

/**
 * A task family: the rule kept across its instances. A family declares its timeline and how many
 * patterns an instance draws; the generic code draws the patterns, balances conditions within a
 * batch and renders trials, so a family only says what one trial of a given condition looks like.
 */
export interface TaskFamily<Id extends string = string> {
  readonly id: Id;
  readonly title: string;
  /** The rule, in words (what R1 and R2 mean). */
  readonly rule: string;
  /** Stimuli drawn per instance (≤ 10). */
  readonly nStimuli: number;
  /** Context-cue patterns drawn per instance (≤ 10); a family with cues gets the cue input block. */
  readonly nCues: number;
  /** Contiguous epochs from 0 ms; the last is `response`, whose start is the go cue. */
  readonly epochs: readonly Epoch[];
  /** Trial conditions, drawn balanced within a batch. */
  readonly conditions: readonly string[];
  /** Draws the instance's associations (defaults to none). */
  drawAssociations?(rng: Rng): readonly number[];
  /** One trial of condition `conditions[condition]`; remaining choices come from `rng`. */
  drawTrial(instance: TaskInstance, condition: number, rng: Rng): TrialSpec;
}

/** Checks a family's declaration once, at definition, so a mistake fails on import. */
export function defineFamily<const Id extends string>(family: TaskFamily<Id>): TaskFamily<Id> {
  const where = `task family '${family.id}'`;
  if (!/^[a-z][a-z0-9-]*$/.test(family.id)) throw new Error(`${where}: id must be lower-case kebab-case`);
  for (const [what, n] of [
    ['nStimuli', family.nStimuli],
    ['nCues', family.nCues],
  ] as const) {
    if (!Number.isInteger(n) || n < 0 || n > STIMULUS_DIM)
      throw new Error(`${where}: ${what} must be 0–${STIMULUS_DIM}`);
  }
  if (family.conditions.length === 0) throw new Error(`${where}: needs at least one condition`);
  const { epochs } = family;
  if (epochs.length === 0) throw new Error(`${where}: needs epochs`);
  const names = new Set<string>();
  let t = 0;
  for (const e of epochs) {
    if (names.has(e.name)) throw new Error(`${where}: duplicate epoch '${e.name}'`);
    names.add(e.name);
    if (e.startMs !== t) throw new Error(`${where}: epoch '${e.name}' starts at ${e.startMs} ms, expected ${t} ms`);
    if (!(e.endMs > e.startMs)) throw new Error(`${where}: epoch '${e.name}' is empty`);
    t = e.endMs;
  }
  if (epochs[epochs.length - 1]!.name !== RESPONSE_EPOCH) throw new Error(`${where}: last epoch must be 'response'`);
  return Object.freeze(family);
}

/**
 * `batch` condition indices in [0, k), balanced: each condition appears ⌊batch/k⌋ times, and the
 * remainder goes to distinct conditions chosen at random; then the order is shuffled. With
 * batch = 1 this is a fair draw, so single-trial batches are balanced in expectation.
 */
export function balancedConditions(rng: Rng, batch: number, k: number): number[] {
  const out: number[] = [];
  const full = Math.floor(batch / k);
  for (let r = 0; r < full; r++) for (let c = 0; c < k; c++) out.push(c);
  const extra = rng.shuffle(Array.from({ length: k }, (_, c) => c)).slice(0, batch - full * k);
  out.push(...extra);
  return rng.shuffle(out);
}
