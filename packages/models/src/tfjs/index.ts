/**
 * `@sonde/models/tfjs`: the tfjs side of the reference models — MLP and CNN builders, a seeded trainer,
 * model (de)serialisation, backend selection, and `differentiableNetwork` (the white-box capability for a
 * tfjs network). Needs `@tensorflow/tfjs` (and `@tensorflow/tfjs-backend-wasm` for the fast Node backend);
 * the root entry `@sonde/models` is float64 only and needs neither.
 *
 * @packageDocumentation
 */
export { useFastestBackend, useBackend, type BackendName } from './backend.js'
export {
  buildMlp,
  buildCnn,
  trainClassifier,
  modelToArtifacts,
  modelFromArtifacts,
  type MlpOptions,
  type CnnOptions,
  type TrainOptions,
  type TrainReport,
  type ModelArtifacts,
} from './network.js'
export { differentiableNetwork, type DifferentiableNetwork, type DifferentiableNetworkOptions } from './differentiable.js'
