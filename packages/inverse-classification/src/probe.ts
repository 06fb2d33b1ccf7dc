import { schemas, z, type Domain, type Oracle, type Probe } from '@sonde/oracle'
import { counterfactual, type CounterfactualResult, type Surrogate } from './counterfactual.js'
import { DEFAULT_MARGIN } from './problem.js'
import { counterfactualReport } from './report.js'

/** The options of {@link inverseClassificationProbe}, as decoded from JSON-like input. */
export interface InverseProbeOptions {
  readonly x0: Float64Array
  readonly surrogate: Surrogate
  readonly target: number
  readonly margin?: number
  readonly probability?: number
  readonly domain?: Domain
  readonly immutable: readonly number[]
  readonly budget: number
  readonly bisectionSteps: number
  readonly maxScale: number
}

const softmaxSurrogate = z
  .object({
    weights: schemas.matrix({ minRows: 2, description: 'the K × D weight matrix W: one row of D weights per class (K ≥ 2)' }),
    bias: schemas.vector({ minLength: 2, description: 'the K biases b, one per class' }),
  })
  .strict()
  .describe('a softmax model: logits W x + b')

const logisticSurrogate = z
  .object({
    weights: schemas.vector({ minLength: 1, description: 'the D weights w' }),
    bias: z.number().finite().describe('the bias b'),
  })
  .strict()
  .describe('a logistic model: P(class 1 | x) = σ(wᵀx + b)')

type Issue = { readonly path: PropertyKey[]; readonly message: string }

const issuesOf = (error: z.ZodError): Issue[] =>
  error.issues.map((i) => ({
    path: i.path,
    message: i.code === 'unrecognized_keys' ? `has unknown field(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` : i.message,
  }))

const { $schema: _softmaxDialect, ...softmaxJson } = z.toJSONSchema(softmaxSurrogate, { io: 'input', unrepresentable: 'any' })
const { $schema: _logisticDialect, ...logisticJson } = z.toJSONSchema(logisticSurrogate, { io: 'input', unrepresentable: 'any' })

// A bias that is a number means a logistic surrogate, anything else a softmax one: deciding first gives
// errors at the right path (`surrogate.weights[1][2]`) where a plain union would only say "invalid input".
const pick = (u: unknown): z.ZodType => (u !== null && typeof u === 'object' && typeof (u as { bias?: unknown }).bias === 'number' ? logisticSurrogate : softmaxSurrogate)

const surrogate = z
  .unknown()
  .superRefine((u, ctx) => {
    const parsed = pick(u).safeParse(u)
    if (!parsed.success) for (const i of issuesOf(parsed.error)) ctx.addIssue({ code: 'custom', path: i.path, message: i.message })
  })
  .transform((u) => pick(u).parse(u) as Surrogate)
  .meta({
    anyOf: [softmaxJson, logisticJson],
    description: 'the surrogate solved exactly: a softmax model { weights: K rows of D numbers, bias: K numbers } or a logistic model { weights: D numbers, bias: a number }',
  }) as unknown as z.ZodType<Surrogate, unknown>

const surrogateWidth = (s: Surrogate): number => ('gram' in s ? s.model.weights.cols : s.weights instanceof Float64Array ? s.weights.length : s.weights.cols)
const surrogateClasses = (s: Surrogate): number => ('gram' in s ? s.model.weights.rows : s.weights instanceof Float64Array ? 2 : s.weights.rows)

const options = z
  .object({
    x0: schemas.vector({ minLength: 1, description: 'the input to explain: the counterfactual is the closest point to it (Euclidean) that the model puts in `target`' }),
    surrogate,
    target: z.number().int().min(0).describe('the class the counterfactual must be assigned to (a class index)'),
    margin: z
      .number()
      .finite()
      .min(0)
      .optional()
      .describe(`the logit margin by which the target must beat every other class on the surrogate; when neither this nor probability is given, ${DEFAULT_MARGIN} (just across the boundary)`),
    probability: z.number().gt(0).lt(1).optional().describe('instead of a margin: the probability the surrogate must give the target, in (0, 1)'),
    domain: z
      .object({
        lower: schemas.bound('the lower side of the box: one number for every feature, or one per feature; default unbounded (the oracle’s domain still applies)').optional(),
        upper: schemas.bound('the upper side of the box: one number for every feature, or one per feature; default unbounded (the oracle’s domain still applies)').optional(),
      })
      .strict()
      .optional()
      .describe('the box the counterfactual must stay in, intersected with the oracle’s own domain; e.g. { lower: 0, upper: 1 } for pixels'),
    immutable: z.array(z.number().int().min(0)).default([]).describe('indices of features that must keep their value in x0'),
    budget: z.number().int().min(1).default(40).describe('the most oracle rows to spend: one to check the surrogate’s answer, the rest to repair it'),
    bisectionSteps: z.number().int().min(0).default(12).describe('bisection levels that pull a repaired point back towards x0 (one query each)'),
    maxScale: z.number().finite().min(1).default(16).describe('the repair searches the ray from x0 through the surrogate’s answer up to this multiple of its length'),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.margin !== undefined && o.probability !== undefined) ctx.addIssue({ code: 'custom', path: ['probability'], message: 'give margin or probability, not both' })
    if (o.surrogate === undefined || o.x0 === undefined) return
    const d = surrogateWidth(o.surrogate)
    if (o.x0.length !== d) ctx.addIssue({ code: 'custom', path: ['x0'], message: `has ${o.x0.length} values; the surrogate has ${d} features` })
    const k = surrogateClasses(o.surrogate)
    const bias: unknown = 'gram' in o.surrogate ? undefined : o.surrogate.bias
    if (bias instanceof Float64Array && bias.length !== k) {
      ctx.addIssue({ code: 'custom', path: ['surrogate', 'bias'], message: `has ${bias.length} values; the weights have ${k} rows (one bias per class)` })
    }
    if (o.target !== undefined && o.target >= k) ctx.addIssue({ code: 'custom', path: ['target'], message: `is ${o.target}; the surrogate has ${k} classes (0..${k - 1})` })
    o.immutable.forEach((i, n) => {
      if (i >= d) ctx.addIssue({ code: 'custom', path: ['immutable', n], message: `is ${i}; expected a feature index in 0..${d - 1}` })
    })
    for (const side of ['lower', 'upper'] as const) {
      const b = o.domain?.[side]
      if (b instanceof Float64Array && b.length !== d) ctx.addIssue({ code: 'custom', path: ['domain', side], message: `has ${b.length} values; expected 1 number or ${d} (one per feature)` })
    }
  })
  .transform(
    (o): InverseProbeOptions => ({
      x0: o.x0,
      surrogate: o.surrogate,
      target: o.target,
      ...(o.margin !== undefined ? { margin: o.margin } : {}),
      ...(o.probability !== undefined ? { probability: o.probability } : {}),
      ...(o.domain !== undefined ? { domain: { lower: o.domain.lower ?? -Infinity, upper: o.domain.upper ?? Infinity } } : {}),
      immutable: o.immutable,
      budget: o.budget,
      bisectionSteps: o.bisectionSteps,
      maxScale: o.maxScale,
    }),
  ) as unknown as z.ZodType<InverseProbeOptions, unknown>

/**
 * The registry's descriptor: find the closest input a (black-box) classifier puts in `target`,
 * solving exactly on a linear/softmax `surrogate` given as JSON (weights and bias) and verifying (and
 * repairing) with the oracle, within `budget` rows. Needs labels only. Deterministic: `ctx.seed` is echoed.
 * Its report gives the distance, whether the oracle confirmed it, the KKT certificate, the changed
 * features, and images of x0 and the counterfactual when x0 is a square image with values in [0, 1].
 *
 * @example
 * import { fromRows, makeContext, makeRegistry, runProbe, toPromise } from '@sonde/oracle'
 * import { SoftmaxRegression } from '@sonde/models'
 * import { inverseClassificationProbe } from '@sonde/inverse-classification'
 *
 * const registry = makeRegistry([inverseClassificationProbe]) // Right(Registry)
 * const oracle = new SoftmaxRegression({ weights: fromRows([[1, 0], [0, 1]]), bias: Float64Array.of(0, 0) }, { domain: { lower: 0, upper: 1 } })
 * const opts = { x0: [0.1, 0.9], surrogate: { weights: [[1, 0], [0, 1]], bias: [0, 0] }, target: 0, domain: { lower: 0, upper: 1 } }
 * const result = await toPromise(runProbe(inverseClassificationProbe, oracle, opts, makeContext({ seed: 0 })))
 * const { headline } = inverseClassificationProbe.report(result)
 */
export const inverseClassificationProbe: Probe<Oracle, InverseProbeOptions, CounterfactualResult> = {
  id: 'sonde/inverse-classification',
  summary: 'the closest input the classifier assigns to a chosen class, exact on a linear/softmax surrogate and verified (or repaired) with the oracle',
  requires: ['labels'],
  options,
  run: (oracle, o, ctx) =>
    counterfactual(oracle, o.surrogate, o.x0, {
        target: o.target,
        ...(o.margin !== undefined ? { margin: o.margin } : {}),
        ...(o.probability !== undefined ? { probability: o.probability } : {}),
        ...(o.domain !== undefined ? { domain: o.domain } : {}),
        immutable: o.immutable,
        budget: o.budget,
        bisectionSteps: o.bisectionSteps,
        maxScale: o.maxScale,
        seed: ctx.seed,
        ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
        progress: ctx.progress,
        log: ctx.log,
      }),
  report: (result) => counterfactualReport(result),
}
