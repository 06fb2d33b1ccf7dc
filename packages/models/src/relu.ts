import { either as E, taskEither as TE } from 'fp-ts'
import {
  createRng,
  errors,
  guardGradient,
  guardPredict,
  labelsFromScores,
  SondeError,
  validateInfo,
  type GradientOracle,
  type Matrix,
  type OracleError,
  type OracleInfo,
  type Prediction,
} from '@sonde/oracle'

/** Parameters of f(x)_k = Σᵢ A[k,i]·ReLU(Wᵢ·x + bᵢ) + c_k. */
export interface TwoLayerReluParams {
  /** Hidden weights, h × d. */
  readonly hiddenWeights: Matrix
  /** Hidden biases, h. */
  readonly hiddenBias: Float64Array
  /** Output weights, K × h. */
  readonly outputWeights: Matrix
  /** Output biases, K (default zeros). */
  readonly outputBias?: Float64Array
}

/** Options of {@link randomTwoLayerRelu}. */
export interface RandomReluOptions {
  readonly inputDim: number
  readonly hidden: number
  /** Number of logits K. Default 1 (a single logit, as a binary classifier exposes). */
  readonly numClasses?: number
  /** @deprecated Use `numClasses`. */
  readonly outputs?: number
  readonly seed: number
  /** Draw hidden biases (N(0, 1)); otherwise they are zero. Default true. */
  readonly hiddenBias?: boolean
  readonly id?: string
}

/**
 * A two-layer ReLU network in float64: f(x)_k = Σᵢ A[k,i]·ReLU(Wᵢ·x + bᵢ) + c_k, revealed as
 * logits (K outputs; K = 1 is one logit, label 1 when f(x) > 0). A {@link GradientOracle}: the
 * input gradient of output k is Σᵢ A[k,i]·1[Wᵢ·x + bᵢ > 0]·Wᵢ (at a kink, the zero side).
 *
 * The reference piecewise-linear model for gradient-based extraction.
 *
 * @example
 * import { matrix } from '@sonde/oracle'
 * import { randomTwoLayerRelu } from '@sonde/models'
 *
 * const net = randomTwoLayerRelu({ inputDim: 784, hidden: 16, seed: 1 })
 * const f = net.evaluate(matrix(2, 784)) // 2 × 1 logits (of two all-zero rows)
 */
export class TwoLayerRelu implements GradientOracle {
  readonly info: OracleInfo
  readonly hiddenWeights: Matrix
  readonly hiddenBias: Float64Array
  readonly outputWeights: Matrix
  readonly outputBias: Float64Array

  constructor(params: TwoLayerReluParams, options: { readonly id?: string } = {}) {
    const shaped = (m: unknown): boolean => m !== null && typeof m === 'object' && (m as Matrix).data instanceof Float64Array && Number.isSafeInteger((m as Matrix).rows) && Number.isSafeInteger((m as Matrix).cols)
    if (params === null || typeof params !== 'object' || !shaped(params.hiddenWeights) || !shaped(params.outputWeights) || !(params.hiddenBias instanceof Float64Array) || (params.outputBias !== undefined && !(params.outputBias instanceof Float64Array))) {
      throw new RangeError('TwoLayerRelu: expected { hiddenWeights: Matrix, hiddenBias: Float64Array, outputWeights: Matrix, outputBias?: Float64Array }')
    }
    const { hiddenWeights: w, hiddenBias: b, outputWeights: a } = params
    const h = w.rows
    const k = a.rows
    const problems: string[] = []
    if (w.data.length !== w.rows * w.cols) problems.push('hiddenWeights.data does not match its shape')
    if (b.length !== h) problems.push(`hiddenBias has ${b.length} values; hiddenWeights has ${h} rows`)
    if (a.cols !== h) problems.push(`outputWeights has ${a.cols} columns; expected ${h} (hidden units)`)
    if (a.data.length !== a.rows * a.cols) problems.push('outputWeights.data does not match its shape')
    if (params.outputBias !== undefined && params.outputBias.length !== k) problems.push(`outputBias has ${params.outputBias.length} values; expected ${k}`)
    // Once accepted: NaN weights answered NaN logits.
    for (const [name, values] of [['hiddenWeights', w.data], ['hiddenBias', b], ['outputWeights', a.data], ['outputBias', params.outputBias ?? new Float64Array(0)]] as const) {
      const bad = values.findIndex((v) => !Number.isFinite(v))
      if (bad >= 0) problems.push(`${name}[${bad}] is ${values[bad]}; parameters must be finite`)
    }
    if (problems.length > 0) throw new SondeError(errors.invalidInput(`TwoLayerRelu: ${problems.join('; ')}`, 'params'))
    this.hiddenWeights = w
    this.hiddenBias = b
    this.outputWeights = a
    this.outputBias = params.outputBias ?? new Float64Array(k)
    this.info = { id: options.id ?? `sonde:relu-${w.cols}-${h}-${k}`, inputDim: w.cols, numClasses: k, output: 'logits' }
    const checked = validateInfo(this.info)
    if (E.isLeft(checked)) throw new SondeError(checked.left)
  }

  /** Number of hidden units h. */
  get hidden(): number {
    return this.hiddenWeights.rows
  }

  /** Pre-activations Wx + b, rows × h. */
  preActivations(x: Matrix): Matrix {
    const { rows: h, cols: d, data: w } = this.hiddenWeights
    const out = new Float64Array(x.rows * h)
    for (let r = 0; r < x.rows; r++) {
      for (let i = 0; i < h; i++) {
        let s = this.hiddenBias[i]!
        for (let j = 0; j < d; j++) s += w[i * d + j]! * x.data[r * d + j]!
        out[r * h + i] = s
      }
    }
    return { rows: x.rows, cols: h, data: out }
  }

  /** f(x), rows × K, without validation (for white-box use). */
  evaluate(x: Matrix): Matrix {
    const pre = this.preActivations(x)
    const h = this.hidden
    const { rows: k, data: a } = this.outputWeights
    const out = new Float64Array(x.rows * k)
    for (let r = 0; r < x.rows; r++) {
      for (let c = 0; c < k; c++) {
        let s = this.outputBias[c]!
        for (let i = 0; i < h; i++) {
          const z = pre.data[r * h + i]!
          if (z > 0) s += a[c * h + i]! * z
        }
        out[r * k + c] = s
      }
    }
    return { rows: x.rows, cols: k, data: out }
  }

  readonly predict = (x: Matrix): TE.TaskEither<OracleError, Prediction> =>
    guardPredict(this.info, (q) => {
      const scores = this.evaluate(q)
      return TE.right({ labels: labelsFromScores(scores), scores })
    })(x)

  readonly gradient = (x: Matrix, cls: number | Int32Array): TE.TaskEither<OracleError, Matrix> =>
    guardGradient(this.info, (q, c) => {
      const pre = this.preActivations(q)
      const { rows: h, cols: d, data: w } = this.hiddenWeights
      const a = this.outputWeights.data
      const out = new Float64Array(q.rows * d)
      for (let r = 0; r < q.rows; r++) {
        const o = r * d
        for (let i = 0; i < h; i++) {
          if (!(pre.data[r * h + i]! > 0)) continue
          const coef = a[c[r]! * h + i]!
          for (let j = 0; j < d; j++) out[o + j]! += coef * w[i * d + j]!
        }
      }
      return TE.right({ rows: q.rows, cols: d, data: out })
    })(x, cls)
}

/**
 * A random two-layer ReLU net with N(0, 1/d) hidden weights, N(0, 1) hidden biases and
 * N(0, 1/h) output weights, seeded.
 *
 * @example
 * import { randomTwoLayerRelu } from '@sonde/models'
 *
 * const net = randomTwoLayerRelu({ inputDim: 128, hidden: 16, numClasses: 1, seed: 3 })
 */
export const randomTwoLayerRelu = (options: RandomReluOptions): TwoLayerRelu => {
  const { inputDim: d, hidden: h, seed } = options
  const k = options.numClasses ?? options.outputs ?? 1
  for (const [name, v] of [['inputDim', d], ['hidden', h], ['numClasses', k]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new SondeError(errors.invalidInput(`${name} is ${v}; expected a positive integer`, `options.${name}`))
  }
  const rng = createRng(seed)
  const sw = 1 / Math.sqrt(d)
  const sa = 1 / Math.sqrt(h)
  return new TwoLayerRelu(
    {
      hiddenWeights: { rows: h, cols: d, data: Float64Array.from({ length: h * d }, () => rng.normal() * sw) },
      hiddenBias: Float64Array.from({ length: h }, () => (options.hiddenBias === false ? 0 : rng.normal())),
      outputWeights: { rows: k, cols: h, data: Float64Array.from({ length: k * h }, () => rng.normal() * sa) },
    },
    options.id !== undefined ? { id: options.id } : {},
  )
}
