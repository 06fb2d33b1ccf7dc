import { either as E } from 'fp-ts'
import { decodeWith, errors, schemas, z, type InvalidOptions, type ProgressEvent, type RunControl } from '@sonde/oracle'

// One declaration per option: the type, the default, the constraint and the sentence a person reads. The
// probes' schemas are these fields; the family functions decode the same fields plus a seed and RunControl.

const control = {
  signal: z
    .custom<AbortSignal>((v) => typeof AbortSignal !== 'undefined' && v instanceof AbortSignal, 'is not an AbortSignal')
    .optional()
    .describe('stops the work: it ends with Aborted at the next check'),
  progress: z
    .custom<(event: ProgressEvent) => void>((v) => typeof v === 'function', 'is not a function')
    .optional()
    .describe('called with { stage, done, total } at least once per bisection level or epoch'),
  log: z
    .custom<(message: string) => void>((v) => typeof v === 'function', 'is not a function')
    .optional()
    .describe('receives a line of text now and then'),
}

/** Fields of the linear probe (the extraction itself takes none but its seed). */
export const linearFields = {
  verifyPoints: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(8)
    .describe('random points (from the oracle domain, drawn with the seed) at which the extracted model is compared with the oracle by value queries; 0 skips the check'),
}

/** The options of `extractLinear` (a seed, only recorded, and the run control), decoded strictly. */
export const linearFunctionSchema = z
  .object({
    seed: schemas.seed().default(0).describe('recorded in the result; no random choice is made'),
    ...control,
  })
  .strict()

/** The fields `extractReluNetwork` and its probe share (budget, hidden units, strategy, bisection, biases, check); each with its default and description. */
export const reluFields = {
  budget: z
    .number()
    .int()
    .min(2)
    .optional()
    .describe('the most rows (gradient + value, including the verification) the extraction may spend; default 20,000 per logit'),
  hiddenUnits: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("the number of hidden units (of the whole network with strategy 'whole-network', per logit with 'per-logit'), if known; otherwise it is found"),
  strategy: z
    .enum(['whole-network', 'per-logit'])
    .default('whole-network')
    .describe("'whole-network': find the kinks once with logit 0 and read every other logit from one gradient row per linear piece (the minimal network; falls back to 'per-logit' if the logits do not share the units found); 'per-logit': each logit on its own line, positive multiples merged"),
  bisection: z
    .enum(['confirmed', 'fixed-width'])
    .default('confirmed')
    .describe("'confirmed': stop bisecting an interval as soon as two queries astride its predicted kink confirm it holds one; 'fixed-width': bisect until every interval is narrower than π/(64 n²) (Milli et al.)"),
  hiddenBias: z
    .boolean()
    .default(true)
    .describe('whether the hidden units have biases: true locates them exactly with value queries of the logits; false reads gradients only'),
  verifyPoints: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(8)
    .describe('random points at which every logit of the answer is checked against the oracle (values with biases, gradients without); 0 skips the check'),
  tolerance: z.number().gt(0).lt(1).default(1e-7).describe('the largest relative error accepted at the check points'),
}

/** The options of `extractReluNetwork`: {@link reluFields}, a required seed and the run control, decoded strictly. */
export const reluFunctionSchema = z
  .object({ ...reluFields, seed: schemas.seed().describe('the seed of the random lines the search walks and of the check points'), ...control })
  .strict()

/** The fields `gradientMatchingCopy` and its probe share (budget, fit, λ, the copy's shape and training); each with its default and description. */
export const matchingFields = {
  budget: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('points to query: each costs one value row and, with lambda > 0, one gradient row; default the whole pool, or 100 random points without one'),
  fit: z
    .enum(['logits', 'labels'])
    .default('logits')
    .describe("fit the oracle's logits (mean squared error; the oracle must reveal logits) or its labels (cross-entropy)"),
  lambda: z
    .number()
    .min(0)
    .max(1e6)
    .default(1)
    .describe("weight of the gradient term λ·mean‖∇ₓ logit_c(copy) − ∇ₓ logit_c(oracle)‖², c the oracle's label; 0 is plain copying (no gradient queries)"),
  hidden: z.array(z.number().int().min(1).max(4096)).max(8).default([64]).describe('hidden widths of the copy, a ReLU MLP with logits out'),
  epochs: z.number().int().min(1).max(100_000).default(300).describe('full passes over the queried points'),
  learningRate: z.number().gt(0).max(10).default(3e-3).describe("Adam's learning rate"),
  batchSize: z.number().int().min(1).default(64).describe('points per training step'),
}

/** The options of `gradientMatchingCopy`: {@link matchingFields}, a required seed and the run control, decoded strictly. */
export const matchingFunctionSchema = z
  .object({ ...matchingFields, seed: schemas.seed().describe('the seed of the points drawn or shuffled and of the copy’s initialisation and batches'), ...control })
  .strict()

/** Decode a family function's options; `undefined` is `{}` where every field has a default. */
export const decodeOptions = <A>(schema: z.ZodType<A>, options: unknown): E.Either<InvalidOptions, A> =>
  options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))
    ? E.left(errors.invalidOptions([{ path: 'options', message: `is ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}; expected an object` }]))
    : decodeWith(schema as z.ZodType<A, unknown>, options ?? {}, 'options')

/** The RunControl fields of decoded options (absent ones left out). */
export const controlFrom = (o: { readonly signal?: AbortSignal | undefined; readonly progress?: RunControl['progress'] | undefined; readonly log?: RunControl['log'] | undefined }): RunControl => ({
  ...(o.signal !== undefined ? { signal: o.signal } : {}),
  ...(o.progress !== undefined ? { progress: o.progress } : {}),
  ...(o.log !== undefined ? { log: o.log } : {}),
})
