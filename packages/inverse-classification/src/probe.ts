import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { decoders as d, errors, type Decoder, type InvalidOptions, type Oracle, type Probe } from '@sonde/oracle'
import { counterfactual, type CounterfactualResult, type Surrogate } from './counterfactual.js'
import type { InverseOptions } from './problem.js'

/** The options of {@link inverseClassificationProbe}, as decoded from JSON-like input. */
export interface InverseProbeOptions extends InverseOptions {
  readonly x0: Float64Array
  readonly surrogate: Surrogate
  readonly maxQueries?: number
  readonly bisectionSteps?: number
}

const finiteArray = d.array(d.number())
const toF64 = (xs: readonly number[]): Float64Array => Float64Array.from(xs)

const numberOrArray: Decoder<number | Float64Array> = (u, path = 'options') =>
  typeof u === 'number' ? (Number.isNaN(u) ? E.left(errors.invalidOptions([{ path, message: 'is NaN' }])) : E.right(u)) : F.pipe(finiteArray(u, path), E.map(toF64))

// Infinite bounds are allowed for `lower`/`upper`, so they bypass the finite-number decoder for plain numbers.
const surrogate: Decoder<Surrogate> = (u, path = 'options.surrogate') => {
  if (u === null || typeof u !== 'object') return E.left(errors.invalidOptions([{ path, message: 'expected { weights, bias }' }]))
  const o = u as { weights?: unknown; bias?: unknown }
  if (typeof o.bias === 'number') {
    return F.pipe(
      finiteArray(o.weights, `${path}.weights`),
      E.map((w): Surrogate => ({ weights: toF64(w), bias: o.bias as number })),
    )
  }
  const rows = d.array(finiteArray, { minLength: 2 })(o.weights, `${path}.weights`)
  const bias = finiteArray(o.bias, `${path}.bias`)
  if (E.isLeft(rows) || E.isLeft(bias)) {
    return E.left(errors.invalidOptions([...(E.isLeft(rows) ? rows.left.issues : []), ...(E.isLeft(bias) ? bias.left.issues : [])]))
  }
  const k = rows.right.length
  const cols = rows.right[0]!.length
  if (rows.right.some((r) => r.length !== cols)) return E.left(errors.invalidOptions([{ path: `${path}.weights`, message: 'rows have different lengths' }]))
  return E.right({ weights: { rows: k, cols, data: Float64Array.from(rows.right.flat()) }, bias: toF64(bias.right) })
}

const fields = d.struct({
  x0: finiteArray,
  surrogate,
  target: d.number({ integer: true, min: 0 }),
  margin: d.optional(d.number({ min: 0 })),
  probability: d.optional(d.number({ greaterThan: 0, max: 0.999999999999 })),
  lower: d.optional(numberOrArray),
  upper: d.optional(numberOrArray),
  immutable: d.optional(d.array(d.number({ integer: true, min: 0 }))),
  maxQueries: d.optional(d.number({ integer: true, min: 1 })),
  bisectionSteps: d.optional(d.number({ integer: true, min: 0 })),
})

const decodeOptions: Decoder<InverseProbeOptions> = (u, path) =>
  F.pipe(
    fields(u, path),
    E.map((o): InverseProbeOptions => ({ ...o, x0: toF64(o.x0) })),
  ) as E.Either<InvalidOptions, InverseProbeOptions>

/**
 * The registry's descriptor: find the closest input a (black-box) classifier puts in `target`,
 * solving exactly on a linear/softmax `surrogate` and verifying (and repairing) with the oracle.
 * Needs labels only.
 *
 * @example
 * const registry = makeRegistry([inverseClassificationProbe])
 * await toPromise(runProbe(inverseClassificationProbe, oracle, { x0: [...], surrogate: { weights, bias }, target: 8 }, makeContext({ seed: 0 })))
 */
export const inverseClassificationProbe: Probe<Oracle, InverseProbeOptions, CounterfactualResult & { readonly seed: number }> = {
  id: 'sonde/inverse-classification',
  summary: 'the closest input the classifier assigns to a chosen class, exact on a linear/softmax surrogate and verified with the oracle',
  requires: ['labels'],
  options: decodeOptions,
  run: (oracle, options, ctx) =>
    F.pipe(
      counterfactual(oracle, options.surrogate, options.x0, options),
      // Deterministic: no random choice is made; the seed is echoed for the record.
      TE.map((r) => ({ ...r, seed: ctx.seed })),
    ),
}
