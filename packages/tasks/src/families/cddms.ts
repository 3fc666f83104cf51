import { defineFamily } from '../family.js';
import { DMS_EPOCHS } from './dms.js';

const CONDITIONS = ['A-match', 'A-non-match', 'B-match', 'B-non-match'] as const;

/**
 * cddms — context-dependent delayed match-to-sample.
 *
 * Trial: as dms (3 fresh stimuli, same timeline), plus one of the instance's 2 fresh cue patterns
 * on the cue channels during the sample. Cue 0 is context A, cue 1 context B. Rule: in context A,
 * match → R1 and non-match → R2; context B swaps them. Conditions: context × match, balanced.
 */
export const cddms = defineFamily({
  id: 'cddms',
  title: 'context-dependent delayed match-to-sample',
  rule: 'context A (cue 0): match → R1, non-match → R2; context B (cue 1): match → R2, non-match → R1',
  nStimuli: 3,
  nCues: 2,
  epochs: DMS_EPOCHS,
  conditions: CONDITIONS,
  drawTrial: (_instance, condition, rng) => {
    const context = condition >> 1;
    const match = (condition & 1) === 0;
    const sample = rng.int(3);
    const test = match ? sample : (sample + 1 + rng.int(2)) % 3;
    return {
      condition: CONDITIONS[condition]!,
      events: [
        { epoch: 'sample', block: 'stimulus', pattern: sample },
        { epoch: 'sample', block: 'cue', pattern: context },
        { epoch: 'test', block: 'stimulus', pattern: test },
      ],
      response: (match ? 0 : 1) ^ context,
    };
  },
});
