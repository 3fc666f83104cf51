import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** 32-bit FNV-1a over the UTF-16 code units of a string, then a murmur3 finaliser. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Derives an independent 32-bit seed from a base seed and a path of labels, e.g.
 * `deriveSeed(1, 'task', 7)`. The same inputs give the same seed on every machine.
 */
export function deriveSeed(base: number, ...path: readonly (string | number)[]): number {
  return hash32(`${base >>> 0}/${path.join('/')}`);
}

/**
 * The project's only source of randomness: a seeded xoroshiro128+ generator whose state can be
 * saved and restored exactly, so a resumed computation draws the same numbers as one that never
 * stopped.
 */
export class Rng {
  private gen: JumpableRandomGenerator;
  /** Second Box–Muller value, kept so that normals come in a reproducible sequence. */
  private spare: number | null = null;

  private constructor(gen: JumpableRandomGenerator, spare: number | null) {
    this.gen = gen;
    this.spare = spare;
  }

  static seeded(seed: number, ...path: readonly (string | number)[]): Rng {
    const s = path.length === 0 ? seed >>> 0 : deriveSeed(seed, ...path);
    return new Rng(xoroshiro128plus(s | 0), null);
  }

  static fromState(state: RngState): Rng {
    return new Rng(xoroshiro128plusFromState(state.words), state.spare);
  }

  state(): RngState {
    return { words: [...this.gen.getState()], spare: this.spare };
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    return this.gen.next() >>> 0;
  }

  /** Uniform in [0, 1) with 53 bits of resolution. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** An independent generator for a named sub-stream, without advancing this one. */
  fork(...path: readonly (string | number)[]): Rng {
    const words = this.gen.getState();
    return Rng.seeded(hash32(words.join(',')), ...path);
  }
}

export interface RngState {
  readonly words: readonly number[];
  readonly spare: number | null;
}
