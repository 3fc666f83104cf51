import { z } from 'zod';
import { PAPER_SPACE, PROPERTY_KEYS, type PropertyKey } from './properties.js';
import { SURROGATE_NAMES } from './surrogates.js';

const positive = z.number().finite().positive();
const nonNegative = z.number().finite().nonnegative();
const count = (max: number) => z.number().int().min(1).max(max);

const logUniform = z
  .object({ min: positive, max: positive })
  .strict()
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max' });
const centred = z
  .object({ mean: positive, spread: nonNegative })
  .strict()
  .refine((r) => r.spread < r.mean, { message: 'spread must be smaller than mean (values must stay positive)' });

const learningRates = z
  .object(
    Object.fromEntries(PROPERTY_KEYS.map((k) => [k, nonNegative.optional()])) as Record<
      PropertyKey,
      z.ZodOptional<typeof nonNegative>
    >,
  )
  .strict();

/** The versions of the model's defaults (SCIENCE.md): 1, the first; 2, the revised fair testbed. */
export const MODEL_VERSIONS = [1, 2] as const;
export type ModelVersion = (typeof MODEL_VERSIONS)[number];
/** The defaults new networks get. */
export const CURRENT_MODEL_VERSION: ModelVersion = 2;

/**
 * What version 1 set differently from the current defaults: a membrane readout, time constants of
 * 20–200 ms clamped inside the forward pass (no gradient past the clamp), mean-L2 inside the gradient
 * that Adam normalises, η = 1e-2 for every property, W_in scaled by all input channels, no firing
 * calibration. A configuration that says `modelVersion: 1` gets these under its own fields.
 */
const V1_DEFAULTS = {
  readout: 'membrane',
  init: { tauD: { min: 20, max: 200 }, tauS: { min: 20, max: 200 } },
  tauClamp: { max: 2000, mode: 'forward' },
  weightDecay: { mode: 'loss' },
  optimizer: { lr: { tauD: 1e-2, tauS: 1e-2, theta: 1e-2, beta: 1e-2, tauA: 1e-2 } },
  firingTarget: null,
} as const;

/**
 * The network configuration: sizes, time step, intrinsic-property initialisers, learnability,
 * surrogate, loss weights and optimiser. Every field has a default (SCIENCE.md's choices).
 */
export const networkConfigSchema = z
  .object({
    nIn: count(4096).default(11),
    nRec: count(8192).default(100),
    nOut: count(1024).default(3),
    /** Which version of the model's defaults the unset fields take (see V1_DEFAULTS). */
    modelVersion: z
      .union([z.literal(1), z.literal(2)], { error: `modelVersion must be one of ${MODEL_VERSIONS.join(', ')}` })
      .default(CURRENT_MODEL_VERSION),
    /** Time step in ms. */
    dt: positive.max(1000).default(20),
    /** The search space: which properties a mask ranges over. */
    space: z
      .array(z.enum(PROPERTY_KEYS))
      .max(PROPERTY_KEYS.length)
      .default([...PAPER_SPACE]),
    /** Learnable properties: a subset of the space (the mask, as keys). */
    learnable: z.array(z.enum(PROPERTY_KEYS)).max(PROPERTY_KEYS.length).default([]),
    init: z
      .object({
        tauD: logUniform.default({ min: 100, max: 1000 }),
        tauS: logUniform.default({ min: 100, max: 1000 }),
        theta: centred.default({ mean: 1, spread: 0.1 }),
        beta: centred.default({ mean: 0.2, spread: 0.05 }),
        tauA: logUniform.default({ min: 200, max: 2000 }),
      })
      .strict()
      .prefault({}),
    /**
     * Time constants are clamped to [min, max] ms; min defaults to dt. 'step': the raw value is
     * clamped after each optimiser step, so the gradient always flows; 'forward' (version 1): clamped
     * inside the forward pass, which passes no gradient once a time constant leaves the range.
     */
    tauClamp: z
      .object({
        min: positive.optional(),
        max: positive.default(5000),
        mode: z.enum(['step', 'forward']).default('step'),
      })
      .strict()
      .prefault({}),
    weights: z
      .object({
        /** W_in ~ N(0, inGain² / inputNorm), or N(0, inGain² / nIn) without inputNorm. */
        inGain: nonNegative.default(2),
        /**
         * Expected squared norm of one step's input vector, E‖x‖² (the number of active channels for
         * 0/1 inputs); the task family sets it, so that the drive does not shrink with unused channels.
         */
        inputNorm: positive.optional(),
        /** W_rec ~ N(0, recGain² / nRec). */
        recGain: nonNegative.default(1),
        /** W_out ~ N(0, outGain² / nRec). */
        outGain: nonNegative.default(1),
        /** Initial bias of every neuron. */
        bias: z.number().finite().default(0),
      })
      .strict()
      .prefault({}),
    surrogate: z
      .object({
        name: z.enum(SURROGATE_NAMES, {
          error: (iss) => `unknown surrogate '${String(iss.input)}'; valid: ${SURROGATE_NAMES.join(', ')}`,
        }),
        gamma: positive.default(0.3),
        kappa: positive.default(10),
      })
      .strict()
      .prefault({ name: 'fast-sigmoid' }),
    /**
     * What the outputs read: 'spikes', leaky output units integrating the hidden spikes
     * (z = κ z + (1 − κ) s, y = W_out z + b_out, κ = exp(−dt/τ_out)); 'membrane' (version 1): y = W_out u + b_out.
     */
    readout: z.enum(['spikes', 'membrane']).default('spikes'),
    /** Time constant of the spike readout, ms. */
    tauOut: positive.max(100_000).default(100),
    /**
     * Initial firing rate, Hz, that a deterministic calibration of the shared bias aims at when a
     * network is created for a task family (null: no calibration).
     */
    firingTarget: positive.max(1000).nullable().default(10),
    /**
     * The weight penalty: 'decoupled' (AdamW-style, w ← w − lr·λ·w after the optimiser step, outside
     * Adam's normalisation, with the rates below) or 'loss' (version 1: mean-L2 terms λ_in, λ_rec,
     * λ_out of `loss` inside the gradient).
     */
    weightDecay: z
      .object({
        mode: z.enum(['decoupled', 'loss']).default('decoupled'),
        in: nonNegative.default(1e-2),
        rec: nonNegative.default(1e-2),
        out: nonNegative.default(1e-2),
      })
      .strict()
      .prefault({}),
    /** 'hard': Heaviside spike with the surrogate backward. 'soft': a smooth sigmoid spike, for exact gradient checks. */
    spike: z.enum(['hard', 'soft']).default('hard'),
    loss: z
      .object({
        kind: z.enum(['mse', 'xent']).default('mse'),
        lambdaH: nonNegative.default(5e-4),
        lambdaIn: nonNegative.default(1e-4),
        lambdaRec: nonNegative.default(1e-3),
        lambdaOut: nonNegative.default(0.1),
      })
      .strict()
      .prefault({}),
    optimizer: z
      .object({
        lrWeights: nonNegative.default(1e-3),
        /** η of each property; an unset one takes lrWeights. */
        lr: learningRates.default({}),
        /** How the learnable properties step: 'adam' (with the weights) or 'sgd' (the paper's P ← P − η ∇P L). */
        properties: z.enum(['adam', 'sgd']).default('adam'),
        beta1: z.number().min(0).lt(1).default(0.3),
        beta2: z.number().min(0).lt(1).default(0.999),
        eps: positive.default(1e-8),
        /** Global gradient-norm clip; 0 disables. */
        clipNorm: nonNegative.default(1),
      })
      .strict()
      .prefault({}),
    /** false: pure intrinsic plasticity (weights frozen). */
    trainWeights: z.boolean().default(true),
    /** Standard deviation of Gaussian noise added to every input at every step (0: none). */
    inputNoise: nonNegative.default(0),
    /** Seed of the initialisation and noise streams. */
    seed: z.number().int().min(0).max(0xffffffff).default(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    for (const [i, k] of c.space.entries()) {
      if (seen.has(k)) ctx.addIssue({ code: 'custom', path: ['space', i], message: `duplicate property '${k}'` });
      seen.add(k);
    }
    for (const [i, k] of c.learnable.entries()) {
      if (!c.space.includes(k)) {
        ctx.addIssue({
          code: 'custom',
          path: ['learnable', i],
          message: `'${k}' is not in the search space [${c.space.join(', ')}]`,
        });
      }
    }
    const min = c.tauClamp.min ?? c.dt;
    if (min > c.tauClamp.max) {
      ctx.addIssue({
        code: 'custom',
        path: ['tauClamp'],
        message: `min (${min}) must not exceed max (${c.tauClamp.max})`,
      });
    }
  });

export type NetworkConfigInput = z.input<typeof networkConfigSchema>;
type Parsed = z.output<typeof networkConfigSchema>;
export type NetworkConfig = Omit<Parsed, 'tauClamp'> & {
  readonly tauClamp: { readonly min: number; readonly max: number; readonly mode: 'step' | 'forward' };
};

export class ConfigError extends Error {
  readonly issues: readonly { readonly path: string; readonly message: string }[];
  constructor(issues: readonly { readonly path: string; readonly message: string }[]) {
    super(issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Validates a (partial) configuration and fills in defaults; throws ConfigError naming each bad field. */
export function parseNetworkConfig(input: NetworkConfigInput = {}): NetworkConfig {
  const version = (input as { modelVersion?: unknown }).modelVersion;
  const r = networkConfigSchema.safeParse(version === 1 ? underlay(V1_DEFAULTS, input) : input);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
  }
  const c = r.data;
  return { ...c, tauClamp: { min: c.tauClamp.min ?? c.dt, max: c.tauClamp.max, mode: c.tauClamp.mode } };
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

/** `over` with the fields it lacks taken from `under`, object by object. */
function underlay(under: unknown, over: unknown): unknown {
  if (!isPlainObject(under) || !isPlainObject(over)) return over === undefined ? under : over;
  const out: Record<string, unknown> = { ...under };
  for (const [k, v] of Object.entries(over)) out[k] = k in under ? underlay(under[k], v) : v;
  return out;
}

/** The properties actually learned: in the space and in `learnable`. */
export function learnableSet(c: NetworkConfig): ReadonlySet<PropertyKey> {
  return new Set(c.learnable.filter((k) => c.space.includes(k)));
}

/** Adaptation is on only when β is in the search space (else β ≡ 0: the paper's neuron). */
export function hasAdaptation(c: NetworkConfig): boolean {
  return c.space.includes('beta');
}
