import { STRATEGY_KINDS, type StrategyKind } from '../definition.js';
import { exhaustive } from './exhaustive.js';
import { random } from './random.js';
import { successiveHalving } from './successive-halving.js';
import type { Strategy } from './strategy.js';

export type { Strategy } from './strategy.js';

const STRATEGIES: Readonly<Record<StrategyKind, Strategy>> = {
  exhaustive,
  'successive-halving': successiveHalving,
  random,
};

/** The strategy of a kind; an unknown kind is an error listing the valid ones. */
export function strategyFor(kind: string): Strategy {
  if (!(STRATEGY_KINDS as readonly string[]).includes(kind)) {
    throw new RangeError(`unknown strategy '${kind}'; valid: ${STRATEGY_KINDS.join(', ')}`);
  }
  return STRATEGIES[kind as StrategyKind];
}
