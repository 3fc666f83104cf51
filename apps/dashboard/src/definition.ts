/*
 * The search definition schema of @ip2/search, the very module the API validates POST /v1/searches with
 * (apps/api/src/schemas.ts: searchBodySchema = searchDefinitionSchema), bundled from source.
 */
export { SCORE_METRICS, STRATEGY_KINDS, searchDefinitionSchema } from '../../../packages/search/src/definition.ts';
export { PAPER_SPACE, PROPERTY_KEYS } from '@ip2/snn';

/** Task families the service knows (the API answers 422 for any other, listing these). */
export const FAMILY_HINTS = ['sma', 'dms', 'cddms', 'gng2', 'gng4'] as const;
