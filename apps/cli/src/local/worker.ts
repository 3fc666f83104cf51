import { parentPort, workerData } from 'node:worker_threads';
import { decodeCheckpoint, encodeCheckpoint, trainChunks, type ChunkJob } from '@ip2/l2l';
import { backendOptions, type CliCompute } from '../compute.js';

/** Messages from the pool to a worker and back. */
export type ToWorker = {
  readonly type: 'train';
  /** The chunks to train together (see trainChunks), each from its checkpoint. */
  readonly chunks: readonly { readonly job: ChunkJob; readonly checkpoint: Uint8Array | null }[];
};
export type FromWorker =
  | {
      readonly type: 'task';
      /** Which chunk of the message. */
      readonly index: number;
      readonly result: unknown;
      readonly checkpoint: Uint8Array;
      readonly engine: { engine: string; backend: string };
    }
  | { readonly type: 'progress'; readonly taskIndex: number; readonly iteration: number }
  | { readonly type: 'done' }
  | { readonly type: 'error'; readonly message: string };

const port = parentPort;
if (!port) throw new Error('worker.ts runs inside a worker thread');
// The pool's choice of TensorFlow.js backend (from the main thread's environment; the engine is in each job).
const tf = backendOptions(workerData as CliCompute);

port.on('message', (msg: ToWorker) => {
  void (async () => {
    try {
      const items = msg.chunks.map((c) => ({
        job: c.job,
        checkpoint: c.checkpoint ? decodeCheckpoint(c.checkpoint) : null,
      }));
      for await (const { index, step } of trainChunks(items, { tf })) {
        const bytes = encodeCheckpoint(step.checkpoint);
        const out: FromWorker = { type: 'task', index, result: step.result, checkpoint: bytes, engine: step.engine };
        port.postMessage(out, [bytes.buffer as ArrayBuffer]);
      }
      port.postMessage({ type: 'done' } satisfies FromWorker);
    } catch (e) {
      port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
    }
  })();
});
