import type { EngineInfo, TrialBatch } from '@ip2/snn';
import { createInstance, getFamily } from '@ip2/tasks';
import { describe, expect, it } from 'vitest';
import { sequenceLearner, type LearnerEvaluation, type LearnerStep, type SequenceLearner } from './learner.js';
import { createSpikingLearner } from './models/spiking.js';
import {
  batchSizeFor,
  completeTaskResult,
  familyBatchSize,
  AbortedError,
  iterationsToCriterion,
  MAX_TRAINING_WITHOUT_TURN_MS,
  parseProtocol,
  runSequence,
  type Protocol,
  type TaskResult,
} from './protocol.js';

/**
 * A learner whose task loss follows a script (iteration within the task → loss) and whose evaluation
 * reports fixed firing statistics; it records the batch sizes it was trained on.
 */
class ScriptedLearner implements SequenceLearner {
  readonly model = 'scripted';
  readonly info: EngineInfo = { engine: 'test', backend: 'js' };
  readonly batches: number[] = [];
  private it = 0;

  constructor(
    private readonly loss: (iteration: number) => number,
    private readonly firing: Pick<LearnerEvaluation, 'firingRate' | 'activeNeurons' | 'neurons'>,
  ) {}

  async trainStep(batch: TrialBatch): Promise<LearnerStep> {
    this.batches.push(batch.batch);
    const taskLoss = this.loss(this.it++);
    return { loss: taskLoss, taskLoss, meanU2: 1 };
  }

  async evaluate(batch: TrialBatch): Promise<LearnerEvaluation> {
    return {
      taskLoss: 0.01,
      accuracy: 1,
      outputs: new Float32Array(batch.steps * batch.batch * batch.nOut),
      ...this.firing,
    };
  }

  async startTask(): Promise<void> {
    this.it = 0;
  }

  async firstConvergence(): Promise<void> {}

  async save(): Promise<Uint8Array> {
    return new Uint8Array(0);
  }

  async dispose(): Promise<void> {}
}

const spiking = { firingRate: 0.02, activeNeurons: 3, neurons: 40 };

async function run(family: string, protocol: Protocol, learner: SequenceLearner): Promise<TaskResult[]> {
  const out: TaskResult[] = [];
  for await (const s of runSequence({ family, seed: 1, protocol, learner })) out.push(s.result);
  return out;
}

describe('batch size', () => {
  it("defaults to the family's number of conditions; an explicit one is kept", () => {
    expect(parseProtocol().batchSize).toBeUndefined();
    expect(familyBatchSize('dms')).toBe(getFamily('dms').conditions.length);
    expect(familyBatchSize('cddms')).toBe(4);
    expect(batchSizeFor(parseProtocol(), 'sma')).toBe(2);
    expect(batchSizeFor(parseProtocol({ batchSize: 3 }), 'cddms')).toBe(3);
    expect(() => parseProtocol({ batchSize: 0 })).toThrow(/batchSize/);
    expect(() => familyBatchSize('nope')).toThrow(/unknown task family/);
  });

  it('trains on batches of the family default and counts trials as iterations × batch size', async () => {
    const learner = new ScriptedLearner((i) => (i < 30 ? 1 : 0), spiking);
    const protocol = parseProtocol({ tasks: 2, window: 5, epsilon: 0.01, cap: 500, evalBatch: 4 });
    const results = await run('cddms', protocol, learner);
    expect(new Set(learner.batches)).toEqual(new Set([4]));
    for (const r of results) {
      expect(r.converged).toBe(true);
      expect(r.batchSize).toBe(4);
      // Converges once the window holds only zeros: after iteration 30 + 5.
      expect(r.totalIterations).toBe(35);
      expect(r.iterations).toBe(30);
      expect(r.trialsToCriterion).toBe(r.iterations * r.batchSize);
    }
  });

  it('uses an explicit batch size', async () => {
    const learner = new ScriptedLearner((i) => (i < 10 ? 1 : 0), spiking);
    const results = await run(
      'sma',
      parseProtocol({ tasks: 1, window: 4, epsilon: 0.01, cap: 100, batchSize: 6 }),
      learner,
    );
    expect(new Set(learner.batches)).toEqual(new Set([6]));
    expect(results[0]).toMatchObject({ iterations: 10, batchSize: 6, trialsToCriterion: 60 });
  });
});

describe('iterations to criterion: one definition for every task', () => {
  it('is total − window for a converged task and for a failed one (censored at cap − window)', async () => {
    expect(iterationsToCriterion(35, 5)).toBe(30);
    expect(iterationsToCriterion(3, 5)).toBe(0);
    const never = new ScriptedLearner(() => 1, spiking);
    const [r] = await run('dms', parseProtocol({ tasks: 1, window: 20, epsilon: 0.01, cap: 120 }), never);
    expect(r).toMatchObject({
      converged: false,
      failure: 'cap',
      totalIterations: 120,
      iterations: 100,
      batchSize: 2,
      trialsToCriterion: 200,
    });
  });

  it('is spent − window, floored at 0, for a NaN loss', async () => {
    const late = new ScriptedLearner((i) => (i === 29 ? Number.NaN : 1), spiking);
    const [a] = await run('sma', parseProtocol({ tasks: 1, window: 10, epsilon: 0.01, cap: 100 }), late);
    expect(a).toMatchObject({
      converged: false,
      failure: 'nan',
      totalIterations: 30,
      iterations: 20,
      trialsToCriterion: 40,
    });
    const early = new ScriptedLearner((i) => (i === 2 ? Number.NaN : 1), spiking);
    const [b] = await run('sma', parseProtocol({ tasks: 1, window: 10, epsilon: 0.01, cap: 100 }), early);
    expect(b).toMatchObject({ failure: 'nan', totalIterations: 3, iterations: 0, trialsToCriterion: 0 });
  });
});

describe('a long task leaves the event loop its turns', () => {
  /** A learner that computes in the calling thread for `ms` per step, as the engines do, and never converges. */
  class BusyLearner extends ScriptedLearner {
    constructor(private readonly ms: number) {
      super(() => 1, spiking);
    }
    override async trainStep(batch: TrialBatch): Promise<LearnerStep> {
      const until = performance.now() + this.ms;
      while (performance.now() < until);
      return super.trainStep(batch);
    }
  }
  // One task of 400 steps × 2 ms: about 0.8 s of training in the calling thread.
  const protocol = parseProtocol({ tasks: 1, window: 20, epsilon: 0.01, cap: 400 });

  it('timers (heartbeats, queue-lock renewals) fire during the task, not only between tasks', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      const [r] = await run('sma', protocol, new BusyLearner(2));
      expect(r!.totalIterations).toBe(400);
    } finally {
      clearInterval(timer);
    }
    // A turn at least every MAX_TRAINING_WITHOUT_TURN_MS of training: about 8 here; none without them.
    expect(MAX_TRAINING_WITHOUT_TURN_MS).toBeLessThanOrEqual(100);
    expect(ticks).toBeGreaterThanOrEqual(4);
  });

  it('an abort from a timer or a signal handler stops the task where it is', async () => {
    const abort = new AbortController();
    const learner = new BusyLearner(2);
    setTimeout(() => abort.abort(), 50);
    const steps = runSequence({ family: 'sma', seed: 1, protocol, learner, signal: abort.signal });
    await expect(steps.next()).rejects.toThrow(AbortedError);
    expect(learner.batches.length).toBeLessThan(400);
  });
});

describe('firing statistics of a task result', () => {
  it('carries the evaluation’s active neurons, the hidden size and the fraction silent', async () => {
    const learner = new ScriptedLearner(() => 0, spiking);
    const [r] = await run('sma', parseProtocol({ tasks: 1, window: 2, epsilon: 0.01, cap: 10 }), learner);
    expect(r).toMatchObject({ firingRate: 0.02, activeNeurons: 3, neurons: 40 });
    expect(r!.fractionSilent).toBeCloseTo(1 - 3 / 40, 12);
  });

  it('is NaN for a non-spiking model', async () => {
    const learner = new ScriptedLearner(() => 0, { firingRate: Number.NaN, activeNeurons: Number.NaN, neurons: 16 });
    const [r] = await run('sma', parseProtocol({ tasks: 1, window: 2, epsilon: 0.01, cap: 10 }), learner);
    expect(r!.neurons).toBe(16);
    expect(r!.activeNeurons).toBeNaN();
    expect(r!.fractionSilent).toBeNaN();
  });

  it('counts the neurons of a spiking network that fired on the held-out batch', async () => {
    const instance = createInstance('sma', 0, 0);
    const hidden = 12;
    const learner = await createSpikingLearner(
      { model: 'rsnn-noip', nIn: instance.nIn, nOut: instance.nOut, hidden, dt: 40, seed: 5, loss: 'mse', lr: 3e-3 },
      { engine: 'fused' },
    );
    try {
      const protocol = parseProtocol({ tasks: 1, window: 2, epsilon: 1e-9, cap: 3, evalBatch: 4, dt: 40 });
      const [r] = await run('sma', protocol, sequenceLearner(learner));
      expect(r!.neurons).toBe(hidden);
      expect(Number.isInteger(r!.activeNeurons)).toBe(true);
      expect(r!.activeNeurons).toBeGreaterThanOrEqual(0);
      expect(r!.activeNeurons).toBeLessThanOrEqual(hidden);
      expect(r!.fractionSilent).toBeCloseTo(1 - r!.activeNeurons / hidden, 12);
      // Some neuron fires exactly when the mean rate is positive.
      expect(r!.activeNeurons > 0).toBe(r!.firingRate > 0);
      expect(r!.batchSize).toBe(2);
    } finally {
      learner.dispose();
    }
  });
});

describe('completeTaskResult', () => {
  it('reads a record made before trials and firing statistics were kept with those fields NaN', () => {
    const old = {
      taskIndex: 0,
      iterations: 5,
      totalIterations: 55,
      converged: true,
      failure: null,
      finalLoss: 0.001,
      accuracy: 1,
      heldOutLoss: 0.002,
      firingRate: 0.01,
      wallMs: 3,
    };
    const r = completeTaskResult(old);
    expect(r).toMatchObject(old);
    for (const k of ['trialsToCriterion', 'batchSize', 'activeNeurons', 'neurons', 'fractionSilent'] as const) {
      expect(r[k]).toBeNaN();
    }
    const full = { ...r, trialsToCriterion: 10, batchSize: 2, activeNeurons: 4, neurons: 8, fractionSilent: 0.5 };
    expect(completeTaskResult(full)).toBe(full);
  });
});
