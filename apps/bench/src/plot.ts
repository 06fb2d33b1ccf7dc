import { encodeGrayPng } from '@sonde/datasets'

// A 3×5 bitmap font for the characters axis labels need.
const glyphs: Record<string, string[]> = {
  '0': ['111', '101', '101', '101', '111'],
  '1': ['010', '110', '010', '010', '111'],
  '2': ['111', '001', '111', '100', '111'],
  '3': ['111', '001', '111', '001', '111'],
  '4': ['101', '101', '111', '001', '001'],
  '5': ['111', '100', '111', '001', '111'],
  '6': ['111', '100', '111', '101', '111'],
  '7': ['111', '001', '001', '001', '001'],
  '8': ['111', '101', '111', '101', '111'],
  '9': ['111', '101', '111', '001', '111'],
  '.': ['000', '000', '000', '000', '010'],
}

/** One series of a line plot: points (x, y) and a dash pattern (pixels on, pixels off; [] = solid). */
export interface Series {
  readonly points: ReadonlyArray<readonly [number, number]>
  readonly dash: readonly number[]
  readonly grey: number
}

/**
 * A small line plot as a greyscale PNG: log-scaled x axis, linear y axis in [yMin, yMax], tick
 * labels in a bitmap font. Series are told apart by dash pattern and grey level (see the caption).
 */
export const linePlot = (series: readonly Series[], o: { readonly xMin: number; readonly xMax: number; readonly yMin: number; readonly yMax: number; readonly xTicks: readonly number[]; readonly yTicks: readonly number[] }): Uint8Array => {
  const width = 480
  const height = 300
  const left = 40
  const bottom = 30
  const top = 10
  const right = 10
  const px = new Float64Array(width * height).fill(1)
  const set = (x: number, y: number, v: number) => {
    const xi = Math.round(x)
    const yi = Math.round(y)
    if (xi >= 0 && xi < width && yi >= 0 && yi < height) px[yi * width + xi] = v
  }
  const sx = (x: number) => left + ((Math.log10(x) - Math.log10(o.xMin)) / (Math.log10(o.xMax) - Math.log10(o.xMin))) * (width - left - right)
  const sy = (y: number) => height - bottom - ((y - o.yMin) / (o.yMax - o.yMin)) * (height - bottom - top)
  const text = (s: string, x: number, y: number) => {
    let cx = x
    for (const ch of s) {
      const g = glyphs[ch]
      if (g !== undefined) g.forEach((rowBits, r) => [...rowBits].forEach((b, c) => b === '1' && [0, 1].forEach((dx) => [0, 1].forEach((dy) => set(cx + 2 * c + dx, y + 2 * r + dy, 0)))))
      cx += 8
    }
  }
  for (let x = left; x < width - right; x++) set(x, height - bottom, 0)
  for (let y = top; y <= height - bottom; y++) set(left, y, 0)
  for (const t of o.xTicks) {
    for (let y = top; y < height - bottom; y += 4) set(sx(t), y, 0.85)
    text(String(t), sx(t) - 4 * String(t).length, height - bottom + 8)
  }
  for (const t of o.yTicks) {
    for (let x = left; x < width - right; x += 4) set(x, sy(t), 0.85)
    text(t.toFixed(1), 4, sy(t) - 5)
  }
  for (const s of series) {
    let run = 0
    for (let i = 1; i < s.points.length; i++) {
      const [x0, y0] = s.points[i - 1]!
      const [x1, y1] = s.points[i]!
      const steps = Math.ceil(Math.hypot(sx(x1) - sx(x0), sy(y1) - sy(y0)))
      for (let k = 0; k <= steps; k++, run++) {
        const period = s.dash.reduce((a, b) => a + b, 0)
        if (period > 0 && run % period >= s.dash[0]!) continue
        const x = sx(x0) + ((sx(x1) - sx(x0)) * k) / steps
        const y = sy(y0) + ((sy(y1) - sy(y0)) * k) / steps
        for (const dy of [-1, 0, 1]) set(x, y + dy, s.grey)
      }
    }
    for (const [x, y] of s.points) for (let dx = -3; dx <= 3; dx++) for (let dy = -3; dy <= 3; dy++) set(sx(x) + dx, sy(y) + dy, s.grey)
  }
  return encodeGrayPng(px, width, height)
}
