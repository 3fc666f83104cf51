import { describe, expect, it } from 'vitest';
import { backendOptions, computeFromEnv } from './compute.js';

describe('the CLI’s engine and TensorFlow.js backend', () => {
  it('takes IP2_ENGINE, IP2_TF_BACKEND and IP2_LOG from the environment; --engine wins over IP2_ENGINE', () => {
    expect(computeFromEnv({})).toEqual({ logBackend: true });
    expect(computeFromEnv({ IP2_ENGINE: 'tfjs', IP2_TF_BACKEND: 'wasm', IP2_LOG: 'silent' })).toEqual({
      engine: 'tfjs',
      tfBackend: 'wasm',
      logBackend: false,
    });
    expect(computeFromEnv({ IP2_ENGINE: 'tfjs' }, 'fused')).toEqual({ engine: 'fused', logBackend: true });
    expect(computeFromEnv({}, 'tfjs')).toEqual({ engine: 'tfjs', logBackend: true });
  });

  it('names the variable that holds no engine or backend', () => {
    expect(() => computeFromEnv({ IP2_ENGINE: 'cuda' })).toThrow(
      /^IP2_ENGINE: unknown engine 'cuda'; valid: fused, tfjs$/,
    );
    expect(() => computeFromEnv({ IP2_TF_BACKEND: 'metal' })).toThrow(
      /^IP2_TF_BACKEND: 'metal' is not a backend; valid: tensorflow, wasm, cpu$/,
    );
  });

  it('forces the backend in the name of IP2_TF_BACKEND and logs it unless IP2_LOG=silent', () => {
    expect(backendOptions({ tfBackend: 'cpu', logBackend: true })).toMatchObject({
      backend: 'cpu',
      forcedBy: 'IP2_TF_BACKEND',
      log: expect.any(Function),
    });
    expect(backendOptions({ logBackend: false })).toEqual({});
  });
});
