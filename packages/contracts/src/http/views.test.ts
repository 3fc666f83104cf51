import { describe, expect, it } from 'vitest';
import { taskViewSchema } from './schemas.js';
import { TASK_RESULT_FIELDS, taskView } from './views.js';

const stored = {
  taskIndex: 3,
  iterations: 40,
  trialsToCriterion: 640,
  batchSize: 16,
  totalIterations: 60,
  converged: false,
  failure: 'cap' as const,
  finalLoss: Number.NaN,
  accuracy: 0.5,
  heldOutLoss: Number.POSITIVE_INFINITY,
  firingRate: 0.02,
  activeNeurons: Number.NaN,
  neurons: 100,
  fractionSilent: Number.NaN,
  wallMs: 12.5,
};

describe('task view', () => {
  it('has the fields of the schema, in the order of the task columns', () => {
    expect(Object.keys(taskView(stored))).toEqual([...TASK_RESULT_FIELDS]);
    expect(Object.keys(taskViewSchema.shape)).toEqual([...TASK_RESULT_FIELDS]);
  });

  it('sends non-finite numbers as null and fits its schema', () => {
    const v = taskView(stored);
    expect(v).toMatchObject({ finalLoss: null, heldOutLoss: null, activeNeurons: null, failure: 'cap', wallMs: 12.5 });
    expect(taskViewSchema.parse(v)).toEqual(v);
  });
});
