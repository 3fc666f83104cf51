import { describe, expect, it } from 'vitest';
import { ACCUMULATOR_PLANES, NETWORK_PLANES, PROPERTY_PLANES, TRAJECTORY_PLANES } from '../model/planes.js';
import { REGIONS, regionSizes } from './arena.js';

describe('arena regions', () => {
  const shape = { P: 3, N: 5, nIn: 2, nOut: 4, total: 100 };

  it('hold every glossary plane that the fused engine keeps in float32, once', () => {
    for (const plane of [...PROPERTY_PLANES, ...ACCUMULATOR_PLANES, ...TRAJECTORY_PLANES, ...NETWORK_PLANES]) {
      expect(
        REGIONS.filter((r) => r === plane),
        plane,
      ).toHaveLength(1);
    }
    expect(new Set(REGIONS).size).toBe(REGIONS.length);
  });

  it('size the per-neuron planes [P][N], the trajectory [slots][P][B][N] and the network planes [P]', () => {
    const sizes = regionSizes(shape, 7, 2);
    for (const plane of [...PROPERTY_PLANES, ...ACCUMULATOR_PLANES]) expect(sizes[plane], plane).toBe(15);
    for (const plane of TRAJECTORY_PLANES) expect(sizes[plane], plane).toBe(7 * 3 * 2 * 5);
    for (const plane of NETWORK_PLANES) expect(sizes[plane], plane).toBe(3);
  });
});
