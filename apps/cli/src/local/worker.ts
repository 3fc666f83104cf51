import { parentPort } from 'node:worker_threads';
import { decodeCheckpoint, encodeCheckpoint, trainChunk, type ChunkJob } from '@ip2/l2l';

/** Messages from the pool to a worker and back. */
export type ToWorker = { readonly type: 'train'; readonly job: ChunkJob; readonly checkpoint: Uint8Array | null };
export type FromWorker =
  | {
      readonly type: 'task';
      readonly result: unknown;
      readonly checkpoint: Uint8Array;
      readonly engine: { engine: string; backend: string };
    }
  | { readonly type: 'progress'; readonly taskIndex: number; readonly iteration: number }
  | { readonly type: 'done' }
  | { readonly type: 'error'; readonly message: string };

const port = parentPort;
if (!port) throw new Error('worker.ts runs inside a worker thread');

port.on('message', (msg: ToWorker) => {
  void (async () => {
    try {
      const checkpoint = msg.checkpoint ? decodeCheckpoint(msg.checkpoint) : null;
      for await (const step of trainChunk(msg.job, checkpoint)) {
        const bytes = encodeCheckpoint(step.checkpoint);
        const out: FromWorker = { type: 'task', result: step.result, checkpoint: bytes, engine: step.engine };
        port.postMessage(out, [bytes.buffer as ArrayBuffer]);
      }
      port.postMessage({ type: 'done' } satisfies FromWorker);
    } catch (e) {
      port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
    }
  })();
});
