import { allCandidates } from '../candidates.js';
import { singleRung } from '../schedule.js';
import type { Strategy } from './strategy.js';

/** Every mask of the space, every seed, the full sequence. */
export const exhaustive: Strategy = {
  kind: 'exhaustive',
  candidates: (d) => allCandidates(d.space),
  schedule: (d) => singleRung(2 ** d.space.length, d.protocol.tasks),
};
