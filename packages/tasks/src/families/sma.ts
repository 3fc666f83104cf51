import { defineFamily } from '../family.js';

/**
 * sma — sensorimotor association (Goudar et al. 2023).
 *
 * Trial: one of the instance's 2 stimuli 0–500 ms; fixation to 1500 ms; respond 1500–2000 ms.
 * Rule: each instance maps its 2 fresh stimuli to R1 and R2 by a fresh random permutation
 * (`associations[s]` is the response to stimulus s). Conditions: which stimulus is shown.
 */
export const sma = defineFamily({
  id: 'sma',
  title: 'sensorimotor association',
  rule: 'each instance maps its 2 stimuli one-to-one onto R1 and R2 at random',
  nStimuli: 2,
  nCues: 0,
  epochs: [
    { name: 'stimulus', startMs: 0, endMs: 500 },
    { name: 'fixation', startMs: 500, endMs: 1500 },
    { name: 'response', startMs: 1500, endMs: 2000 },
  ],
  conditions: ['stimulus-1', 'stimulus-2'],
  drawAssociations: (rng) => rng.shuffle([0, 1]),
  drawTrial: (instance, condition) => ({
    condition: condition === 0 ? 'stimulus-1' : 'stimulus-2',
    events: [{ epoch: 'stimulus', block: 'stimulus', pattern: condition }],
    response: instance.associations[condition]!,
  }),
});
