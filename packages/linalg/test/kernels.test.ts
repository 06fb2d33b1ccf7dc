import { readFileSync } from 'node:fs'
import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { CholeskyDecomposition, LuDecomposition, Matrix as MlMatrix } from 'ml-matrix'
import { createRng, stage, type Matrix } from '@sonde/oracle'
import { cholesky, choleskyTask, gram, gramBlocks, luFactor, luSolve, solve, solveCholesky, solveLower, solveLowerTransposed } from '../src/index.js'

const fixture = JSON.parse(readFileSync(new URL('./fixtures/scipy.json', import.meta.url), 'utf8')) as Record<string, number[][] & number[]>
const flat = (rows: number[][]): Float64Array => Float64Array.from(rows.flat())
const sq = (rows: number[][]): Matrix => ({ rows: rows.length, cols: rows.length, data: flat(rows) })

const right = <A>(e: E.Either<{ readonly message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

/**
 * A seeded symmetric matrix with uniform off-diagonal entries in [−1, 1] and a diagonal of 0.6·p + 1: positive
 * definite by Gershgorin (each row's off-diagonal sum is below p), with a condition number of a few — O(p²) to
 * build, so the tests stay fast. The p = 200 scipy case covers a Gram-type matrix of condition ≈ 1e2.
 */
const randomSpd = (p: number, seed: number): Matrix => {
  const rng = createRng(seed)
  const a = new Float64Array(p * p)
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < i; j++) a[i * p + j] = a[j * p + i] = 2 * rng.next() - 1
    a[i * p + i] = p + 1
  }
  return { rows: p, cols: p, data: a }
}

/** max |L Lᵀ − (A + shift I)| / max |A| over the lower triangle. */
const reconstructionError = (a: Matrix, l: Matrix, shift = 0): number => {
  const p = a.rows
  let err = 0
  let scale = 0
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0
      for (let k = 0; k <= j; k++) s += l.data[i * p + k]! * l.data[j * p + k]!
      err = Math.max(err, Math.abs(s - a.data[i * p + j]! - (i === j ? shift : 0)))
      scale = Math.max(scale, Math.abs(a.data[i * p + j]!))
    }
  }
  return err / scale
}

const upperMax = (l: Matrix): number => {
  let m = 0
  for (let i = 0; i < l.rows; i++) for (let j = i + 1; j < l.cols; j++) m = Math.max(m, Math.abs(l.data[i * l.cols + j]!))
  return m
}

describe('cholesky', () => {
  it('matches scipy.linalg.cholesky on the textbook 3 × 3 and a random 6 × 6 (1e-14: a few ulps)', () => {
    expect(Array.from(right(cholesky(sq(fixture.A3 as number[][]))).data)).toEqual(Array.from(flat(fixture.L3 as number[][])))
    const l6 = right(cholesky(sq(fixture.M6 as number[][]))).data
    flat(fixture.L6 as number[][]).forEach((v, i) => expect(Math.abs(l6[i]! - v)).toBeLessThanOrEqual(1e-14 * 5))
  })

  it('matches scipy on the blocked path (p = 200, inner blocks of 16, 4 × 4 SIMD updates) to 1e-12', () => {
    const p = 200
    const m = 230
    const z = Float64Array.from({ length: m * p }, (_, q) => Math.sin(200 * Math.floor(q / p) + (q % p) + 1))
    const a = new Float64Array(p * p)
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) {
      let s = 0
      for (let t = 0; t < m; t++) s += z[t * p + i]! * z[t * p + j]!
      a[i * p + j] = s / m + (i === j ? 0.1 : 0)
    }
    const l = right(cholesky({ rows: p, cols: p, data: a })).data
    // Entries are O(1) with condition ≈ 1e2: 1e-12 is far above rounding, far below any indexing mistake.
    ;(fixture.L200diag as number[]).forEach((v, i) => expect(Math.abs(l[i * p + i]! - v)).toBeLessThanOrEqual(1e-12))
    ;(fixture.L200last as number[]).forEach((v, j) => expect(Math.abs(l[(p - 1) * p + j]! - v)).toBeLessThanOrEqual(1e-12))
  })

  it.each([1, 2, 5, 95, 96, 97, 131, 257])('reconstructs A + shift·I = L Lᵀ at p = %i (sync and task agree bit for bit)', async (p) => {
    const a = randomSpd(p, p)
    const before = a.data.slice()
    const l = right(cholesky(a, { shift: 0.25 }))
    // Backward stable: ‖LLᵀ − A‖ / ‖A‖ is a small multiple of p·ε.
    expect(reconstructionError(a, l, 0.25)).toBeLessThanOrEqual(1e-13)
    expect(upperMax(l)).toBe(0)
    expect(a.data).toEqual(before)
    const t = right(await choleskyTask(a, { shift: 0.25, parallel: true }))
    expect(t.data).toEqual(l.data)
    const serial = right(await choleskyTask(a, { shift: 0.25, parallel: false }))
    expect(serial.data).toEqual(l.data)
  })

  it('agrees with ml-matrix (an independent implementation) at p = 150 to 1e-12', () => {
    const a = randomSpd(150, 9)
    const ref = new CholeskyDecomposition(new MlMatrix(Array.from({ length: 150 }, (_, i) => Array.from(a.data.subarray(i * 150, (i + 1) * 150))))).lowerTriangularMatrix
    const l = right(cholesky(a))
    for (let i = 0; i < 150; i++) for (let j = 0; j <= i; j++) expect(Math.abs(l.data[i * 150 + j]! - ref.get(i, j))).toBeLessThanOrEqual(1e-12)
  })

  it('inPlace overwrites a.data with L and reads only the lower triangle', () => {
    const a = randomSpd(120, 3)
    const ref = right(cholesky(a))
    const scratch = a.data.slice()
    for (let i = 0; i < 120; i++) for (let j = i + 1; j < 120; j++) scratch[i * 120 + j] = Number.NaN
    const l = right(cholesky({ rows: 120, cols: 120, data: scratch }, { inPlace: true }))
    expect(l.data).toBe(scratch)
    expect(l.data).toEqual(ref.data)
  })

  it.each([10, 97, 300])('names the failing pivot of an indefinite matrix (p = %i)', async (p) => {
    const a = randomSpd(p, 4)
    // Make row k dependent on row k−1 (equal rows and columns): the Schur complement at k is exactly 0 in
    // exact arithmetic, so with a −1 on its diagonal pivot k is the first to fail.
    const k = p - 3
    for (let j = 0; j < p; j++) {
      a.data[k * p + j] = a.data[(k - 1) * p + j]!
      a.data[j * p + k] = a.data[j * p + k - 1]!
    }
    a.data[k * p + k] = a.data[(k - 1) * p + k - 1]! - 1
    const r = cholesky(a)
    expect(E.isLeft(r) && r.left._tag === 'Infeasible' && 'pivot' in r.left && r.left.pivot).toBe(k)
    const t = await choleskyTask(a, { parallel: true })
    expect(E.isLeft(t) && 'pivot' in t.left && t.left.pivot).toBe(k)
    // The pivot is −1 up to rounding.
    expect(E.isLeft(r) && 'value' in r.left && Math.abs(r.left.value + 1)).toBeLessThan(1e-9)
  })

  it('pivotTolerance treats a rank-deficient matrix as singular; without it the tiny pivot passes or fails on rounding', () => {
    // Rows 0 and 1 equal: the second pivot is 0 in exact arithmetic, ~1e-16 in floating point.
    const a = { rows: 3, cols: 3, data: Float64Array.of(2, 2, 1, 2, 2, 1, 1, 1, 3) }
    const r = cholesky(a, { pivotTolerance: 1e-12 })
    expect(E.isLeft(r) && 'pivot' in r.left && r.left.pivot).toBe(1)
  })

  it('reports a NaN or an infinity in the lower triangle as InvalidInput naming the entry (both paths)', async () => {
    for (const p of [8, 150]) {
      const a = randomSpd(p, 5)
      a.data[(p - 2) * p + 3] = Number.NaN
      const r = cholesky(a)
      expect(E.isLeft(r) && r.left._tag === 'InvalidInput' && r.left.message).toContain(`a[${p - 2}][3] is NaN`)
      const t = await choleskyTask(a, { inPlace: true })
      expect(E.isLeft(t) && t.left._tag).toBe('InvalidInput')
    }
  })

  it('choleskyTask reports progress and stops on an aborted signal', async () => {
    const a = randomSpd(520, 6)
    const events: number[] = []
    const ok = await choleskyTask(a, { stage: stage({ progress: (e) => events.push(e.done) }, 'cholesky', 520) })
    expect(E.isRight(ok)).toBe(true)
    expect(events.at(-1)).toBe(520)
    const controller = new AbortController()
    controller.abort()
    const r = await choleskyTask(a, { stage: stage({ signal: controller.signal }, 'cholesky', 520) })
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
  })
})

describe('triangular solves', () => {
  it('solveCholesky matches scipy.linalg.cho_solve (6 × 6) to 1e-13', () => {
    const l = right(cholesky(sq(fixture.M6 as number[][])))
    const x = right(solveCholesky(l, [1, 2, 3, 4, 5, 6]))
    ;(fixture.choSolve6 as number[]).forEach((v, i) => expect(Math.abs(x[i]! - v)).toBeLessThanOrEqual(1e-13))
  })

  it('solve residuals ‖L z − b‖ and ‖Lᵀ x − b‖ are at rounding level (p = 260)', () => {
    const p = 260
    const a = randomSpd(p, 7)
    const l = right(cholesky(a))
    const rng = createRng(8)
    const b = Float64Array.from({ length: p }, () => rng.normal())
    const z = right(solveLower(l, b))
    const x = right(solveLowerTransposed(l, b))
    const full = right(solveCholesky(l, b))
    let r1 = 0
    let r2 = 0
    let r3 = 0
    for (let i = 0; i < p; i++) {
      let s1 = 0
      let s2 = 0
      let s3 = 0
      for (let k = 0; k < p; k++) {
        s1 += (k <= i ? l.data[i * p + k]! : 0) * z[k]!
        s2 += (k >= i ? l.data[k * p + i]! : 0) * x[k]!
        s3 += a.data[i * p + k]! * full[k]!
      }
      r1 = Math.max(r1, Math.abs(s1 - b[i]!))
      r2 = Math.max(r2, Math.abs(s2 - b[i]!))
      r3 = Math.max(r3, Math.abs(s3 - b[i]!))
    }
    // cond(A) ≈ 10 here; residuals relative to ‖b‖∞ ≈ 3.
    expect(r1).toBeLessThan(1e-12)
    expect(r2).toBeLessThan(1e-12)
    expect(r3).toBeLessThan(1e-11)
  })
})

describe('lu', () => {
  it('matches scipy.linalg.lu_factor and lu_solve on a 4 × 4 (1e-15)', () => {
    const f = right(luFactor(sq(fixture.B4 as number[][])))
    expect(Array.from(f.perm)).toEqual(fixture.perm4)
    flat(fixture.lu4 as number[][]).forEach((v, i) => expect(Math.abs(f.lu.data[i]! - v)).toBeLessThanOrEqual(1e-15 * 8))
    const x = right(luSolve(f, [1, 2, 3, 4]))
    ;(fixture.luSolve4 as number[]).forEach((v, i) => expect(Math.abs(x[i]! - v)).toBeLessThanOrEqual(1e-15 * 8))
  })

  it('P A = L U and the residual of solve on a random 120 × 120, against ml-matrix', () => {
    const n = 120
    const rng = createRng(11)
    const a = { rows: n, cols: n, data: Float64Array.from({ length: n * n }, () => rng.normal()) }
    const { lu, perm, sign } = right(luFactor(a))
    let err = 0
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0
        for (let k = 0; k <= Math.min(i, j); k++) s += (k === i ? 1 : lu.data[i * n + k]!) * (k <= j ? lu.data[k * n + j]! : 0)
        err = Math.max(err, Math.abs(s - a.data[perm[i]! * n + j]!))
      }
    }
    // Growth of partial pivoting on a Gaussian matrix is small: n·ε·‖A‖ scale.
    expect(err).toBeLessThan(1e-12)
    const ref = new LuDecomposition(new MlMatrix(Array.from({ length: n }, (_, i) => Array.from(a.data.subarray(i * n, (i + 1) * n)))))
    const det = sign * [...Array(n).keys()].reduce((d, i) => d * lu.data[i * n + i]!, 1)
    // The determinant of a 120 × 120 Gaussian matrix is ~1e98: compare relatively (1e-10 of it).
    expect(Math.abs(det - ref.determinant) / Math.abs(ref.determinant)).toBeLessThan(1e-10)
    const b = Float64Array.from({ length: n }, () => rng.normal())
    const x = right(solve(a, b))
    let r = 0
    for (let i = 0; i < n; i++) {
      let s = 0
      for (let k = 0; k < n; k++) s += a.data[i * n + k]! * x[k]!
      r = Math.max(r, Math.abs(s - b[i]!))
    }
    expect(r).toBeLessThan(1e-10)
  })

  it('a singular matrix is Singular, naming the column', () => {
    const r = luFactor({ rows: 3, cols: 3, data: Float64Array.of(1, 2, 3, 2, 4, 6, 1, 0, 1) })
    expect(E.isLeft(r) && r.left._tag === 'Infeasible' && 'pivot' in r.left && r.left.pivot).toBe(2)
  })
})

describe('gram', () => {
  it('matches numpy X.T @ (X * w) (40 × 13) to 1e-13', () => {
    const w = fixture.W40x13 as number[][]
    const g = right(gram({ rows: 40, cols: 13, data: flat(w) }, { weights: fixture.w40 as number[] }))
    flat(fixture.gram13 as number[][]).forEach((v, i) => expect(Math.abs(g.data[i]! - v)).toBeLessThanOrEqual(1e-13))
  })

  it.each([
    [3, 5],
    [300, 9],
    [513, 37],
  ])('equals the brute-force Σ wₜ xₜxₜᵀ for n = %i, d = %i, with all-zero columns and rows (1e-12)', (n, d) => {
    const rng = createRng(n + d)
    const x = Float64Array.from({ length: n * d }, (_, q) => (q % d === 2 || Math.floor(q / d) % 5 === 1 || rng.next() < 0.3 ? 0 : rng.normal()))
    const w = Float64Array.from({ length: n }, () => rng.next())
    const g = right(gram({ rows: n, cols: d, data: x }, { weights: w }))
    const plain = right(gram({ rows: n, cols: d, data: x }))
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0
        let s1 = 0
        for (let t = 0; t < n; t++) {
          s += w[t]! * x[t * d + i]! * x[t * d + j]!
          s1 += x[t * d + i]! * x[t * d + j]!
        }
        expect(Math.abs(g.data[i * d + j]! - s)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(s)))
        expect(Math.abs(plain.data[i * d + j]! - s1)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(s1)))
      }
    }
  })

  it('gramBlocks gives each weight vector its gram(), with and without the helper thread', async () => {
    const n = 700
    const d = 30
    const rng = createRng(2)
    const x = { rows: n, cols: d, data: Float64Array.from({ length: n * d }, () => rng.normal()) }
    const ws = [0, 1, 2].map(() => Float64Array.from({ length: n }, () => rng.next()))
    for (const parallel of [true, false]) {
      const seen: Float64Array[] = []
      right(await gramBlocks(x, ws, (k, g) => (seen[k] = g.data.slice()), { parallel }))
      ws.forEach((w, k) => expect(seen[k]).toEqual(right(gram(x, { weights: w })).data))
    }
  })
})
