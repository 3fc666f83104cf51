import { modelDefaults, type ModelVersion, type PropertyKey } from '@ip2/snn';
import { canonicalJson, contentHash } from './canonical-json.js';
import { decideState, type Decision } from './decision.js';
import type { SearchDefinition, SearchProtocol, Verdict } from './definition.js';
import type { ResultTable } from './results.js';
import { searchState } from './search-state.js';
import { validationRecord, type ValidationRecord } from './validation.js';

export const FIXED_CONFIG_FORMAT = 'ip2.fixed-config/1';

/** The model version of a record that names none: every record fixed before versioned defaults. */
export const UNVERSIONED_FIXED_CONFIG_MODEL_VERSION: ModelVersion = 1;

/** Which model defaults a fixed configuration was measured under. */
export interface FixedConfigModel {
  /** protocol.network.modelVersion of the search. */
  readonly version: ModelVersion;
  /** contentHash of modelDefaults(version) of @ip2/snn: every default of the network, as the search ran it. */
  readonly defaultsHash: string;
}

/**
 * The mask chosen for a family, fixed for all later learning of that family (SCIENCE.md §4), with the
 * protocol it was measured under and the evidence. `hash` is the hex SHA-256 of the canonical JSON of
 * every other field; the record holds no time stamp, so the same definition and results give the same
 * record, byte for byte.
 */
export interface FixedConfig {
  readonly format: typeof FIXED_CONFIG_FORMAT;
  readonly family: string;
  readonly space: readonly PropertyKey[];
  /**
   * The mask fixed for the family: the search's choice, or the runner-up when the validation overturned the
   * choice (`validation.better`; the choice stays in `evidence.best` and `validation.searchChoice`).
   */
  readonly mask: {
    /** '101': bit i = key i of the space. */
    readonly bits: string;
    /** The learnable keys. */
    readonly keys: readonly PropertyKey[];
  };
  readonly protocol: SearchProtocol;
  /**
   * The model version and a hash of all its defaults, so that the record's own hash covers them.
   * Absent from records fixed before versioned defaults: those ran under version 1
   * (fixedConfigModelVersion).
   */
  readonly model?: FixedConfigModel;
  readonly evidence: Decision;
  /**
   * The validation of the decision on fresh seeds and its verdict (validation.ts). Absent from records fixed
   * before the validation stage existed: those are unvalidated (fixedConfigVerdict).
   */
  readonly validation?: ValidationRecord;
  readonly createdFrom: {
    /** definitionHash of the search definition. */
    readonly searchHash: string;
    readonly searchId?: string;
  };
  readonly hash: string;
}

/** Hex SHA-256 of a parsed definition's canonical JSON: the identity of a search's question. */
export function definitionHash(definition: SearchDefinition): string {
  return contentHash(definition);
}

/** Hex SHA-256 of the canonical JSON of a model version's defaults (modelDefaults of @ip2/snn). */
export function modelDefaultsHash(version: ModelVersion): string {
  return contentHash(modelDefaults(version));
}

/** The model version a fixed configuration was measured under: its `model.version`, else 1 (an older record). */
export function fixedConfigModelVersion(record: Pick<FixedConfig, 'model'>): ModelVersion {
  return record.model?.version ?? UNVERSIONED_FIXED_CONFIG_MODEL_VERSION;
}

/**
 * Whether this code's defaults of the record's model version are those the record was fixed under
 * (its `model.defaultsHash`). Null for a record that names no model (nothing to compare).
 */
export function fixedConfigDefaultsMatch(record: Pick<FixedConfig, 'model'>): boolean | null {
  return record.model === undefined ? null : record.model.defaultsHash === modelDefaultsHash(record.model.version);
}

/** The model settings a search's runs train with, its defaults resolved (what a report states). */
export interface ModelSettings {
  readonly modelVersion: ModelVersion;
  readonly readout: 'spikes' | 'membrane';
  readonly propertyOptimizer: 'adam' | 'sgd';
  /** η of the learnable properties. */
  readonly propertyLr: number;
}

/**
 * The settings of a protocol's network with the model version's defaults filled in (modelDefaults of
 * @ip2/snn: a property η left unset there is the weights' learning rate).
 */
export function modelSettings(network: SearchProtocol['network']): ModelSettings {
  const v = network.modelVersion;
  const defaults = modelDefaults(v);
  return {
    modelVersion: v,
    readout: network.readout ?? defaults.readout,
    propertyOptimizer: network.propertyOptimizer,
    propertyLr: network.propertyLr ?? defaults.optimizer.lr.tauD ?? network.lr,
  };
}

export interface FixOptions {
  /** The search's id in a store, recorded as provenance (part of the hashed content). */
  readonly searchId?: string;
}

/** The validation verdict of a fixed configuration: its `validation.verdict`, `unvalidated` for an older record. */
export function fixedConfigVerdict(record: Pick<FixedConfig, 'validation'>): Verdict {
  return record.validation?.verdict ?? 'unvalidated';
}

/**
 * Decides a finished search, validates the decision with the validation runs, and writes the fixed
 * configuration record: the mask the evidence favours (the runner-up when the validation overturned the
 * search's choice), the decision and the validation with its verdict. Throws SearchIncompleteError while a
 * rung or a validation run is unfinished.
 */
export function fixConfiguration(
  definition: SearchDefinition,
  results: ResultTable,
  options: FixOptions = {},
): FixedConfig {
  const st = searchState(definition, results);
  const evidence = decideState(st);
  const validation = validationRecord(st, evidence);
  const body: Omit<FixedConfig, 'hash'> = {
    format: FIXED_CONFIG_FORMAT,
    family: definition.family,
    space: [...definition.space],
    mask: { bits: validation.better.bits, keys: [...validation.better.keys] },
    protocol: definition.protocol,
    model: {
      version: definition.protocol.network.modelVersion,
      defaultsHash: modelDefaultsHash(definition.protocol.network.modelVersion),
    },
    evidence,
    validation,
    createdFrom:
      options.searchId === undefined
        ? { searchHash: definitionHash(definition) }
        : { searchHash: definitionHash(definition), searchId: options.searchId },
  };
  // A JSON round trip gives the record its own copy of every part, in the shape a store will return.
  const record = JSON.parse(canonicalJson({ ...body, hash: contentHash(body) })) as FixedConfig;
  return deepFreeze(record);
}

/** True when the record's `hash` matches its content (also after a JSON round trip through a store). */
export function verifyFixedConfig(record: unknown): boolean {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return false;
  const { hash, ...body } = record as Record<string, unknown>;
  if (typeof hash !== 'string') return false;
  try {
    return contentHash(body) === hash;
  } catch {
    return false;
  }
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
