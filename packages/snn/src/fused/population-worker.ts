/**
 * The worker_threads side of ThreadedPopulation: one shard of the population (a FusedPopulation of
 * its members, built from workerData) that answers each request with exactly one message, in the
 * order the requests came (a FusedPopulation does a call's work before it returns, so each request
 * is served before the next message is taken).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { NetworkState } from '../engine.js';
import { FusedPopulation } from './population.js';
import { packStats, type ShardReply, type ShardRequest } from './threaded-population.js';

async function serve(pop: FusedPopulation, req: ShardRequest): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  switch (req.op) {
    case 'train': {
      const stats = packStats(await pop.trainStep(req.batch));
      return { value: stats, transfer: [stats.buffer as ArrayBuffer] };
    }
    case 'eval': {
      const evals = await pop.evaluate(req.batch, req.lesion ? { lesion: req.lesion } : {});
      return { value: evals, transfer: evals.flatMap((e) => (e === null ? [] : [e.outputs.buffer as ArrayBuffer])) };
    }
    case 'grad': {
      const grads = await pop.gradients(req.batch);
      return {
        value: grads,
        transfer: grads.flatMap((g) => Object.values(g.grads).map((a) => a.buffer as ArrayBuffer)),
      };
    }
    case 'reset':
      await pop.resetOptimizer(req.member);
      return { value: null, transfer: [] };
    case 'homeostatic':
      await pop.setHomeostaticTarget(req.member, req.value);
      return { value: null, transfer: [] };
    case 'snapshot':
      return {
        value: req.member === undefined ? await pop.snapshots() : [await pop.snapshot(req.member)],
        transfer: [],
      };
  }
}

if (parentPort === null) throw new Error('population-worker must run in a worker thread');
const port = parentPort;
const pop = FusedPopulation.create((workerData as { states: NetworkState[] }).states);
async function answer(req: ShardRequest): Promise<void> {
  let reply: ShardReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const r = await serve(pop, req);
    reply = { ok: true, value: r.value };
    transfer = r.transfer;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { ok: false, name: err.name, message: err.message };
  }
  port.postMessage(reply, transfer);
}
port.on('message', (req: ShardRequest) => void answer(req));
port.postMessage({ ok: true, value: 'ready' } satisfies ShardReply);
