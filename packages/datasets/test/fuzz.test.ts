/**
 * Fuzz of `@sonde/datasets` from a JavaScript caller: every export given junk. These are pure, synchronous
 * helpers, so (as documented, DESIGN.md "Errors are values") a bad argument is a thrown `RangeError` or
 * `SondeError` naming it — never a `TypeError`, a hang, or a silently wrong dataset (NaN values, labels out of
 * range, shapes that do not add up).
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { SondeError } from '@sonde/oracle'
import { classCounts, downsampleImages, encodeGrayPng, gaussianBlobs, imageGrid, linearlySeparable, plantThinSlice, stratifiedSplit, subset, twoMoons, type Dataset } from '../src/index.js'

let cases = 0
afterAll(() => console.log(`datasets fuzz: ${cases} cases`))

const junk = fc.oneof(
  fc.constant(null), fc.constant(undefined), fc.constant(Number.NaN), fc.constant(Infinity), fc.constant(-1), fc.constant(0), fc.constant(1.5),
  fc.constant(2 ** 40), fc.string({ maxLength: 3 }), fc.integer({ min: -5, max: 40 }), fc.double({ min: -3, max: 3 }), fc.boolean(), fc.constant([]), fc.constant({}),
)

const validDataset = (ds: Dataset): void => {
  expect(ds.x.data.length).toBe(ds.x.rows * ds.x.cols)
  expect(ds.y.length).toBe(ds.x.rows)
  expect(ds.x.data.every(Number.isFinite)).toBe(true)
  expect(Number.isInteger(ds.numClasses) && ds.numClasses >= 1).toBe(true)
  expect(ds.y.every((l) => l >= 0 && l < ds.numClasses)).toBe(true)
}

/** A thrown error must be a typed one (RangeError or SondeError) with a message. */
const outcome = <A>(f: () => A, check: (a: A) => void): void => {
  cases++
  let value: A
  try {
    value = f()
  } catch (e) {
    expect(e instanceof RangeError || e instanceof SondeError, `threw ${String(e)}`).toBe(true)
    expect((e as Error).message.length).toBeGreaterThan(0)
    return
  }
  check(value)
}

const small: Dataset = { x: { rows: 4, cols: 4, data: Float64Array.from({ length: 16 }, (_, k) => (k % 5) / 4) }, y: Int32Array.of(0, 1, 0, 1), numClasses: 2 }

describe('datasets fuzz', () => {
  it('generators given junk options', () => {
    fc.assert(
      fc.property(junk, junk, junk, junk, junk, (n, dim, classes, spread, seed) => {
        const few = (v: unknown) => (typeof v === 'number' && v > 200 ? 200 : v) as number
        outcome(() => gaussianBlobs({ n: few(n), dim: few(dim), classes: few(classes), spread: spread as number, seed: seed as number }), validDataset)
        outcome(() => twoMoons({ n: few(n), noise: spread as number, seed: seed as number }), validDataset)
        outcome(() => linearlySeparable({ n: few(n), dim: few(dim), margin: spread as number, seed: seed as number }), (ds) => {
          validDataset(ds)
          expect(ds.normal.every(Number.isFinite)).toBe(true)
        })
      }),
      { seed: 42, numRuns: 400 },
    )
  })

  it('splits, subsets, counts and slices given junk', () => {
    fc.assert(
      fc.property(junk, junk, junk, fc.array(fc.oneof(fc.integer({ min: -2, max: 6 }), junk), { maxLength: 6 }), (a, b, seed, idx) => {
        outcome(() => stratifiedSplit(small.y, { testFraction: a as number, seed: seed as number, ...(b !== undefined ? { limit: b as number } : {}) }), (s) => {
          const all = [...s.train, ...s.test]
          expect(new Set(all).size).toBe(all.length)
          expect(all.every((i) => i >= 0 && i < small.y.length)).toBe(true)
        })
        outcome(() => subset(small, idx as number[]), validDataset)
        outcome(() => classCounts(Int32Array.from(idx.filter((v): v is number => typeof v === 'number' && Number.isInteger(v))), a as number), (c) => {
          expect(c.every((v) => v >= 0)).toBe(true)
          expect(c.reduce((s, v) => s + v, 0)).toBe(idx.filter((v) => typeof v === 'number' && Number.isInteger(v)).length)
        })
        outcome(() => plantThinSlice(small, { from: a as number, to: b as number, fraction: seed as number }), (r) => {
          expect(r.y.length).toBe(small.y.length)
          expect(r.y.every((l) => l >= 0 && l < small.numClasses)).toBe(true)
        })
      }),
      { seed: 7, numRuns: 400 },
    )
  })

  it('images given junk sizes', () => {
    fc.assert(
      fc.property(junk, junk, junk, (w, h, f) => {
        outcome(() => encodeGrayPng(small.x.data.subarray(0, 4), w as number, h as number), (png) => expect(png.length).toBeGreaterThan(8))
        outcome(() => imageGrid(small.x, { width: w as number, height: h as number, columns: f as number }), (g) => {
          expect(g.pixels.length).toBe(g.width * g.height)
          expect(g.pixels.every(Number.isFinite)).toBe(true)
        })
        outcome(() => downsampleImages(small, { width: w as number, height: h as number, factor: f as number }), validDataset)
      }),
      { seed: 9, numRuns: 400 },
    )
  })
})
