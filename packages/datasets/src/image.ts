import { deflateSync } from 'node:zlib'
import type { Matrix } from '@sonde/oracle'
import type { Dataset } from './dataset.js'

const crcTable = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

const crc32 = (bytes: Uint8Array): number => {
  let c = 0xffffffff
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const chunk = (type: string, data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(12 + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.length)
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i)
  out.set(data, 8)
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)))
  return out
}

/**
 * Encode a grey-level (1 channel) or RGB (3 channels) image as an 8-bit PNG file: values in [0, 1],
 * row-major with the channels of a pixel together, 0 = black. Values outside [0, 1] are clipped and
 * non-finite ones drawn black. Node only (uses zlib).
 *
 * @example
 * // fragment: writes swatch.png
 * import { writeFileSync } from 'node:fs'
 * import { encodePng } from '@sonde/datasets'
 *
 * writeFileSync('swatch.png', encodePng(Float64Array.of(1, 0, 0, 0, 0, 1), 2, 1, 3)) // a red and a blue pixel
 */
export const encodePng = (pixels: ArrayLike<number>, width: number, height: number, channels: 1 | 3 = 1): Uint8Array => {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) throw new RangeError(`encodePng: the size is ${String(width)}×${String(height)}; expected positive integers`)
  if (channels !== 1 && channels !== 3) throw new RangeError(`encodePng: ${String(channels)} channels; expected 1 (grey) or 3 (RGB)`)
  const stride = width * channels
  if (pixels === null || typeof pixels !== 'object' || pixels.length !== stride * height) throw new RangeError(`encodePng: ${String(pixels?.length)} values for a ${width}×${height} image of ${channels} channel(s)`)
  const raw = new Uint8Array(height * (stride + 1))
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0 // filter: none
    for (let i = 0; i < stride; i++) {
      const v = pixels[y * stride + i]!
      raw[y * (stride + 1) + 1 + i] = Number.isFinite(v) ? Math.round(255 * (v < 0 ? 0 : v > 1 ? 1 : v)) : 0
    }
  }
  const header = new Uint8Array(13)
  const hv = new DataView(header.buffer)
  hv.setUint32(0, width)
  hv.setUint32(4, height)
  header.set([8, channels === 1 ? 0 : 2, 0, 0, 0], 8) // 8-bit, grey or RGB, deflate, no filter, no interlace
  const parts = [
    Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10),
    chunk('IHDR', header),
    chunk('IDAT', new Uint8Array(deflateSync(raw))),
    chunk('IEND', new Uint8Array(0)),
  ]
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/**
 * Encode a grey-level image (values in [0, 1], row-major, 0 = black) as an 8-bit PNG file:
 * {@link encodePng} with one channel.
 *
 * @example
 * // fragment: writes digit.png
 * import { writeFileSync } from 'node:fs'
 * import { encodeGrayPng, loadMnist } from '@sonde/datasets'
 *
 * const mnist = loadMnist()
 * writeFileSync('digit.png', encodeGrayPng(mnist.x.data.subarray(0, 784), 28, 28))
 */
export const encodeGrayPng = (pixels: ArrayLike<number>, width: number, height: number): Uint8Array => encodePng(pixels, width, height, 1)

/**
 * Tile the rows of `images` (each `width × height` grey levels) into one grid image, `columns`
 * wide with a 1-pixel mid-grey gap; returns the pixels and the grid's size, ready for
 * {@link encodeGrayPng}.
 *
 * @example
 * // fragment: writes grid.png
 * import { writeFileSync } from 'node:fs'
 * import type { Matrix } from '@sonde/oracle'
 * import { encodeGrayPng, imageGrid } from '@sonde/datasets'
 *
 * declare const samples: Matrix // one 28×28 image per row
 * const grid = imageGrid(samples, { width: 28, height: 28, columns: 8 })
 * writeFileSync('grid.png', encodeGrayPng(grid.pixels, grid.width, grid.height))
 */
export const imageGrid = (
  images: Matrix,
  o: { readonly width: number; readonly height: number; readonly columns: number },
): { readonly pixels: Float64Array; readonly width: number; readonly height: number } => {
  if (images.cols !== o.width * o.height) throw new RangeError(`imageGrid: rows have ${images.cols} values; ${o.width}×${o.height} needs ${o.width * o.height}`)
  const cols = Math.max(1, Math.min(o.columns, images.rows))
  const rows = Math.ceil(images.rows / cols)
  const width = cols * (o.width + 1) - 1
  const height = rows * (o.height + 1) - 1
  const pixels = new Float64Array(width * height).fill(0.5)
  for (let n = 0; n < images.rows; n++) {
    const gx = (n % cols) * (o.width + 1)
    const gy = Math.floor(n / cols) * (o.height + 1)
    for (let y = 0; y < o.height; y++) {
      for (let x = 0; x < o.width; x++) pixels[(gy + y) * width + gx + x] = images.data[n * images.cols + y * o.width + x]!
    }
  }
  return { pixels, width, height }
}

/**
 * Shrink every image of a dataset by averaging `factor × factor` blocks of pixels (grey levels,
 * row-major `width × height` rows; the size must divide by `factor`): 28×28 MNIST digits become
 * 14×14 with factor 2, a quarter of the features.
 *
 * @example
 * // fragment: slow to run (loadMnist reads 10,000 digits, ~2 s)
 * import { downsampleImages, loadMnist } from '@sonde/datasets'
 *
 * const small = downsampleImages(loadMnist(), { width: 28, height: 28, factor: 2 }) // 196 features
 */
export const downsampleImages = (ds: Dataset, o: { readonly width: number; readonly height: number; readonly factor: number }): Dataset => {
  const { width, height, factor: f } = o
  if (!(Number.isInteger(f) && f >= 1 && width % f === 0 && height % f === 0)) {
    throw new RangeError(`downsampleImages: factor ${f} must be a positive integer dividing ${width}×${height}`)
  }
  if (ds.x.cols !== width * height) throw new RangeError(`downsampleImages: rows have ${ds.x.cols} values; ${width}×${height} needs ${width * height}`)
  const w2 = width / f
  const h2 = height / f
  const n = ds.x.rows
  const out = new Float64Array(n * w2 * h2)
  const inv = 1 / (f * f)
  for (let i = 0; i < n; i++) {
    const src = i * width * height
    const dst = i * w2 * h2
    for (let r = 0; r < h2; r++) {
      for (let c = 0; c < w2; c++) {
        let s = 0
        for (let a = 0; a < f; a++) for (let b = 0; b < f; b++) s += ds.x.data[src + (r * f + a) * width + c * f + b]!
        out[dst + r * w2 + c] = s * inv
      }
    }
  }
  return { ...ds, x: { rows: n, cols: w2 * h2, data: out }, inputShape: [h2, w2, 1] }
}
