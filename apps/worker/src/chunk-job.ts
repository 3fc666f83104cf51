import { parseProtocol, type ChunkJob } from '@ip2/l2l';
import type { SearchDefinition } from '@ip2/search';
import type { PropertyKey } from '@ip2/snn';

/**
 * The inner-loop job of a run.train payload. It must build exactly what the local mode builds for the
 * same train action (apps/cli chunkJob), so that both modes give identical results.
 */
export function chunkJobFor(
  d: SearchDefinition,
  p: { readonly seed: number; readonly keys: readonly string[]; readonly fromTask: number; readonly toTask: number },
): ChunkJob {
  return {
    family: d.family,
    seed: p.seed,
    model: 'ip2',
    space: d.space,
    mask: p.keys as readonly PropertyKey[],
    hidden: d.protocol.network.hidden,
    lr: d.protocol.network.lr,
    loss: d.protocol.network.loss,
    protocol: parseProtocol({
      tasks: d.protocol.tasks,
      window: d.protocol.criterion.window,
      epsilon: d.protocol.criterion.epsilon,
      cap: d.protocol.iterationCap,
      batchSize: d.protocol.batchSize,
      evalBatch: d.protocol.evalBatch,
      dt: d.protocol.network.dt,
    }),
    fromTask: p.fromTask,
    toTask: p.toTask,
  };
}
