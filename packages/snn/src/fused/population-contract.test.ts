import { createPopulation } from '../create-population.js';
import { populationContract } from '../population-contract.fixtures.js';

populationContract('fused', { create: (states) => createPopulation(states, { kind: 'fused' }) });
populationContract('threaded, 2 worker threads', {
  create: (states) => createPopulation(states, { kind: 'threaded', threads: 2 }),
});
populationContract('threaded, the calling thread and a worker thread', {
  create: (states) => createPopulation(states, { kind: 'threaded', threads: 2, callingThread: true }),
});
