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
  .object(Object.fromEntries(PROPERTY_KEYS.map((k) => [k, nonNegative])) as Record<PropertyKey, typeof nonNegative>)
  .strict();

/**
 * The network configuration: sizes, time step, intrinsic-property initialisers, learnability,
 * surrogate, loss weights and optimiser. Every field has a default (SCIENCE.md's choices).
 */
export const networkConfigSchema = z
  .object({
    nIn: count(4096).default(11),
    nRec: count(8192).default(100),
    nOut: count(1024).default(3),
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
        tauD: logUniform.default({ min: 20, max: 200 }),
        tauS: logUniform.default({ min: 20, max: 200 }),
        theta: centred.default({ mean: 1, spread: 0.1 }),
        beta: centred.default({ mean: 0.2, spread: 0.05 }),
        tauA: logUniform.default({ min: 200, max: 2000 }),
      })
      .strict()
      .prefault({}),
    /** Time constants are clamped to [min, max] ms; min defaults to dt. */
    tauClamp: z
      .object({ min: positive.optional(), max: positive.default(2000) })
      .strict()
      .prefault({}),
    weights: z
      .object({
        /** W_in ~ N(0, inGain² / nIn). */
        inGain: nonNegative.default(2),
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
        lr: learningRates.default({ tauD: 1e-2, tauS: 1e-2, theta: 1e-2, beta: 1e-2, tauA: 1e-2 }),
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
  readonly tauClamp: { readonly min: number; readonly max: number };
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
  const r = networkConfigSchema.safeParse(input);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
  }
  const c = r.data;
  return { ...c, tauClamp: { min: c.tauClamp.min ?? c.dt, max: c.tauClamp.max } };
}

/** The properties actually learned: in the space and in `learnable`. */
export function learnableSet(c: NetworkConfig): ReadonlySet<PropertyKey> {
  return new Set(c.learnable.filter((k) => c.space.includes(k)));
}

/** Adaptation is on only when β is in the search space (else β ≡ 0: the paper's neuron). */
export function hasAdaptation(c: NetworkConfig): boolean {
  return c.space.includes('beta');
}
