import { defineFamily } from '../family.js';
import { goNoGo } from './go-no-go.js';

/**
 * gng2 — go/no-go delayed recall with 2 items, 6 fresh stimuli per instance.
 * Items 0–250 and 250–500 ms, delay to 1000 ms, probe 1000–1300 ms, respond 1300–1800 ms.
 * R1 = go (probe was an item), R2 = no-go.
 */
export const gng2 = defineFamily({ id: 'gng2', title: 'go/no-go delayed recall, 2 items', ...goNoGo(2, 6) });
