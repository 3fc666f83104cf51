export { advanceSearch, type ControllerContext } from './advance.js';
export { startController, TICK_JOB, type RunningController } from './controller.js';
export { controllerEnvSchema, EnvError, parseControllerEnv, type ControllerConfig } from './env.js';
export { tick } from './reaper.js';
export { submitSearch, type SubmitOptions } from './submit.js';
