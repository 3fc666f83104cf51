import { describe, expect, it } from 'vitest';
import { initNetwork } from '../network.js';
import {
  ACCUMULATOR_PLANES,
  NETWORK_PLANES,
  PLANE_DOCS,
  PLANES,
  PROPERTY_PLANES,
  SLOPE_PLANES,
  TRAJECTORY_PLANES,
} from '../model/planes.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import {
  ACC_PLANES,
  GpuLayout,
  GROUP_KEYS,
  lossNorm,
  Member,
  META,
  META_STRIDE,
  NATURAL_PLANES,
  STATS,
  TRAJ_PLANES,
} from './layout.js';
import { kernels } from './wgsl.js';

/** CPU-side checks of the GPU buffer layout and packing (no adapter needed). */
describe('GpuLayout', () => {
  const states = [1, 2].map((seed) =>
    initNetwork({ nIn: 3, nRec: 4, nOut: 2, seed, space: [...PROPERTY_KEYS], learnable: seed === 1 ? ['tauD'] : [] }),
  );
  const L = GpuLayout.of(states);

  it('packs each network’s groups contiguously in GROUP_KEYS order and unpacks them back', () => {
    expect(L.total).toBe(3 * 4 + 4 * 4 + 4 + 4 * 2 + 2 + 5 * 4);
    expect(L.offset.wIn).toBe(0);
    expect(L.offset.wRec).toBe(12);
    expect(L.offset.tauA).toBe(L.total - 4);
    const packed = L.pack(states.map((s) => s.params));
    expect(packed.length).toBe(2 * L.total);
    expect(packed[L.total + L.offset.b]).toBe(states[1]!.params.b[0]);
    for (const [p, s] of states.entries()) {
      const back = L.unpack(packed, p);
      for (const k of GROUP_KEYS) expect(back[k], k).toEqual(s.params[k]);
    }
    expect(() => L.pack([{ wIn: new Float32Array(5) }])).toThrow(/expected 12/);
  });

  it('packs inputs, targets and masks network-major, and sizes the step buffers', () => {
    const T = 2;
    const B = 3;
    const x = [0, 1].map((p) => Float32Array.from({ length: T * B * 3 }, (_, i) => 100 * p + i));
    const y = [0, 1].map((p) => Float32Array.from({ length: T * B * 2 }, (_, i) => -100 * p - i));
    const m = [0, 1].map((p) => Float32Array.from({ length: T * B }, (_, i) => p + i / 10));
    const io = L.packIo(x, y, m, T, B);
    expect(io.length).toBe(L.stepSizes(T, B).io);
    expect(io[T * B * 3 + 4]).toBe(104);
    expect(io[2 * T * B * 3 + T * B * 2 + 1]).toBe(-101);
    expect(io[2 * T * B * 5 + T * B + 2]).toBeCloseTo(1.2, 6);
    expect(L.stepSizes(T, B).plane).toBe((T + 1) * 2 * B * 4);
  });

  it('writes each network’s settings record', () => {
    const members = states.map((s) => new Member(s));
    members[1]!.step = 3;
    const meta = L.packMeta(members, [
      { norm: 0.5, update: true },
      { norm: 0, update: false },
    ]);
    expect(meta.length).toBe(2 * META_STRIDE);
    expect(meta[META.norm]).toBe(0.5);
    expect(meta[META.update]).toBe(1);
    expect(meta[META.trainable + GROUP_KEYS.indexOf('tauD')]).toBe(1);
    expect(meta[META.trainable + GROUP_KEYS.indexOf('tauS')]).toBe(0);
    expect(meta[META.trainable + GROUP_KEYS.indexOf('wIn')]).toBe(1);
    expect(meta[META_STRIDE + META.bc1]).toBeCloseTo(1 - 0.3 ** 3, 6);
    expect(meta[META_STRIDE + META.adapt]).toBe(1);
    expect(lossNorm(Float32Array.of(1, 0, 1), false, 2)).toBe(0.25);
    expect(lossNorm(Float32Array.of(0, 0), true, 2)).toBe(0);
  });

  it('generates one WGSL kernel per stage with at most 8 storage bindings', () => {
    const ks = kernels(L);
    expect(ks.map((k) => k.name)).toEqual([
      'prepare',
      'init',
      'forward',
      'readout',
      'loss',
      'backward',
      'grads',
      'norm',
      'adam',
    ]);
    for (const k of ks) {
      expect(k.bindings.length).toBeLessThanOrEqual(8);
      expect(k.code).toContain(`const TOTAL: u32 = ${L.total}u;`);
    }
  });

  it('gives every plane of the glossary a slot, and the WGSL an accessor for each', () => {
    expect(Object.keys(PLANE_DOCS).sort()).toEqual([...PLANES].sort());
    expect(new Set(PLANES).size).toBe(PLANES.length);
    expect([...NATURAL_PLANES]).toEqual([...PROPERTY_PLANES, ...SLOPE_PLANES]);
    expect([...ACC_PLANES]).toEqual([...ACCUMULATOR_PLANES]);
    expect([...TRAJ_PLANES]).toEqual([...TRAJECTORY_PLANES]);
    for (const plane of NETWORK_PLANES) expect(STATS, plane).toHaveProperty(plane);
    const code = kernels(L)
      .map((k) => k.code)
      .join('\n');
    const declared = new Set([...code.matchAll(/\bfn (\w+)\(/g)].map((m) => m[1]!));
    for (const plane of NATURAL_PLANES) expect(declared.has(`n_${plane}`), plane).toBe(true);
    for (const plane of ACC_PLANES) expect(declared.has(`a_${plane}`), plane).toBe(true);
    for (const plane of TRAJ_PLANES) expect(declared.has(`t_${plane}`), plane).toBe(true);
    for (const plane of NETWORK_PLANES) expect(code).toContain(`S_${plane.toUpperCase()}`);
    // Every plane accessor the kernels call is one that the layout declares.
    for (const m of code.matchAll(/\b([nat]_\w+)\(/g)) expect(declared.has(m[1]!), m[1]).toBe(true);
  });
});
