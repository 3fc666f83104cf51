/*
 * What the dashboard bundle takes of @ip2/snn (vite.config.ts and tsconfig.json alias '@ip2/snn' here): the
 * property keys and the model versions that the search definition schema of @ip2/search names. No
 * engine code.
 */
export * from '../../../packages/snn/src/model/properties.ts';
export { CURRENT_MODEL_VERSION, MODEL_VERSIONS, type ModelVersion } from '../../../packages/snn/src/model/config.ts';
