import type { TaskResult } from '../protocol.js';
import { histogram, mean, quantileSorted, sd, sortedFinite, type Histogram, type Numbers } from './stats.js';

/** Quantiles reported when none are asked for. */
export const DEFAULT_PROBABILITIES: readonly number[] = [0.1, 0.25, 0.5, 0.75, 0.9];

export interface SummaryOptions {
  /** Probabilities of the quantiles to report (type 7). */
  readonly probabilities?: readonly number[];
  /** Histogram bin edges; no histogram without them. */
  readonly edges?: Numbers;
}

/** How one property is spread across neurons. Statistics are over the finite values only. */
export interface DistributionSummary {
  /** Finite values summarised. */
  readonly n: number;
  /** NaN or infinite values left out (a diverged network). */
  readonly nonFinite: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1). */
  readonly sd: number;
  readonly min: number;
  readonly max: number;
  readonly quantiles: readonly { readonly p: number; readonly value: number }[];
  readonly histogram?: Histogram;
}

/** Mean, sd, extremes, quantiles and (given edges) a histogram of one property across neurons. */
export function summarize(values: Numbers, options: SummaryOptions = {}): DistributionSummary {
  const { sorted, nonFinite } = sortedFinite(values);
  const probabilities = options.probabilities ?? DEFAULT_PROBABILITIES;
  const n = sorted.length;
  return {
    n,
    nonFinite,
    mean: mean(sorted),
    sd: sd(sorted),
    min: n > 0 ? sorted[0]! : Number.NaN,
    max: n > 0 ? sorted[n - 1]! : Number.NaN,
    quantiles: probabilities.map((p) => ({ p, value: quantileSorted(sorted, p) })),
    ...(options.edges ? { histogram: histogram(sorted, options.edges) } : {}),
  };
}

/** Per-property options: bins differ between a time constant and a threshold. */
export type PropertyOptions = SummaryOptions & { readonly byProperty?: Readonly<Record<string, SummaryOptions>> };

function optionsFor(key: string, o: PropertyOptions): SummaryOptions {
  const own = o.byProperty?.[key];
  return {
    ...(o.probabilities ? { probabilities: o.probabilities } : {}),
    ...(o.edges ? { edges: o.edges } : {}),
    ...own,
  };
}

/** A summary of every property of a snapshot (`Learner.intrinsic()` or `TaskResult.intrinsic`). */
export function summarizeProperties(
  intrinsic: Readonly<Record<string, Numbers>>,
  options: PropertyOptions = {},
): Record<string, DistributionSummary> {
  return Object.fromEntries(Object.entries(intrinsic).map(([k, v]) => [k, summarize(v, optionsFor(k, options))]));
}

export interface EvolutionPoint {
  readonly taskIndex: number;
  readonly summary: DistributionSummary;
  /**
   * Mean over neurons of |value now − value at the previous snapshot|: how far the property moved
   * during this task (NaN at the first snapshot or when the neuron count changed).
   */
  readonly meanAbsChange: number;
}

/**
 * How each property's distribution evolves over a sequence, from the per-task snapshots that
 * results carry when the protocol's `snapshots` option is on. Tasks without a snapshot are skipped;
 * a property absent from a snapshot simply has no point there.
 */
export function intrinsicEvolution(
  results: readonly Pick<TaskResult, 'taskIndex' | 'intrinsic'>[],
  options: PropertyOptions = {},
): Record<string, EvolutionPoint[]> {
  const out: Record<string, EvolutionPoint[]> = {};
  const previous = new Map<string, Numbers>();
  for (const r of results) {
    if (!r.intrinsic) continue;
    for (const [key, values] of Object.entries(r.intrinsic)) {
      const before = previous.get(key);
      let change = Number.NaN;
      if (before && before.length === values.length && values.length > 0) {
        let s = 0;
        for (let i = 0; i < values.length; i++) s += Math.abs(values[i]! - before[i]!);
        change = s / values.length;
      }
      (out[key] ??= []).push({
        taskIndex: r.taskIndex,
        summary: summarize(values, optionsFor(key, options)),
        meanAbsChange: change,
      });
      previous.set(key, values);
    }
  }
  return out;
}
