import { parseNetworkConfig } from './model/config.js';
import type { AdamState, NetworkState, ParamKey, Params } from './engine.js';
import { paramSizes } from './network.js';
import type { RngState } from './rng.js';

const MAGIC = 0x53325049; // 'IP2S' little-endian
const VERSION = 1;

interface Header {
  readonly config: unknown;
  readonly adamStep: number;
  readonly homeostaticTarget: number | null;
  readonly rng: RngState;
  /** [group, name, float offset, length] */
  readonly arrays: readonly (readonly [string, string, number, number])[];
}

/**
 * Serialises a network state to bytes: a small JSON header and the raw float32 arrays, so that
 * every number survives the round trip bit for bit (NaN and ±∞ included).
 */
export function serializeState(state: NetworkState): Uint8Array {
  const parts: [string, string, Float32Array][] = [];
  for (const [k, a] of Object.entries(state.params)) parts.push(['p', k, a]);
  for (const [k, a] of Object.entries(state.adam.m)) if (a) parts.push(['m', k, a]);
  for (const [k, a] of Object.entries(state.adam.v)) if (a) parts.push(['v', k, a]);
  let offset = 0;
  const arrays = parts.map(([g, k, a]) => {
    const entry = [g, k, offset, a.length] as const;
    offset += a.length;
    return entry;
  });
  const header: Header = {
    config: state.config,
    adamStep: state.adam.step,
    homeostaticTarget: state.homeostaticTarget,
    rng: state.rng,
    arrays,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = Math.ceil(json.length / 4) * 4;
  const out = new Uint8Array(12 + headerBytes + offset * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  const floats = new Float32Array(out.buffer, 12 + headerBytes, offset);
  for (const [i, [, , a]] of parts.entries()) floats.set(a, arrays[i]![2]);
  return out;
}

export function deserializeState(bytes: Uint8Array): NetworkState {
  if (bytes.length < 12) throw new RangeError('state bytes too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new RangeError('not an ip2 network state (bad magic)');
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new RangeError(`unsupported network state version ${version}`);
  const jsonLength = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLength))) as Header;
  const headerBytes = Math.ceil(jsonLength / 4) * 4;
  const total = header.arrays.reduce((n, a) => n + a[3], 0);
  // Copy into an aligned buffer: the input may sit at any byte offset.
  const floats = new Float32Array(bytes.slice(12 + headerBytes, 12 + headerBytes + total * 4).buffer);
  // A state saved before model versions existed was made under version 1's defaults.
  const config = parseNetworkConfig({ modelVersion: 1, ...(header.config as object) } as never);
  const sizes = paramSizes(config);
  const params: Partial<Params> = {};
  const m: Partial<Record<ParamKey, Float32Array>> = {};
  const v: Partial<Record<ParamKey, Float32Array>> = {};
  for (const [g, k, off, len] of header.arrays) {
    const key = k as ParamKey;
    if (sizes[key] !== len) throw new RangeError(`state array ${g}.${k} has ${len} values, expected ${sizes[key]}`);
    const a = floats.slice(off, off + len);
    (g === 'p' ? params : g === 'm' ? m : v)[key] = a;
  }
  for (const k of Object.keys(sizes) as ParamKey[]) {
    if (!params[k]) throw new RangeError(`state lacks parameter group ${k}`);
  }
  const adam: AdamState = { step: header.adamStep, m, v };
  return { config, params: params as Params, adam, homeostaticTarget: header.homeostaticTarget, rng: header.rng };
}

export function cloneState(state: NetworkState): NetworkState {
  const copy = <T extends Partial<Record<ParamKey, Float32Array>>>(r: T): T =>
    Object.fromEntries(Object.entries(r).map(([k, a]) => [k, a ? new Float32Array(a) : a])) as T;
  return {
    config: state.config,
    params: copy(state.params),
    adam: { step: state.adam.step, m: copy(state.adam.m), v: copy(state.adam.v) },
    homeostaticTarget: state.homeostaticTarget,
    rng: { words: [...state.rng.words], spare: state.rng.spare },
  };
}
