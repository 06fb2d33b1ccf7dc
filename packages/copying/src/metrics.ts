import { taskEither as TE, function as F } from 'fp-ts'
import { createRng, errors, featureBounds, labelAgreement, type Matrix, type Oracle, type ProbeError } from '@sonde/oracle'

const labels = (o: Oracle, x: Matrix): TE.TaskEither<ProbeError, Int32Array> => F.pipe(o.predict(x), TE.map((p) => p.labels))

/**
 * Empirical fidelity error F̂ = 1 − (1/|S|) Σ 1[a(x) = b(x)] on the points `x` (Unceta et al.):
 * 0 for a perfect copy. Spends x.rows queries of each oracle.
 *
 * @example
 * const err = await toPromise(empiricalFidelityError(original, copy, heldOut))
 */
export const empiricalFidelityError = (a: Oracle, b: Oracle, x: Matrix): TE.TaskEither<ProbeError, number> =>
  F.pipe(
    TE.Do,
    TE.apS('la', labels(a, x)),
    TE.apS('lb', labels(b, x)),
    TE.map(({ la, lb }) => 1 - labelAgreement(la, lb)),
  )

/**
 * Replacement capability RC = accuracy(copy) / accuracy(original) on labelled data: 1 when the
 * copy does the original's job as well as the original.
 *
 * @example
 * const rc = await toPromise(replacementCapability(original, copy, test.x, test.y))
 */
export const replacementCapability = (original: Oracle, copy: Oracle, x: Matrix, y: Int32Array): TE.TaskEither<ProbeError, number> => {
  if (y.length !== x.rows) return TE.left(errors.shapeMismatch('y', `${x.rows} labels`, `${y.length}`))
  const acc = (l: Int32Array) => labelAgreement(l, y)
  return F.pipe(
    TE.Do,
    TE.apS('lo', labels(original, x)),
    TE.apS('lc', labels(copy, x)),
    TE.map(({ lo, lc }) => acc(lc) / acc(lo)),
  )
}

/**
 * Agreement on `count` (default 10,000) points uniform in the oracle's domain (Tramèr's R_unif).
 * Needs a finite domain (`InvalidInput` otherwise).
 *
 * @example
 * const agree = await toPromise(uniformAgreement(original, copy, { seed: 1 }))
 */
export const uniformAgreement = (a: Oracle, b: Oracle, o: { readonly count?: number; readonly seed: number }): TE.TaskEither<ProbeError, number> => {
  const d = a.info.inputDim
  if (a.info.domain === undefined) return TE.left(errors.invalidInput(`oracle '${a.info.id}' has no domain; uniformAgreement needs a finite box`, 'oracle.info.domain'))
  const n = o.count ?? 10_000
  if (!Number.isSafeInteger(o.seed)) return TE.left(errors.invalidOptions([{ path: 'options.seed', message: `is ${String(o.seed)}; expected a safe integer` }]))
  if (!(Number.isInteger(n) && n >= 1)) return TE.left(errors.invalidOptions([{ path: 'options.count', message: `is ${n}; expected a positive integer` }]))
  const rng = createRng(o.seed)
  const data = new Float64Array(n * d)
  for (let k = 0; k < data.length; k++) {
    const [lo, hi] = featureBounds(a.info, k % d)
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return TE.left(errors.invalidInput('uniformAgreement needs a finite domain', 'oracle.info.domain'))
    data[k] = lo + (hi - lo) * rng.next()
  }
  return F.pipe(empiricalFidelityError(a, b, { rows: n, cols: d, data }), TE.map((e) => 1 - e))
}

/**
 * The share of each class in a labelled set (length max(numClasses, 2)).
 *
 * @example
 * classBalance(result.diagnostics.labels, 10) // Float64Array of shares summing to 1
 */
export const classBalance = (y: Int32Array, numClasses: number): Float64Array => {
  const out = new Float64Array(Math.max(numClasses, 2))
  for (const l of y) out[l]! += 1
  for (let c = 0; c < out.length; c++) out[c]! /= Math.max(1, y.length)
  return out
}
