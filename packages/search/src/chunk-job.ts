import { parseProtocol, type ChunkJob } from '@ip2/l2l';
import type { EngineName, PropertyKey } from '@ip2/snn';
import type { SearchDefinition } from './definition.js';

/** Which part of which run to train: a train action, or a claimed run's next chunk. */
export interface ChunkTarget {
  readonly seed: number;
  readonly keys: readonly string[];
  readonly fromTask: number;
  readonly toTask: number;
}

/**
 * The inner-loop job (`trainChunk` of @ip2/l2l) for a part of a search's run. The local mode and the
 * queue workers both build their jobs here, so the same search trains the same networks in both.
 */
export function chunkJob(d: SearchDefinition, t: ChunkTarget, engine?: EngineName): ChunkJob {
  return {
    family: d.family,
    seed: t.seed,
    model: 'ip2',
    space: d.space,
    mask: t.keys as readonly PropertyKey[],
    hidden: d.protocol.network.hidden,
    lr: d.protocol.network.lr,
    loss: d.protocol.network.loss,
    network: {
      modelVersion: d.protocol.network.modelVersion,
      propertyOptimizer: d.protocol.network.propertyOptimizer,
      ...(d.protocol.network.propertyLr === undefined ? {} : { propertyLr: d.protocol.network.propertyLr }),
      ...(d.protocol.network.readout === undefined ? {} : { readout: d.protocol.network.readout }),
    },
    protocol: parseProtocol({
      tasks: d.protocol.tasks,
      window: d.protocol.criterion.window,
      epsilon: d.protocol.criterion.epsilon,
      cap: d.protocol.iterationCap,
      ...(d.protocol.batchSize === undefined ? {} : { batchSize: d.protocol.batchSize }),
      evalBatch: d.protocol.evalBatch,
      dt: d.protocol.network.dt,
    }),
    fromTask: t.fromTask,
    toTask: t.toTask,
    ...(engine ? { engine } : {}),
  };
}
