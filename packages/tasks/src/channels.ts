/**
 * Channel conventions shared by every family.
 *
 * Inputs, per step: channels 0–9 carry the stimulus shown at that step (a unit vector in R^10, or
 * zeros), channel 10 is the fixation input (1 until the go cue, then 0). Families with context cues
 * (cddms) append a block of 10 cue channels, 11–20. The fixation channel sits at the same index in
 * every family.
 *
 * Outputs, per step: channel 0 is response R1, channel 1 is response R2, channel 2 is fixation.
 * What R1 and R2 mean is each family's rule (see its file); a trial's label is the output channel
 * of its correct response.
 */

/** Dimension of every stimulus and cue pattern. */
export const STIMULUS_DIM = 10;
/** First input channel of the stimulus block. */
export const STIMULUS_INPUT = 0;
/** Input channel of the fixation signal. */
export const FIXATION_INPUT = STIMULUS_DIM;
/** First input channel of the context-cue block (families with cues only). */
export const CUE_INPUT = FIXATION_INPUT + 1;

/** Output channel of response R1. */
export const OUTPUT_R1 = 0;
/** Output channel of response R2. */
export const OUTPUT_R2 = 1;
/** Output channel of fixation. */
export const OUTPUT_FIXATION = 2;
/** Number of response channels (R1, R2). */
export const N_RESPONSES = 2;
/** Output channels of every family. */
export const N_OUTPUTS = N_RESPONSES + 1;

/** Number of input channels of a family with or without a context-cue block. */
export function inputChannels(hasCues: boolean): number {
  return STIMULUS_DIM + 1 + (hasCues ? STIMULUS_DIM : 0);
}
