import { sequenceLearner, type Learner } from '../learner.js';
import { runSequence, type SequenceOptions, type SequenceStep } from '../protocol.js';
import { correlate, type Correlation } from './correlation.js';
import { recurrentModularity, type CommunityOptions } from './modularity.js';

/** The recurrent graph's modularity around one task of a sequence. */
export interface TaskModularity {
  readonly taskIndex: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** Q of the network the task started from (the previous task's end, or the initial network). */
  readonly qStart: number;
  /** Q after the task. */
  readonly qEnd: number;
  /** Communities found after the task. */
  readonly communities: number;
}

/**
 * `runSequence` that also measures the modularity of the recurrent graph before the first task and
 * after each task. The extra work is one community detection per task; training is unchanged.
 */
export async function* sequenceWithModularity(
  o: Omit<SequenceOptions, 'learner'> & { readonly learner: Learner },
  options: CommunityOptions = {},
): AsyncGenerator<SequenceStep & { readonly modularity: TaskModularity }> {
  let before = recurrentModularity(o.learner, options).q;
  for await (const step of runSequence({ ...o, learner: sequenceLearner(o.learner) })) {
    const after = recurrentModularity(o.learner, options);
    const r = step.result;
    yield {
      result: r,
      checkpoint: step.checkpoint,
      modularity: {
        taskIndex: r.taskIndex,
        iterations: r.iterations,
        converged: r.converged,
        qStart: before,
        qEnd: after.q,
        communities: after.count,
      },
    };
    before = after.q;
  }
}

export interface ModularityEfficiencyOptions {
  /**
   * Which Q to pair with a task's iterations to criterion: `start` (default) asks whether the
   * network's modularity predicts how fast it adapts to the next task; `end`, the Q that task left.
   */
  readonly at?: 'start' | 'end';
  /** Leave out failed tasks (default false: they count with the iterations they spent, as in the metrics). */
  readonly convergedOnly?: boolean;
}

/**
 * Pearson and Spearman correlation, with the sample size, between modularity and iterations to
 * criterion across the tasks of a sequence. Negative: more modular, faster.
 */
export function modularityEfficiency(
  records: readonly TaskModularity[],
  options: ModularityEfficiencyOptions = {},
): Correlation {
  const use = options.convergedOnly ? records.filter((r) => r.converged) : records;
  return correlate(
    use.map((r) => (options.at === 'end' ? r.qEnd : r.qStart)),
    use.map((r) => r.iterations),
  );
}
