import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { type ProgressEvent } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression, refitWith } from '../src/index.js'
import { blobs } from './data.js'

describe('fitTask: the abortable fit', () => {
  it('gives the same bits as fit, with progress between Newton steps', async () => {
    const { x, y } = blobs(400, 6, 4, 3)
    const sync = SoftmaxRegression.fit(x, y, { numClasses: 4, l2: 1e-3 })
    const events: ProgressEvent[] = []
    const task = await SoftmaxRegression.fitTask(x, y, { numClasses: 4, l2: 1e-3, progress: (e) => events.push(e) })()
    expect(E.isRight(sync) && E.isRight(task)).toBe(true)
    if (E.isLeft(sync) || E.isLeft(task)) return
    expect(Array.from(task.right.model.weights.data)).toEqual(Array.from(sync.right.model.weights.data))
    expect(task.right.report).toEqual(sync.right.report)
    expect(events[0]!.stage).toBe('newton-cg')
    expect(events.length).toBeGreaterThanOrEqual(1) // throttled to one event per 100 ms: a fast fit reports once
    const lg = { x, y: y.map((v) => (v > 1 ? 1 : 0)) }
    const a = LogisticRegression.fit(lg.x, lg.y, { l2: 1e-2 })
    const b = await LogisticRegression.fitTask(lg.x, lg.y, { l2: 1e-2 })()
    expect(E.isRight(a) && E.isRight(b) && Array.from(b.right.model.weights)).toEqual(E.isRight(a) ? Array.from(a.right.model.weights) : [])
  })

  it('stops with Aborted when the signal fires, and refuses a bad tolerance before any work', async () => {
    const { x, y } = blobs(400, 6, 4, 3)
    const controller = new AbortController()
    const r = await SoftmaxRegression.fitTask(x, y, { numClasses: 4, signal: controller.signal, progress: () => controller.abort() })()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    const bad = await SoftmaxRegression.fitTask(x, y, { numClasses: 4, tolerance: -1 })()
    expect(E.isLeft(bad) && bad.left._tag).toBe('InvalidInput')
    // The deprecated name still works.
    const old = SoftmaxRegression.fit(x, y, { numClasses: 4, tol: 1e-6 })
    expect(E.isRight(old) && old.right.report.gradientNorm).toBeLessThanOrEqual(1e-6)
  })
  it('refitWith refits abortably where the model can, with the same bits as refit', async () => {
    const { x, y } = blobs(300, 5, 3, 4)
    const base = SoftmaxRegression.fit(x, y, { numClasses: 3 })
    if (E.isLeft(base)) return expect.fail(base.left.message)
    const keep = { rows: 299, cols: 5, data: x.data.slice(5) }
    const sync = base.right.model.refit(keep, y.slice(1))
    const task = await refitWith(base.right.model, keep, y.slice(1))()
    expect(E.isRight(sync) && E.isRight(task)).toBe(true)
    if (E.isLeft(sync) || E.isLeft(task)) return
    expect(Array.from((task.right.model as SoftmaxRegression).weights.data)).toEqual(Array.from((sync.right.model as SoftmaxRegression).weights.data))
    const controller = new AbortController()
    controller.abort()
    const stopped = await refitWith(base.right.model, keep, y.slice(1), { signal: controller.signal })()
    expect(E.isLeft(stopped) && stopped.left._tag).toBe('Aborted')
  })
})
