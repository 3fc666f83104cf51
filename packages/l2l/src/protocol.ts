import { deriveSeed } from '@ip2/snn';
import { createInstance, getFamily, heldOutBatch, trainingBatch } from '@ip2/tasks';
import { z } from 'zod';
import type { SequenceLearner } from './learner.js';

/**
 * The sequential learning-to-learn protocol (SCIENCE.md §6). Every number is configurable; the
 * defaults are the paper-scale ones.
 */
export const protocolSchema = z
  .object({
    /** Tasks (instances) in the sequence. */
    tasks: z.number().int().min(1).max(100_000).default(50),
    /** Convergence window w: mean task loss over the last w iterations. */
    window: z.number().int().min(1).max(10_000).default(50),
    /** Convergence threshold ε on that mean. */
    epsilon: z.number().finite().positive().default(0.005),
    /** Iteration cap per task: reaching it is a failure. */
    cap: z.number().int().min(1).max(10_000_000).default(20_000),
    /**
     * Trials per training iteration, conditions balanced within the batch. Absent: the family's number
     * of conditions (see batchSizeFor), so that every batch holds each condition once.
     */
    batchSize: z.number().int().min(1).max(4096).optional(),
    /** Trials in the held-out batch used for accuracy. */
    evalBatch: z.number().int().min(1).max(4096).default(32),
    /** ms per step. */
    dt: z.number().finite().positive().max(1000).default(20),
    /** Record the intrinsic values of every neuron after every task. */
    snapshots: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.window <= p.cap, { message: 'window must not exceed cap', path: ['window'] });

export type ProtocolInput = z.input<typeof protocolSchema>;
export type Protocol = z.output<typeof protocolSchema>;

export function parseProtocol(input: ProtocolInput = {}): Protocol {
  const r = protocolSchema.safeParse(input);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || 'protocol'}: ${i.message}`).join('; ');
    throw new RangeError(msg);
  }
  return r.data;
}

/** The batch size a family trains with when the protocol gives none: its number of conditions. */
export function familyBatchSize(family: string): number {
  return getFamily(family).conditions.length;
}

/** The trials per training iteration of a protocol on a family: the protocol's, else the family's default. */
export function batchSizeFor(protocol: Pick<Protocol, 'batchSize'>, family: string): number {
  return protocol.batchSize ?? familyBatchSize(family);
}

/**
 * Iterations to criterion, one definition for every task: iterations spent minus the convergence
 * window, floored at 0. A converged task counts the iterations before the window that met the
 * criterion; a failed task is censored: cap − window at the cap, spent − window at a NaN loss.
 */
export function iterationsToCriterion(totalIterations: number, window: number): number {
  return Math.max(0, totalIterations - window);
}

export interface TaskResult {
  readonly taskIndex: number;
  /**
   * Iterations to criterion: totalIterations − window (floored at 0), converged or not. For a failed
   * task (`converged` false, `failure` set) it is censored: the task had not converged by then.
   */
  readonly iterations: number;
  /** Trials to criterion: iterations × batchSize. */
  readonly trialsToCriterion: number;
  /** Trials per training iteration this task was trained with. */
  readonly batchSize: number;
  readonly totalIterations: number;
  /** Whether the criterion was met; false means the task's iterations are censored (see failure). */
  readonly converged: boolean;
  readonly failure: 'nan' | 'cap' | null;
  /** Mean task loss over the last window of training iterations. */
  readonly finalLoss: number;
  /** Accuracy and task loss on a held-out batch after training. */
  readonly accuracy: number;
  readonly heldOutLoss: number;
  /** Mean spikes per hidden neuron per step on the held-out batch (NaN for non-spiking models). */
  readonly firingRate: number;
  /** Hidden neurons that spiked at least once on the held-out batch after the task (NaN for non-spiking models). */
  readonly activeNeurons: number;
  /** Hidden neurons (units) of the network. */
  readonly neurons: number;
  /** 1 − activeNeurons / neurons (NaN for non-spiking models). */
  readonly fractionSilent: number;
  readonly wallMs: number;
  /** Intrinsic values per neuron after the task (when `snapshots` is on). */
  readonly intrinsic?: Readonly<Record<string, readonly number[]>>;
}

/** Fields of TaskResult that records made before they existed lack. */
export const LATER_TASK_FIELDS = [
  'trialsToCriterion',
  'batchSize',
  'activeNeurons',
  'neurons',
  'fractionSilent',
] as const;

/** A stored task result with every field: those it predates (LATER_TASK_FIELDS) as NaN. */
export function completeTaskResult(
  r: Omit<TaskResult, (typeof LATER_TASK_FIELDS)[number]> &
    Partial<Pick<TaskResult, (typeof LATER_TASK_FIELDS)[number]>>,
): TaskResult {
  if (LATER_TASK_FIELDS.every((k) => typeof r[k] === 'number')) return r as TaskResult;
  const out: Record<string, unknown> = { ...r };
  for (const k of LATER_TASK_FIELDS) if (typeof r[k] !== 'number') out[k] = Number.NaN;
  return out as unknown as TaskResult;
}

/** Where a run stands between tasks: enough to resume it exactly. */
export interface RunCheckpoint {
  readonly nextTask: number;
  readonly learner: Uint8Array;
  /** Whether the first convergence (homeostatic target) already happened. */
  readonly converged: boolean;
}

/** Seeds of one run: the task instances depend only on the run seed, never on the model or mask. */
export function runSeeds(seed: number): { readonly tasks: number; readonly network: number } {
  return { tasks: deriveSeed(seed, 'tasks'), network: deriveSeed(seed, 'network') };
}

export interface SequenceOptions {
  readonly family: string;
  /** The run seed (see runSeeds). */
  readonly seed: number;
  readonly protocol: Protocol;
  readonly learner: SequenceLearner;
  /** First task index to train (resuming). */
  readonly startTask?: number;
  /** Last task index + 1 (defaults to protocol.tasks). */
  readonly endTask?: number;
  /** Whether an earlier task of this run already converged (resuming). */
  readonly converged?: boolean;
  readonly signal?: AbortSignal;
  /** Called every `progressEvery` iterations. */
  readonly onIteration?: (taskIndex: number, iteration: number, taskLoss: number) => void;
  readonly progressEvery?: number;
}

export interface SequenceStep {
  readonly result: TaskResult;
  /**
   * State after this task (call only when you keep it: it serialises the learner), before the
   * sequence is asked for its next step.
   */
  checkpoint(): Promise<RunCheckpoint>;
}

export class AbortedError extends Error {
  constructor() {
    super('aborted');
    this.name = 'AbortedError';
  }
}

/**
 * The longest stretch of training without a turn of the event loop. An engine computes in the calling
 * thread, and `await` on a settled promise does not let timers, I/O or signals in: without these turns
 * a task of tens of seconds would hold back a worker's heartbeats and queue-lock renewals (so that its
 * run is taken for dead and trained again) and an abort from a stop signal until the task ends.
 */
export const MAX_TRAINING_WITHOUT_TURN_MS = 100;

/** One turn of the event loop: timers, I/O callbacks and signal handlers that are due run first. */
const turn = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/**
 * Trains task after task, each from where the previous one left the network, yielding each
 * task's result as soon as it is known so that callers can checkpoint and show progress.
 */
export async function* runSequence(o: SequenceOptions): AsyncGenerator<SequenceStep> {
  const p = o.protocol;
  const batchSize = batchSizeFor(p, o.family);
  const seeds = runSeeds(o.seed);
  const end = o.endTask ?? p.tasks;
  let converged = o.converged ?? false;
  const every = o.progressEvery ?? 50;
  const losses = new Float64Array(p.window);
  const u2 = new Float64Array(p.window);
  for (let k = o.startTask ?? 0; k < end; k++) {
    if (o.signal?.aborted) throw new AbortedError();
    const started = performance.now();
    const instance = createInstance(o.family, seeds.tasks, k);
    await o.learner.startTask();
    let sum = 0;
    let it = 0;
    let failure: 'nan' | 'cap' | null = null;
    let done = false;
    let turned = performance.now();
    while (!done) {
      if (performance.now() - turned >= MAX_TRAINING_WITHOUT_TURN_MS) {
        await turn();
        turned = performance.now();
      }
      if (o.signal?.aborted) throw new AbortedError();
      const batch = trainingBatch(instance, seeds.tasks, it, batchSize, p.dt);
      const step = await o.learner.trainStep(batch);
      const slot = it % p.window;
      if (it >= p.window) sum -= losses[slot]!;
      losses[slot] = step.taskLoss;
      u2[slot] = step.meanU2;
      sum += step.taskLoss;
      it++;
      if (!Number.isFinite(step.taskLoss) || !Number.isFinite(step.loss)) {
        failure = 'nan';
        done = true;
      } else if (it >= p.window && sum / p.window < p.epsilon) {
        done = true;
      } else if (it >= p.cap) {
        failure = 'cap';
        done = true;
      }
      if (o.onIteration && (it % every === 0 || done)) o.onIteration(k, it, step.taskLoss);
    }
    const window = Math.min(it, p.window);
    let finalLoss = 0;
    for (let i = 0; i < window; i++) finalLoss += losses[i]!;
    finalLoss /= window;
    if (failure === 'nan') finalLoss = Number.NaN;
    if (failure === null && !converged) {
      converged = true;
      let m = 0;
      for (let i = 0; i < p.window; i++) m += u2[i]!;
      await o.learner.firstConvergence(m / p.window);
    }
    const ev = await o.learner.evaluate(heldOutBatch(instance, seeds.tasks, p.evalBatch, p.dt));
    const intrinsic =
      p.snapshots && o.learner.intrinsic
        ? Object.fromEntries(Object.entries(await o.learner.intrinsic()).map(([key, v]) => [key, Array.from(v)]))
        : undefined;
    const iterations = iterationsToCriterion(it, p.window);
    const result: TaskResult = {
      taskIndex: k,
      iterations,
      trialsToCriterion: iterations * batchSize,
      batchSize,
      totalIterations: it,
      converged: failure === null,
      failure,
      finalLoss,
      accuracy: ev.accuracy,
      heldOutLoss: ev.taskLoss,
      firingRate: ev.firingRate,
      activeNeurons: ev.activeNeurons,
      neurons: ev.neurons,
      fractionSilent: ev.neurons > 0 ? 1 - ev.activeNeurons / ev.neurons : Number.NaN,
      wallMs: performance.now() - started,
      ...(intrinsic ? { intrinsic } : {}),
    };
    const learner = o.learner;
    const next = k + 1;
    const convergedNow = converged;
    yield {
      result,
      checkpoint: async () => ({ nextTask: next, learner: await learner.save(), converged: convergedNow }),
    };
  }
}

const CHECKPOINT_MAGIC = 0x4b433249; // 'I2CK'

/** A run checkpoint as bytes: magic, next task, converged flag, then the learner's own bytes. */
export function encodeCheckpoint(c: RunCheckpoint): Uint8Array {
  const out = new Uint8Array(12 + c.learner.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, CHECKPOINT_MAGIC, true);
  view.setUint32(4, c.nextTask, true);
  view.setUint32(8, c.converged ? 1 : 0, true);
  out.set(c.learner, 12);
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): RunCheckpoint {
  if (bytes.length < 12) throw new RangeError('checkpoint too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== CHECKPOINT_MAGIC) throw new RangeError('not an ip2 run checkpoint (bad magic)');
  return { nextTask: view.getUint32(4, true), converged: view.getUint32(8, true) === 1, learner: bytes.slice(12) };
}
