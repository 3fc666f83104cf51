/*
 * The search definition schema of @ip2/search, the very schema the API validates POST /v1/searches with
 * (@ip2/contracts/http: searchBodySchema), bundled from source.
 */
export { SCORE_METRICS, STRATEGY_KINDS, searchDefinitionSchema } from '@ip2/search/definition';
export { PAPER_SPACE, PROPERTY_KEYS } from '@ip2/snn';

/** Task families the service knows (the API answers 422 for any other, listing these). */
export const FAMILY_HINTS = ['sma', 'dms', 'cddms', 'gng2', 'gng4'] as const;
