/**
 * Network size and protocol for a smoke run (seconds), a quick look (minutes) and a paper-scale
 * run. Explicit flags override a preset.
 */
export interface Preset {
  readonly description: string;
  readonly hidden: number;
  readonly tasks: number;
  readonly cap: number;
  readonly window: number;
  readonly epsilon: number;
  /**
   * Trials per training iteration; absent (every preset): the family's number of conditions, so that
   * each batch holds every condition once (SCIENCE.md §6).
   */
  readonly batchSize?: number;
  readonly evalBatch: number;
  readonly lr: number;
  readonly seeds: number;
  /** Shortest rung of successive halving. */
  readonly minTasks: number;
  /** Fresh seeds of the validation stage (validation.seeds; 0: none). */
  readonly validationSeeds: number;
}

/**
 * Validation seeds of the quick preset (and so of `npm run quickstart`): the definition's default, 3. The
 * quick start then takes about 28 s on two shared cores instead of 22 s without a validation (docs/local-mode.md).
 */
export const QUICK_VALIDATION_SEEDS = 3;

export const PRESETS = {
  tiny: {
    description: 'smoke run: a few small tasks, seconds',
    hidden: 16,
    tasks: 4,
    cap: 400,
    window: 20,
    epsilon: 0.05,
    evalBatch: 16,
    lr: 3e-3,
    seeds: 2,
    minTasks: 2,
    validationSeeds: 2,
  },
  quick: {
    description: 'a quick look: 40 neurons, 12-task sequences, minutes',
    hidden: 40,
    tasks: 12,
    cap: 4000,
    window: 50,
    epsilon: 0.015,
    evalBatch: 32,
    lr: 3e-3,
    seeds: 3,
    minTasks: 4,
    validationSeeds: QUICK_VALIDATION_SEEDS,
  },
  paper: {
    description: 'paper scale: 100 neurons, ε = 0.005, cap 20000',
    hidden: 100,
    tasks: 50,
    cap: 20000,
    window: 50,
    epsilon: 0.005,
    evalBatch: 64,
    lr: 2e-3,
    seeds: 5,
    minTasks: 10,
    validationSeeds: 3,
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
