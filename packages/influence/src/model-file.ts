import { either as E, taskEither as TE } from 'fp-ts'
import { decodeWith, errors, schemas, z, type ProbeError } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression } from '@sonde/models'

/**
 * A saved logistic or softmax regression, as JSON: `{ kind, weights, bias, l2 }`. Softmax: `weights` is K rows
 * of D numbers (logits W x + b), `bias` K numbers; logistic: `weights` D numbers, `bias` one number
 * (P(y = 1) = σ(wᵀx + b)). `l2` is the L2 strength the model was fit with — influence needs it, since the
 * scores are taken at an optimum of the regularised objective.
 */
export type SavedLinearModel =
  | { readonly kind: 'softmax'; readonly weights: readonly (readonly number[])[]; readonly bias: readonly number[]; readonly l2: number }
  | { readonly kind: 'logistic'; readonly weights: readonly number[]; readonly bias: number; readonly l2: number }

const l2 = z.number().min(0).describe('the L2 strength the model was fit with (λ in (λ/2)‖θ‖²)')
const saved = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('softmax'),
      weights: schemas.matrix({ description: 'W, one row of D weights per class' }),
      bias: schemas.vector({ description: 'b, one per class' }),
      l2,
    })
    .strict(),
  z
    .object({
      kind: z.literal('logistic'),
      weights: schemas.vector({ description: 'w, one weight per feature' }),
      bias: z.number().describe('b'),
      l2,
    })
    .strict(),
])

/**
 * A logistic or softmax regression from its saved JSON form ({@link SavedLinearModel}): `InvalidOptions`
 * listing every bad path (non-finite weights included) or a bias that does not match the weights.
 *
 * @example
 * import { modelFromJson } from '@sonde/influence'
 *
 * const model = modelFromJson({ kind: 'logistic', weights: [1, -1], bias: 0, l2: 0.01 }) // Right(LogisticRegression)
 */
export const modelFromJson = (json: unknown, path = 'model'): E.Either<ProbeError, SoftmaxRegression | LogisticRegression> => {
  const decoded = decodeWith(saved, json, path)
  if (E.isLeft(decoded)) return decoded
  const m = decoded.right
  try {
    if (m.kind === 'logistic') return E.right(new LogisticRegression({ weights: m.weights, bias: m.bias }, { l2: m.l2 }))
    if (m.bias.length !== m.weights.rows) return E.left(errors.invalidOptions([{ path: `${path}.bias`, message: `has ${m.bias.length} values; weights have ${m.weights.rows} rows (one per class)` }]))
    if (m.weights.rows < 2) return E.left(errors.invalidOptions([{ path: `${path}.weights`, message: 'has fewer than 2 rows; a softmax model needs a row per class' }]))
    return E.right(new SoftmaxRegression({ weights: m.weights, bias: m.bias }, { l2: m.l2 }))
  } catch (cause) {
    return E.left(errors.invalidOptions([{ path, message: cause instanceof Error ? cause.message : String(cause) }]))
  }
}

/**
 * The saved JSON form of a logistic or softmax regression (what {@link modelFromJson} and
 * {@link loadModelFile} read back): plain numbers only.
 *
 * @example
 * // fragment: writes model.json
 * import { writeFileSync } from 'node:fs'
 * import { LogisticRegression } from '@sonde/models'
 * import { modelToJson } from '@sonde/influence'
 *
 * const model = new LogisticRegression({ weights: Float64Array.of(1, -1), bias: 0 })
 * writeFileSync('model.json', JSON.stringify(modelToJson(model))) // {"kind":"logistic","weights":[1,-1],"bias":0,"l2":…}
 */
export const modelToJson = (model: SoftmaxRegression | LogisticRegression): SavedLinearModel =>
  model instanceof LogisticRegression
    ? { kind: 'logistic', weights: Array.from(model.weights), bias: model.bias, l2: model.l2 }
    : {
        kind: 'softmax',
        weights: Array.from({ length: model.weights.rows }, (_, c) => Array.from(model.weights.data.subarray(c * model.weights.cols, (c + 1) * model.weights.cols))),
        bias: Array.from(model.bias),
        l2: model.l2,
      }

/**
 * Read a saved logistic or softmax regression from a JSON file ({@link SavedLinearModel}). Node only.
 * `InvalidOptions` when the file cannot be read or parsed, naming the path.
 *
 * @example
 * // fragment: reads models/credit.json
 * import { toPromise } from '@sonde/oracle'
 * import { loadModelFile } from '@sonde/influence'
 *
 * const model = await toPromise(loadModelFile('models/credit.json')) // a SoftmaxRegression or LogisticRegression
 */
export const loadModelFile = (path: string): TE.TaskEither<ProbeError, SoftmaxRegression | LogisticRegression> => async () => {
  if (typeof path !== 'string' || path === '') return E.left(errors.invalidOptions([{ path: 'model.file', message: `is ${JSON.stringify(path)}; expected a file path` }]))
  let text: string
  try {
    const fs = await import('node:fs/promises')
    text = await fs.readFile(path, 'utf8')
  } catch (cause) {
    return E.left(errors.invalidOptions([{ path: 'model.file', message: `${JSON.stringify(path)} could not be read: ${cause instanceof Error ? cause.message : String(cause)}` }]))
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return E.left(errors.invalidOptions([{ path: 'model.file', message: `${JSON.stringify(path)} is not JSON: ${cause instanceof Error ? cause.message : String(cause)}` }]))
  }
  return modelFromJson(json, 'model.file')
}
