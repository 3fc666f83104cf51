import type { Candidate } from '../candidates.js';
import type { SearchDefinition, StrategyKind } from '../definition.js';
import type { Rung } from '../schedule.js';

/**
 * A search strategy: which candidates it measures and on which rung schedule. It keeps no state: the
 * rung engine (search-state.ts) derives every decision from the results table alone, so plan() called
 * again with the same results gives the same actions.
 */
export interface Strategy {
  readonly kind: StrategyKind;
  candidates(definition: SearchDefinition): Candidate[];
  schedule(definition: SearchDefinition): Rung[];
}
