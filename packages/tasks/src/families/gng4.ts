import { defineFamily } from '../family.js';
import { goNoGo } from './go-no-go.js';

/**
 * gng4 — go/no-go delayed recall with 4 items, 8 fresh stimuli per instance (as in gng2, 4 stimuli
 * are left over to serve as no-go probes).
 * Items of 250 ms from 0 to 1000 ms, delay to 1500 ms, probe 1500–1800 ms, respond 1800–2300 ms.
 * R1 = go (probe was an item), R2 = no-go.
 */
export const gng4 = defineFamily({ id: 'gng4', title: 'go/no-go delayed recall, 4 items', ...goNoGo(4, 8) });
