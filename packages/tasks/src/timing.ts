import { RESPONSE_EPOCH, type Epoch } from './family.js';

/** Default model step (ms per step), as the network's `dt`. */
export const DEFAULT_DT_MS = 20;
/** Steps right after the go cue that the task loss ignores (Goudar 2023). */
export const GRACE_MS = 100;

/** An epoch in steps, [start, end). */
export interface EpochSteps {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** A family's timeline at one `dt`. */
export interface TrialTiming {
  readonly dt: number;
  readonly steps: number;
  readonly epochs: readonly EpochSteps[];
  /** First step of the response epoch: fixation input turns off here. */
  readonly goStep: number;
  /** First step after the grace period: the response is scored from here to the end. */
  readonly scoredFrom: number;
}

/**
 * The step at which time `ms` falls on a grid of `dt` ms: round(ms / dt), halves rounded up.
 * Boundaries are rounded, never durations, so a timeline does not drift: with dt = 20 the
 * 250 ms items of gng fall on steps 0, 13, 25, 38, 50.
 */
export function msToStep(ms: number, dt: number): number {
  return Math.round(ms / dt);
}

export function checkDt(dt: number): void {
  if (!Number.isFinite(dt) || dt <= 0) throw new RangeError(`dt must be a positive number of ms, got ${dt}`);
}

/** Converts a family's epochs to steps; throws if `dt` is too coarse to give every epoch a step. */
export function trialTiming(
  family: { readonly id?: string; readonly epochs: readonly Epoch[] },
  dt: number = DEFAULT_DT_MS,
  graceMs: number = GRACE_MS,
): TrialTiming {
  checkDt(dt);
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new RangeError(`graceMs must be ≥ 0, got ${graceMs}`);
  const epochs = family.epochs.map((e) => ({
    name: e.name,
    start: msToStep(e.startMs, dt),
    end: msToStep(e.endMs, dt),
  }));
  for (const e of epochs) {
    if (e.end <= e.start)
      throw new RangeError(`dt = ${dt} ms leaves epoch '${e.name}' of '${family.id}' without a step`);
  }
  const response = family.epochs.find((e) => e.name === RESPONSE_EPOCH);
  if (!response) throw new RangeError(`family '${family.id}' has no '${RESPONSE_EPOCH}' epoch`);
  const steps = epochs[epochs.length - 1]!.end;
  const goStep = msToStep(response.startMs, dt);
  const scoredFrom = msToStep(response.startMs + graceMs, dt);
  if (scoredFrom >= steps)
    throw new RangeError(`grace period of ${graceMs} ms leaves no scored response step at dt = ${dt} ms`);
  return { dt, steps, epochs, goStep, scoredFrom };
}
