import { either as E } from 'fp-ts'
import { Matrix as MlMatrix, EigenvalueDecomposition, solve } from 'ml-matrix'
import { describe, expect, it } from 'vitest'
import { createRng } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { gaussianBlobs, loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { prepareInverseHvp, topEigenvalue } from '../src/index.js'
import { relativeError } from '../src/linalg.js'
import { pool2, run, unwrap } from './helpers.js'

const small = () => {
  const ds = gaussianBlobs({ n: 200, dim: 6, classes: 3, spread: 1.5, seed: 5 })
  const model = unwrap(SoftmaxRegression.fit(ds.x, ds.y, { numClasses: 3, l2: 0.05 })).model
  return { model, train: { x: ds.x, y: ds.y } }
}

describe('inverse Hessian-vector products', () => {
  const { model, train } = small()
  const p = model.numParams
  const h = model.hessian(train.x, train.y)
  const dense = new MlMatrix(Array.from({ length: p }, (_, r) => Array.from(h.data.subarray(r * p, (r + 1) * p))))
  const v = Float64Array.from({ length: p }, (_, i) => Math.sin(i + 1))

  for (const damping of [0, 0.3]) {
    it(`exact and cg equal an independent dense solve (ml-matrix LU), damping ${damping}`, async () => {
      const damped = dense.clone().add(MlMatrix.eye(p, p).mul(damping))
      const reference = Float64Array.from(solve(damped, MlMatrix.columnVector(Array.from(v))).getColumn(0))
      for (const method of ['exact', 'cg'] as const) {
        const inv = await run(prepareInverseHvp(model, train, { method, damping }))
        const { x, report } = await run(inv.solve(v))
        expect(relativeError(x, reference)).toBeLessThanOrEqual(1e-9)
        expect(report.relativeResidual).toBeLessThanOrEqual(1e-10)
        if (method === 'cg') expect(report.residualHistory.length).toBe(report.iterations)
      }
    })
  }

  it('power iteration finds the top eigenvalue (ml-matrix EVD) to 1 %', () => {
    const eig = new EigenvalueDecomposition(dense).realEigenvalues
    const top = unwrap(topEigenvalue(model.hessianOperator(train.x, train.y), p, createRng(1), 60))
    expect(Math.abs(top - Math.max(...eig)) / Math.max(...eig)).toBeLessThanOrEqual(0.01)
  })

  it('refuses bad options with the option named', async () => {
    for (const [options, path] of [
      [{ method: 'svd' }, 'options.method'],
      [{ damping: -1 }, 'options.damping'],
      [{ method: 'lissa', depth: 0 }, 'options.depth'],
      [{ method: 'lissa', batchSize: 10_000 }, 'options.batchSize'],
      [{ tolerance: 2 }, 'options.tolerance'],
      [{ tol: 1e-6 }, 'options.tol'],
      [{ method: 'lissa', scale: Number.NaN }, 'options.scale'],
    ] as const) {
      const r = await prepareInverseHvp(model, train, options as never)()
      expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.message.includes(path)).toBe(true)
    }
  })

  it('exact reports a Hessian that is not positive definite instead of dividing by it', async () => {
    // A model far from its optimum on data it was not fit to, with no L2: singular directions.
    const raw = SoftmaxRegression.fromParams(new Float64Array(p), 3)
    const flat = { x: { rows: 3, cols: 6, data: new Float64Array(18).fill(1) }, y: Int32Array.of(0, 1, 2) }
    const r = await prepareInverseHvp(raw, flat, { method: 'exact' })()
    expect(E.isLeft(r) && r.left._tag === 'Infeasible').toBe(true)
  })

  it('cg reports NotConverged when the iteration cap is too low', async () => {
    const r = await (await run(prepareInverseHvp(model, train, { method: 'cg', maxIter: 2 }))).solve(v)()
    expect(E.isLeft(r) && r.left._tag === 'NotConverged').toBe(true)
  })
})

describe('LiSSA', () => {
  // 14×14 digits: p = 1,970, where the exact solve is cheap enough to compare against.
  const mnist = pool2(loadMnist())
  const { train: idx } = stratifiedSplit(mnist.y, { testFraction: 0.5, seed: 4, limit: 2000 })
  const ds = subset(mnist, idx)
  const train = { x: ds.x, y: ds.y }
  const model = unwrap(SoftmaxRegression.fit(train.x, train.y, { l2: 0.01 })).model
  const v = model.perExampleGradients({ rows: 1, cols: 196, data: train.x.data.slice(0, 196) }, train.y.slice(0, 1)).data
  const exact = (async () => (await run((await run(prepareInverseHvp(model, train, { method: 'exact' }))).solve(v))).x)()

  it('with its automatic scale reaches relative s_test error ≤ 0.1 against exact; seeded', { timeout: 120_000 }, async () => {
    const inv = await run(prepareInverseHvp(model, train, { method: 'lissa', depth: 4000, repeats: 2, batchSize: 64, seed: 3 }))
    const { x, report } = await run(inv.solve(v))
    const err = relativeError(x, await exact)
    console.log(`LiSSA: scale ${inv.scale!.toFixed(2)}, ${report.iterations} steps, residual ${report.relativeResidual.toExponential(2)}, s_test error ${err.toFixed(4)}`)
    expect(err).toBeLessThanOrEqual(0.1)
    expect(report.residualHistory.length).toBeGreaterThanOrEqual(10)
    // The residual history falls.
    expect(report.residualHistory.at(-1)!.residual).toBeLessThan(report.residualHistory[0]!.residual)
    const again = await run((await run(prepareInverseHvp(model, train, { method: 'lissa', depth: 4000, repeats: 2, batchSize: 64, seed: 3 }))).solve(v))
    expect(Array.from(again.x)).toEqual(Array.from(x))
  })

  it('reports NotConverged, with a depth hint, when the depth is too small', async () => {
    const inv = await run(prepareInverseHvp(model, train, { method: 'lissa', depth: 50, seed: 1 }))
    const r = await inv.solve(v)()
    expect(E.isLeft(r) && r.left._tag === 'NotConverged' && r.left.message.includes('depth')).toBe(true)
  })

  it('stops on divergence when the scale is below the top eigenvalue', async () => {
    const inv = await run(prepareInverseHvp(model, train, { method: 'lissa', scale: 0.05, depth: 2000, seed: 1 }))
    const r = await inv.solve(v)()
    expect(E.isLeft(r) && r.left._tag === 'NotConverged' && r.left.message.includes('diverged')).toBe(true)
  })
})

// Inputs that once broke us (a fuzz run against the built packages).
describe('fixtures: inverse-HVP solvers', () => {
  it('a NaN or short right-hand side is refused by every method (cg once returned zeros with residual 0)', async () => {
    const ds = gaussianBlobs({ n: 60, dim: 3, classes: 2, seed: 1 })
    const model = unwrap(SoftmaxRegression.fit(ds.x, ds.y, { numClasses: 2, l2: 0.1 })).model
    const v = new Float64Array(model.numParams).fill(Number.NaN)
    for (const method of ['exact', 'cg', 'lissa'] as const) {
      const inv = await run(prepareInverseHvp(model, ds, { method, seed: 1 }))
      const r = await inv.solve(v)()
      expect(E.isLeft(r) && r.left._tag === 'InvalidInput' && r.left.message.includes('v[0]')).toBe(true)
      const short = await inv.solve(new Float64Array(2))()
      expect(E.isLeft(short) && short.left._tag).toBe('ShapeMismatch')
    }
  })
})
