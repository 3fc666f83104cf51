import type { Epoch, TaskFamily, TrialSpec } from '../family.js';

/** Duration of each item of the sequence. */
export const ITEM_MS = 250;
/** Delay between the last item and the probe. */
export const GNG_DELAY_MS = 500;
/** Probe duration. */
export const PROBE_MS = 300;
/** Response window. */
export const GNG_RESPONSE_MS = 500;

/** Timeline of a go/no-go delayed-recall trial with `items` items. */
export function goNoGoEpochs(items: number): Epoch[] {
  const epochs: Epoch[] = [];
  for (let i = 0; i < items; i++)
    epochs.push({ name: `item-${i + 1}`, startMs: i * ITEM_MS, endMs: (i + 1) * ITEM_MS });
  let t = items * ITEM_MS;
  for (const [name, ms] of [
    ['delay', GNG_DELAY_MS],
    ['probe', PROBE_MS],
    ['response', GNG_RESPONSE_MS],
  ] as const) {
    epochs.push({ name, startMs: t, endMs: t + ms });
    t += ms;
  }
  return epochs;
}

/**
 * The body of a go/no-go delayed-recall family (gng2, gng4 supply the sizes). Trial: `items`
 * distinct stimuli in sequence, a delay, a probe, respond. Rule: R1 = go (the probe was one of the
 * items), R2 = no-go. A go probe is one of the items at random; a no-go probe one of the
 * instance's other stimuli at random. Conditions: go / no-go, balanced.
 */
export function goNoGo(items: number, nStimuli: number): Omit<TaskFamily, 'id' | 'title'> {
  if (nStimuli <= items) throw new RangeError('a no-go probe needs stimuli beyond the items');
  return {
    rule: `R1 (go) if the probe was one of the ${items} items, else R2 (no-go)`,
    nStimuli,
    nCues: 0,
    epochs: goNoGoEpochs(items),
    conditions: ['go', 'no-go'],
    drawTrial: (_instance, condition, rng): TrialSpec => {
      const order = rng.shuffle(Array.from({ length: nStimuli }, (_, s) => s));
      const shown = order.slice(0, items);
      const go = condition === 0;
      const probe = go ? shown[rng.int(items)]! : order[items + rng.int(nStimuli - items)]!;
      return {
        condition: go ? 'go' : 'no-go',
        events: [
          ...shown.map((pattern, i) => ({ epoch: `item-${i + 1}`, block: 'stimulus' as const, pattern })),
          { epoch: 'probe', block: 'stimulus', pattern: probe },
        ],
        response: go ? 0 : 1,
      };
    },
  };
}
