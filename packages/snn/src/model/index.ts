export * from './config.js';
export * from './loss.js';
export * from './properties.js';
export * from './reference.js';
export {
  step as neuronStep,
  initialState as initialNeuronState,
  synapticInput,
  type NeuronParams,
  type NeuronState,
} from './step.js';
export * from './surrogates.js';
