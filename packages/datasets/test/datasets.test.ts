import { describe, expect, it } from 'vitest'
import { classCounts, gaussianBlobs, linearlySeparable, loadIris, loadMnist, stratifiedSplit, subset, twoMoons, downsampleImages, plantThinSlice } from '../src/index.js'

describe('MNIST', () => {
  const mnist = loadMnist()
  it('has the 10,000 real digits of the mnist package, 784 values in [0, 1] each', () => {
    expect(mnist.x.rows).toBe(10_000)
    expect(mnist.x.cols).toBe(784)
    expect(mnist.y.length).toBe(10_000)
    let lo = Infinity
    let hi = -Infinity
    for (const v of mnist.x.data) {
      lo = Math.min(lo, v)
      hi = Math.max(hi, v)
    }
    expect(lo).toBe(0)
    expect(hi).toBe(1)
    const counts = classCounts(mnist.y, 10)
    // Every digit is present in roughly MNIST's proportions (each 8–12 % of the set).
    for (const c of counts) expect(c / 10_000).toBeGreaterThan(0.08)
    for (const c of counts) expect(c / 10_000).toBeLessThan(0.12)
  })

  it('looks like digits: mean ink of 1s is well below that of 0s and 8s', () => {
    const meanInk = (digit: number) => {
      let s = 0
      let n = 0
      for (let i = 0; i < mnist.x.rows; i++) {
        if (mnist.y[i] !== digit) continue
        n++
        for (let j = 0; j < 784; j++) s += mnist.x.data[i * 784 + j]!
      }
      return s / n
    }
    expect(meanInk(1)).toBeLessThan(0.6 * meanInk(0))
    expect(meanInk(1)).toBeLessThan(0.6 * meanInk(8))
  })

  it('is loaded once per process', () => {
    expect(loadMnist()).toBe(mnist)
  })
})

describe('stratifiedSplit', () => {
  const mnist = loadMnist()
  it('keeps class proportions on both sides, is disjoint and complete, and is seeded', () => {
    const s = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 7 })
    expect(s.train.length + s.test.length).toBe(10_000)
    expect(new Set([...s.train, ...s.test]).size).toBe(10_000)
    const all = classCounts(mnist.y, 10)
    const test = classCounts(subset(mnist, s.test).y, 10)
    all.forEach((c, k) => expect(Math.abs(test[k]! - 0.2 * c)).toBeLessThanOrEqual(0.5))
    const again = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 7 })
    expect(Array.from(again.test)).toEqual(Array.from(s.test))
    const other = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 8 })
    expect(Array.from(other.test)).not.toEqual(Array.from(s.test))
  })

  it('can limit the total, still stratified', () => {
    const s = stratifiedSplit(mnist.y, { testFraction: 0.5, seed: 1, limit: 1000 })
    expect(Math.abs(s.train.length + s.test.length - 1000)).toBeLessThanOrEqual(10)
    expect(() => stratifiedSplit(mnist.y, { testFraction: 1, seed: 1 })).toThrow(/testFraction/)
  })
})

describe('iris', () => {
  it('has 150 flowers, 50 per species, and Fisher’s first row', () => {
    const iris = loadIris()
    expect(iris.x.rows).toBe(150)
    expect(Array.from(classCounts(iris.y, 3))).toEqual([50, 50, 50])
    expect(Array.from(iris.x.data.subarray(0, 4))).toEqual([5.1, 3.5, 1.4, 0.2])
    expect(iris.classNames).toEqual(['setosa', 'versicolor', 'virginica'])
  })
})

describe('synthetic sets', () => {
  it('blobs are seeded and balanced', () => {
    const a = gaussianBlobs({ n: 90, dim: 3, classes: 3, seed: 1 })
    const b = gaussianBlobs({ n: 90, dim: 3, classes: 3, seed: 1 })
    expect(Array.from(a.x.data)).toEqual(Array.from(b.x.data))
    expect(Array.from(classCounts(a.y, 3))).toEqual([30, 30, 30])
  })

  it('linearly separable points respect the margin on the right side of the plane', () => {
    const ds = linearlySeparable({ n: 500, dim: 4, margin: 0.2, seed: 3 })
    for (let i = 0; i < 500; i++) {
      let s = 0
      for (let j = 0; j < 4; j++) s += ds.x.data[i * 4 + j]! * ds.normal[j]!
      expect(Math.abs(s)).toBeGreaterThanOrEqual(0.2)
      expect(s > 0 ? 1 : 0).toBe(ds.y[i])
    }
  })

  it('moons lie near their arcs', () => {
    const ds = twoMoons({ n: 400, noise: 0, seed: 2 })
    for (let i = 0; i < 400; i++) {
      const [x, y] = [ds.x.data[2 * i]!, ds.x.data[2 * i + 1]!]
      const r = ds.y[i] === 0 ? Math.hypot(x, y) : Math.hypot(x - 1, y - 0.5)
      expect(r).toBeCloseTo(1, 12)
    }
  })
})

describe('PNG output', () => {
  it('writes a valid 8-bit greyscale PNG whose IDAT inflates back to the pixels', async () => {
    const { inflateSync } = await import('node:zlib')
    const { encodeGrayPng, imageGrid } = await import('../src/index.js')
    const pixels = Float64Array.from({ length: 6 }, (_, i) => i / 5)
    const png = encodeGrayPng(pixels, 3, 2)
    expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10])
    const view = new DataView(png.buffer, png.byteOffset)
    expect(view.getUint32(16)).toBe(3)
    expect(view.getUint32(20)).toBe(2)
    const idatLength = view.getUint32(33)
    const raw = inflateSync(png.subarray(41, 41 + idatLength))
    expect(Array.from(raw)).toEqual([0, 0, 51, 102, 0, 153, 204, 255])
    const grid = imageGrid({ rows: 3, cols: 4, data: new Float64Array(12).fill(1) }, { width: 2, height: 2, columns: 2 })
    expect([grid.width, grid.height]).toEqual([5, 5])
    expect(grid.pixels[2]).toBe(0.5)
  })
})

describe('downsampleImages', () => {
  it('averages factor × factor blocks (checked by hand on a 4×4 image) and refuses sizes it cannot divide', () => {
    const data = Float64Array.from({ length: 16 }, (_, i) => i)
    const ds = { x: { rows: 1, cols: 16, data }, y: Int32Array.of(0), numClasses: 1 }
    const small = downsampleImages(ds, { width: 4, height: 4, factor: 2 })
    // Blocks: (0,1,4,5) (2,3,6,7) (8,9,12,13) (10,11,14,15)
    expect(Array.from(small.x.data)).toEqual([2.5, 4.5, 10.5, 12.5])
    expect(small.inputShape).toEqual([2, 2, 1])
    expect(() => downsampleImages(ds, { width: 4, height: 4, factor: 3 })).toThrow(/factor/)
  })
})

describe('plantThinSlice', () => {
  it('relabels exactly the thinnest fraction of a class and leaves the rest', () => {
    const x = { rows: 6, cols: 2, data: Float64Array.of(1, 1, 0, 1, 3, 3, 0, 0.5, 5, 5, 0, 0) }
    const y = Int32Array.of(6, 6, 6, 6, 2, 2)
    const r = plantThinSlice({ x, y }, { from: 6, to: 1, fraction: 0.5 })
    // Ink: row0 2, row1 1, row2 6, row3 0.5 → the thinnest two of four 6s are rows 3 and 1.
    expect(Array.from(r.changed)).toEqual([1, 3])
    expect(Array.from(r.y)).toEqual([6, 1, 6, 1, 2, 2])
    expect(Array.from(y)).toEqual([6, 6, 6, 6, 2, 2])
    expect(() => plantThinSlice({ x, y }, { from: 6, to: 1, fraction: 0 })).toThrow(/fraction/)
  })
})
