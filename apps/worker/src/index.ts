export { EnvError, parseWorkerEnv, workerEnvSchema, type WorkerConfig } from './env.js';
export { processTrainJob, type TrainDeps, type TrainJob, type TrainProgress } from './train.js';
export { startWorker, type RunningWorker } from './worker.js';
