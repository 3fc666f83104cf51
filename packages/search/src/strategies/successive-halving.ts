import { allCandidates } from '../candidates.js';
import { halvingSchedule } from '../schedule.js';
import type { Strategy } from './strategy.js';

/**
 * Every mask on a short prefix of the sequence; the best ceil(c/η) go on (at least two), their runs
 * extended from where they stopped; repeated until the survivors have run the full sequence. The
 * controls (empty and all-ones masks) are pruned like any other candidate.
 */
export const successiveHalving: Strategy = {
  kind: 'successive-halving',
  candidates: (d) => allCandidates(d.space),
  schedule: (d) => {
    if (d.strategy.kind !== 'successive-halving') {
      throw new TypeError(`successive-halving strategy given a ${d.strategy.kind} definition`);
    }
    return halvingSchedule(2 ** d.space.length, d.protocol.tasks, d.strategy.eta, d.strategy.minTasks);
  },
};
