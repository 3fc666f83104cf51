import type { NetworkConfig } from '../model/config.js';
import type {
  Engine,
  EngineInfo,
  EvalOptions,
  Evaluation,
  Gradients,
  NetworkState,
  StepStats,
  TrialBatch,
} from '../engine.js';
import { batchAccuracy } from '../metrics.js';
import { FusedCore } from './core.js';

/**
 * The fused training engine: the model of SCIENCE.md §2–4 with a hand-derived BPTT backward pass
 * (docs/fused-engine.md) over preallocated Float32Array buffers. Spikes are used sparsely: the
 * forward pass adds only the W_rec rows of neurons that spiked, and the W_rec gradient accumulates
 * outer products only over spiking presynaptic neurons. It agrees with TfjsEngine to float32
 * rounding and reads and writes the same NetworkState.
 */
export class FusedEngine implements Engine {
  readonly info: EngineInfo = { engine: 'fused', backend: 'wasm-simd' };
  readonly config: NetworkConfig;
  private readonly core: FusedCore;
  private readonly one: TrialBatch[] = [];
  private disposed = false;

  private constructor(state: NetworkState) {
    this.core = new FusedCore([state]);
    this.config = state.config;
  }

  static create(state: NetworkState): FusedEngine {
    return new FusedEngine(state);
  }

  /** How many times the engine's step-dependent buffers were allocated (grows only with larger batches). */
  get bufferAllocations(): number {
    return this.core.allocations;
  }

  private pass(batch: TrialBatch, kind: 'eval' | 'grad' | 'train', lesion: Uint8Array | null = null): void {
    if (this.disposed) throw new Error('engine was disposed');
    this.one[0] = batch;
    this.core.pass(this.one, kind, lesion === null ? null : [lesion]);
  }

  trainStep(batch: TrialBatch): StepStats {
    this.pass(batch, 'train');
    return { ...this.core.terms[0]!, gradNorm: this.core.gradNorms[0]! };
  }

  evaluate(batch: TrialBatch, options: EvalOptions = {}): Evaluation {
    const lesion = options.lesion ?? null;
    if (lesion !== null && lesion.length !== this.config.nRec) {
      throw new RangeError(`lesion has ${lesion.length} entries, network has nRec=${this.config.nRec}`);
    }
    // A lesion that silences no neuron is no lesion: the unlesioned (kernel) path, same numbers.
    this.pass(batch, 'eval', lesion !== null && lesion.some((x) => x !== 0) ? lesion : null);
    const outputs = this.core.outputs(0);
    return {
      ...this.core.terms[0]!,
      outputs,
      accuracy: batchAccuracy(batch, outputs),
      activeNeurons: this.core.activeNeurons(0),
    };
  }

  gradients(batch: TrialBatch): Gradients {
    this.pass(batch, 'grad');
    return { ...this.core.terms[0]!, grads: this.core.paramsOf(0, this.core.grads) };
  }

  resetOptimizer(): void {
    this.core.resetOptimizer(0);
  }

  setHomeostaticTarget(value: number | null): void {
    this.core.members[0]!.homeostaticTarget = value;
  }

  snapshot(): NetworkState {
    if (this.disposed) throw new Error('engine was disposed');
    return this.core.snapshot(0);
  }

  dispose(): void {
    this.disposed = true;
  }
}
