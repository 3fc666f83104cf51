import { randomCandidates } from '../candidates.js';
import { singleRung } from '../schedule.js';
import type { Strategy } from './strategy.js';

/** n masks drawn without replacement from the base seed, every seed, the full sequence. */
export const random: Strategy = {
  kind: 'random',
  candidates: (d) => {
    if (d.strategy.kind !== 'random') throw new TypeError(`random strategy given a ${d.strategy.kind} definition`);
    return randomCandidates(d.space, d.strategy.n, d.protocol.baseSeed);
  },
  schedule: (d) => {
    if (d.strategy.kind !== 'random') throw new TypeError(`random strategy given a ${d.strategy.kind} definition`);
    return singleRung(d.strategy.n, d.protocol.tasks);
  },
};
