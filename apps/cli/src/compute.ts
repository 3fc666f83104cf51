import { computeEnvSchema, computeOptions, parseEnv, type ComputeChoice } from '@ip2/contracts';
import type { BackendOptions, EngineName } from '@ip2/snn';

/**
 * How this process and its worker threads train: IP2_ENGINE (an --engine flag wins over it) and
 * IP2_TF_BACKEND, parsed once here and passed on (the science packages read no environment). Plain
 * data, so that it travels to the local mode's worker threads as it is.
 */
export interface CliCompute extends ComputeChoice {
  /** Whether the TensorFlow.js backend in use is reported on stderr (not with IP2_LOG=silent). */
  readonly logBackend: boolean;
}

/** The choice of an environment and an --engine flag; an EnvError naming a wrong variable. */
export function computeFromEnv(env: Record<string, string | undefined>, engine?: EngineName): CliCompute {
  const e = parseEnv(computeEnvSchema, env);
  const chosen = engine ?? e.IP2_ENGINE;
  return {
    ...(chosen ? { engine: chosen } : {}),
    ...(e.IP2_TF_BACKEND ? { tfBackend: e.IP2_TF_BACKEND } : {}),
    logBackend: e.IP2_LOG !== 'silent',
  };
}

/** The TensorFlow.js backend options of a choice: the backend's line on stderr as `ip2: …`, unless silenced. */
export function backendOptions(c: CliCompute): BackendOptions {
  const log = (line: string) => process.stderr.write(`ip2: ${line}\n`);
  return computeOptions(c, c.logBackend ? log : undefined).tf ?? {};
}
