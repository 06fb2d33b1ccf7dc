export {
  fromOnnxFile,
  loadOnnxRuntime,
  type GradientApproximation,
  type OnnxOracle,
  type OnnxOracleError,
  type OnnxOracleInfo,
  type OnnxOracleOptions,
  type OnnxRuntime,
} from './onnx.js'
