import { defineFamily, type Epoch } from '../family.js';

/** Timeline shared with cddms. */
export const DMS_EPOCHS: readonly Epoch[] = [
  { name: 'sample', startMs: 0, endMs: 300 },
  { name: 'delay', startMs: 300, endMs: 1000 },
  { name: 'test', startMs: 1000, endMs: 1300 },
  { name: 'response', startMs: 1300, endMs: 1800 },
];

/**
 * dms — delayed match-to-sample.
 *
 * Trial: sample 0–300 ms, delay to 1000 ms, test 1000–1300 ms, respond 1300–1800 ms; sample and
 * test are drawn from the instance's 3 fresh stimuli. Rule: R1 = match (test = sample),
 * R2 = non-match. Conditions: match / non-match, balanced; a non-match test is one of the other
 * two stimuli at random.
 */
export const dms = defineFamily({
  id: 'dms',
  title: 'delayed match-to-sample',
  rule: 'R1 if the test stimulus equals the sample (match), else R2 (non-match)',
  nStimuli: 3,
  nCues: 0,
  epochs: DMS_EPOCHS,
  conditions: ['match', 'non-match'],
  drawTrial: (_instance, condition, rng) => {
    const match = condition === 0;
    const sample = rng.int(3);
    const test = match ? sample : (sample + 1 + rng.int(2)) % 3;
    return {
      condition: match ? 'match' : 'non-match',
      events: [
        { epoch: 'sample', block: 'stimulus', pattern: sample },
        { epoch: 'test', block: 'stimulus', pattern: test },
      ],
      response: match ? 0 : 1,
    };
  },
});
