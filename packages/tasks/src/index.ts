export * from './channels.js';
export {
  balancedConditions,
  defineFamily,
  RESPONSE_EPOCH,
  type Epoch,
  type StimulusEvent,
  type TaskFamily,
  type TaskInstance,
  type TrialSpec,
} from './family.js';
export { FAMILY_IDS, getFamily, isFamilyId, listFamilies, type FamilyId } from './registry.js';
export { createInstance } from './instance.js';
export {
  drawTrials,
  heldOutBatch,
  renderBatch,
  trainingBatch,
  trialRng,
  type TaskBatch,
  type TrialStream,
} from './batch.js';
export { orthonormalVectors } from './stimuli.js';
export { DEFAULT_DT_MS, GRACE_MS, msToStep, trialTiming, type EpochSteps, type TrialTiming } from './timing.js';
export { inputDrive } from './drive.js';
