import { readFileSync, statSync } from 'node:fs';
import { parseSearchDefinition, SearchDefinitionError, type SearchDefinitionInput } from '@ip2/search';
import { UsageError } from './errors.js';

/** Largest config file read (a search definition is a few hundred bytes). */
const MAX_BYTES = 1024 * 1024;

/** The JSON in a file, or a UsageError naming the flag and saying what is wrong with the file. */
export function readJsonFile(flag: string, path: string): unknown {
  let text: string;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new UsageError(`${flag}: '${path}' is a folder, not a JSON file`);
    if (st.size > MAX_BYTES) throw new UsageError(`${flag}: '${path}' is ${st.size} bytes, more than ${MAX_BYTES}`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${flag}: no such file '${path}'`);
    if (code === 'EACCES' || code === 'EPERM')
      throw new UsageError(`${flag}: cannot read '${path}': permission denied`);
    if (code === 'ENOTDIR')
      throw new UsageError(`${flag}: no such file '${path}' (a part of the path is not a folder)`);
    throw new UsageError(`${flag}: cannot read '${path}': ${code ?? String(e)}`);
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new UsageError(`${flag}: '${path}' is not valid JSON (${why.split('\n')[0]})`);
  }
}

/** The JSON object of a --config file, validated as a search definition (a UsageError naming --config else). */
export function readDefinitionFile(path: string): Json {
  const file = readJsonFile('--config', path);
  if (file === null || typeof file !== 'object' || Array.isArray(file)) {
    throw new UsageError(`--config: '${path}' must hold a JSON object (a search definition)`);
  }
  try {
    parseSearchDefinition(file);
  } catch (e) {
    if (e instanceof SearchDefinitionError) throw new UsageError(`--config: '${path}': ${e.message}`);
    throw e;
  }
  return file as Json;
}

/** Where each definition flag writes in a search definition (the strategy flags replace the whole strategy). */
const FLAG_PATHS: Record<string, readonly string[]> = {
  family: ['family'],
  space: ['space'],
  strategy: ['strategy'],
  eta: ['strategy'],
  minTasks: ['strategy'],
  masks: ['strategy'],
  seeds: ['protocol', 'seeds'],
  tasks: ['protocol', 'tasks'],
  seed: ['protocol', 'baseSeed'],
  hidden: ['protocol', 'network', 'hidden'],
  cap: ['protocol', 'iterationCap'],
  window: ['protocol', 'criterion', 'window'],
  epsilon: ['protocol', 'criterion', 'epsilon'],
  batch: ['protocol', 'batchSize'],
  lr: ['protocol', 'network', 'lr'],
  loss: ['protocol', 'network', 'loss'],
  modelVersion: ['protocol', 'network', 'modelVersion'],
  propertyOptimizer: ['protocol', 'network', 'propertyOptimizer'],
  propertyLr: ['protocol', 'network', 'propertyLr'],
  readout: ['protocol', 'network', 'readout'],
  score: ['score', 'metric'],
  validationSeeds: ['validation', 'seeds'],
};

type Json = Record<string, unknown>;

function get(o: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((x, k) => (x !== null && typeof x === 'object' ? (x as Json)[k] : undefined), o);
}

function set(o: Json, path: readonly string[], value: unknown): void {
  let x = o;
  for (const k of path.slice(0, -1)) {
    const next = x[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) x[k] = {};
    x = x[k] as Json;
  }
  x[path[path.length - 1]!] = value;
}

/**
 * The search definition of a `--config` file (validated with the same schema as the API's), with the
 * flags given explicitly on the command line put over it. `fromFlags` is the definition the flags make
 * on their own; `explicit` names the flags given on the command line.
 */
export function definitionWithConfig(
  path: string,
  fromFlags: SearchDefinitionInput,
  explicit: readonly string[],
): SearchDefinitionInput {
  if (explicit.includes('preset')) {
    throw new UsageError('--preset: not with --config (the file gives the protocol; single flags may override it)');
  }
  const file = readDefinitionFile(path);
  const merged = structuredClone(file) as Json;
  for (const flag of explicit) {
    const at = FLAG_PATHS[flag];
    if (at !== undefined) set(merged, at, get(fromFlags, at));
  }
  if (explicit.some((f) => FLAG_PATHS[f] !== undefined)) {
    try {
      parseSearchDefinition(merged);
    } catch (e) {
      if (e instanceof SearchDefinitionError) {
        throw new UsageError(`--config: '${path}' with the flags given: ${e.message}`);
      }
      throw e;
    }
  }
  return merged as SearchDefinitionInput;
}
