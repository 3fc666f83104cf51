/**
 * The worker_threads side of ThreadedPopulation: one shard of the population (a FusedPopulation of
 * its members, built from workerData) that answers each request with exactly one message, in the
 * order the requests came.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { NetworkState } from '../engine.js';
import { FusedPopulation } from './population.js';
import { packStats, type ShardReply, type ShardRequest } from './threaded-population.js';

function serve(pop: FusedPopulation, req: ShardRequest): { value: unknown; transfer: ArrayBuffer[] } {
  switch (req.op) {
    case 'train': {
      const stats = packStats(pop.trainStep(req.batch));
      return { value: stats, transfer: [stats.buffer as ArrayBuffer] };
    }
    case 'eval': {
      const evals = pop.evaluate(req.batch, req.lesion ? { lesion: req.lesion } : {});
      return { value: evals, transfer: evals.map((e) => e.outputs.buffer as ArrayBuffer) };
    }
    case 'grad': {
      const grads = pop.gradients(req.batch);
      return {
        value: grads,
        transfer: grads.flatMap((g) => Object.values(g.grads).map((a) => a.buffer as ArrayBuffer)),
      };
    }
    case 'reset':
      pop.resetOptimizer(req.member);
      return { value: null, transfer: [] };
    case 'homeostatic':
      pop.setHomeostaticTarget(req.member, req.value);
      return { value: null, transfer: [] };
    case 'snapshot':
      return { value: req.member === undefined ? pop.snapshots() : [pop.snapshot(req.member)], transfer: [] };
  }
}

const port = parentPort;
if (port === null) throw new Error('population-worker must run in a worker thread');
const pop = FusedPopulation.create((workerData as { states: NetworkState[] }).states);
port.on('message', (req: ShardRequest) => {
  let reply: ShardReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const r = serve(pop, req);
    reply = { ok: true, value: r.value };
    transfer = r.transfer;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { ok: false, name: err.name, message: err.message };
  }
  port.postMessage(reply, transfer);
});
port.postMessage({ ok: true, value: 'ready' } satisfies ShardReply);
