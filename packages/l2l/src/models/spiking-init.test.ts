import { FusedEngine, initNetwork, rateHz, type NetworkState } from '@ip2/snn';
import { createInstance, FAMILY_IDS, inputDrive } from '@ip2/tasks';
import { describe, expect, it } from 'vitest';
import { calibrationBatch, spikingNetworkState } from './spiking.js';

const spec = (family: string, hidden: number) => {
  const instance = createInstance(family, 0, 0);
  return {
    model: 'rsnn-noip',
    nIn: instance.nIn,
    nOut: instance.nOut,
    hidden,
    dt: 20,
    seed: 5,
    loss: 'mse' as const,
    lr: 3e-3,
  };
};

function std(a: Float32Array): number {
  let s = 0;
  for (const x of a) s += x * x;
  return Math.sqrt(s / a.length);
}

function hz(state: NetworkState, family: string): number {
  const e = FusedEngine.create(state);
  try {
    return rateHz(e.evaluate(calibrationBatch(family, state.config.seed, 20)).firingRate, 20);
  } finally {
    e.dispose();
  }
}

describe('the network a run starts from (model version 2)', () => {
  it('scales W_in by the family’s input norm, so that cddms (21 channels) is driven like dms (11)', () => {
    for (const family of ['dms', 'cddms']) {
      const s = spikingNetworkState(spec(family, 64), { family, network: { firingTarget: null } });
      expect(s.config.weights.inputNorm).toBe(inputDrive(family, 20));
      expect(std(s.params.wIn)).toBeCloseTo(2 / Math.sqrt(inputDrive(family, 20)), 1);
    }
  });

  it('calibrates the initial firing rate to 10 Hz (within 5%) on every family, at 64 and 100 neurons', () => {
    for (const family of FAMILY_IDS) {
      for (const hidden of [64, 100]) {
        const s = spikingNetworkState(spec(family, hidden), { family });
        const rate = hz(s, family);
        expect(rate, `${family} ${hidden}`).toBeGreaterThan(9.5);
        expect(rate, `${family} ${hidden}`).toBeLessThan(10.5);
        // Only the biases moved, all by one amount.
        const plain = spikingNetworkState(spec(family, hidden), { family, network: { firingTarget: null } });
        expect(plain.params.wRec).toEqual(s.params.wRec);
        const shift = s.params.b[0]! - plain.params.b[0]!;
        s.params.b.forEach((b, i) => expect(b - plain.params.b[i]!).toBeCloseTo(shift, 5));
      }
    }
  });

  it('is deterministic: the same spec gives the same bytes', () => {
    const a = spikingNetworkState(spec('gng4', 64), { family: 'gng4' });
    const b = spikingNetworkState(spec('gng4', 64), { family: 'gng4' });
    expect(a.params.b).toEqual(b.params.b);
  });

  it('version 1 ignores the family: W_in by all channels, no calibration', () => {
    const v1 = spikingNetworkState(spec('dms', 64), { family: 'dms', network: { modelVersion: 1 } });
    const plain = initNetwork({ ...v1.config });
    expect(v1.config.weights.inputNorm).toBeUndefined();
    expect(v1.params.wIn).toEqual(plain.params.wIn);
    expect(v1.params.b).toEqual(plain.params.b);
  });
});
