import type { TrialBatch } from '@ip2/snn';
import { createInstance, heldOutBatch } from '@ip2/tasks';
import type { Learner } from '../learner.js';
import { parseProtocol, runSeeds, type Protocol } from '../protocol.js';
import type { Numbers } from './stats.js';

export interface QuantileGroup {
  /** 0 holds the lowest values. */
  readonly group: number;
  /** Smallest and largest value in the group (NaN when the group is empty). */
  readonly lo: number;
  readonly hi: number;
  /** Neuron indices, ascending. */
  readonly neurons: readonly number[];
}

/**
 * Splits neurons into `groups` groups by quantile of a property (4 gives quartiles). A neuron goes to
 * group ⌊g · F(x)⌋, F(x) = (#below + #equal / 2) / n being the mid-point empirical CDF, so that:
 * without ties the sizes are ⌊n/g⌋ or ⌈n/g⌉; tied neurons always share a group, since the property
 * cannot tell them apart (a group may then be larger, or empty: a block of ties goes where its
 * middle falls). Groups may also be empty when there are fewer neurons than groups.
 */
export function quantileGroups(values: Numbers, groups: number): QuantileGroup[] {
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`groups must be a positive integer, got ${groups}`);
  const n = values.length;
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(values[i]!)) throw new RangeError(`value of neuron ${i} is not finite: ${values[i]}`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
  const members: number[][] = Array.from({ length: groups }, () => []);
  let start = 0;
  while (start < n) {
    let end = start + 1;
    while (end < n && values[order[end]!]! === values[order[start]!]!) end++;
    // Integer arithmetic: ⌊g (2·below + equal) / 2n⌋ is exact.
    const group = Math.floor((groups * (2 * start + (end - start))) / (2 * n));
    for (let r = start; r < end; r++) members[group]!.push(order[r]!);
    start = end;
  }
  return members.map((neurons, group) => {
    neurons.sort((a, b) => a - b);
    let lo = Number.NaN;
    let hi = Number.NaN;
    for (const i of neurons) {
      const v = values[i]!;
      if (!(v >= lo)) lo = v;
      if (!(v <= hi)) hi = v;
    }
    return { group, lo, hi, neurons };
  });
}

/** A lesion mask for `Learner.evaluate`: 1 silences the neuron. */
export function lesionMask(n: number, silenced: Iterable<number>): Uint8Array {
  const mask = new Uint8Array(n);
  for (const i of silenced) {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`neuron ${i} is outside 0..${n - 1}`);
    mask[i] = 1;
  }
  return mask;
}

export interface LesionRow extends QuantileGroup {
  /** Neurons silenced. */
  readonly count: number;
  /** Task loss with the group silenced. */
  readonly loss: number;
  /** loss − baseline loss. */
  readonly increase: number;
  /** increase / baseline loss. */
  readonly relativeIncrease: number;
  readonly accuracy: number;
}

export interface LesionStudy {
  /** What the neurons were grouped by. */
  readonly property: string;
  /** The intact network on the same batch. */
  readonly baseline: { readonly loss: number; readonly accuracy: number };
  readonly rows: readonly LesionRow[];
}

export interface LesionOptions {
  /** Quantile groups (default 4: quartiles). */
  readonly groups?: number;
  /** A name for the grouping values, kept in the result. */
  readonly property?: string;
}

/**
 * Groups neurons by quantile of `values` and silences one group at a time, measuring the task loss
 * on `batch` against the intact network. An empty group (possible with ties) silences nothing, so
 * its row is the baseline and the model is not run for it.
 */
export function lesionStudy(
  learner: Learner,
  batch: TrialBatch,
  values: Numbers,
  options: LesionOptions = {},
): LesionStudy {
  const n = values.length;
  const base = learner.evaluate(batch);
  const baseline = { loss: base.taskLoss, accuracy: base.accuracy };
  const rows = quantileGroups(values, options.groups ?? 4).map((g): LesionRow => {
    const ev = g.neurons.length > 0 ? learner.evaluate(batch, lesionMask(n, g.neurons)) : base;
    const increase = ev.taskLoss - base.taskLoss;
    return {
      ...g,
      count: g.neurons.length,
      loss: ev.taskLoss,
      increase,
      relativeIncrease: increase / base.taskLoss,
      accuracy: ev.accuracy,
    };
  });
  return { property: options.property ?? 'values', baseline, rows };
}

export interface NextTaskLesionOptions {
  readonly learner: Learner;
  readonly family: string;
  /** The run seed (see `runSeeds`): the same task instances as the run. */
  readonly seed: number;
  /** The task the learner has just learned; the lesions are measured on task `afterTask + 1`. */
  readonly afterTask: number;
  /** A key of `learner.intrinsic()`, e.g. 'tauS'. */
  readonly property: string;
  readonly groups?: number;
  /** Held-out batch size and step; default the protocol's defaults. */
  readonly protocol?: Pick<Protocol, 'evalBatch' | 'dt'>;
}

/**
 * The lesion study of SCIENCE.md §8: after a task, group the neurons by quantile of a learned
 * property, silence each group, and measure the loss increase on the next task's held-out batch
 * (the batch the protocol would use for that task), before any training on it.
 */
export function nextTaskLesionStudy(o: NextTaskLesionOptions): LesionStudy {
  if (!o.learner.intrinsic) throw new RangeError(`model '${o.learner.model}' has no intrinsic properties`);
  const intrinsic = o.learner.intrinsic();
  const values = intrinsic[o.property];
  if (!values)
    throw new RangeError(`unknown property '${o.property}'; this model has: ${Object.keys(intrinsic).join(', ')}`);
  const p = o.protocol ?? parseProtocol();
  const tasks = runSeeds(o.seed).tasks;
  const batch = heldOutBatch(createInstance(o.family, tasks, o.afterTask + 1), tasks, p.evalBatch, p.dt);
  return lesionStudy(o.learner, batch, values, {
    property: o.property,
    ...(o.groups !== undefined ? { groups: o.groups } : {}),
  });
}
