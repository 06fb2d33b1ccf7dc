import type { ReportFigure } from '@sonde/oracle'

/** Escape text for HTML and SVG. */
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

const W = 560
const H = 300
const M = { top: 28, right: 16, bottom: 44, left: 60 }
const palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04']

/** A short label for a tick value. */
export const tickLabel = (v: number): string => {
  if (v === 0) return '0'
  const a = Math.abs(v)
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1)
  return Number(v.toPrecision(4)).toLocaleString('en-US', { maximumFractionDigits: 4 })
}

/** About `count` round tick values covering [lo, hi]. */
export const ticks = (lo: number, hi: number, count = 5): number[] => {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

const extent = (vs: readonly number[]): [number, number] => {
  const f = vs.filter(Number.isFinite)
  if (f.length === 0) return [0, 1]
  let lo = Math.min(...f)
  let hi = Math.max(...f)
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.1 || 1
    hi += Math.abs(hi) * 0.1 || 1
  }
  return [lo, hi]
}

const frame = (title: string, body: string, legend = ''): string =>
  `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">` +
  `<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>` +
  `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">${esc(title)}</text>${body}${legend}</svg>`

const axes = (xs: [number, number], ys: [number, number], xLabel: string, yLabel: string, sx: (v: number) => number, sy: (v: number) => number, xTicks = true): string => {
  const x0 = M.left
  const y0 = H - M.bottom
  let s = `<g class="axes" font-size="11" fill="#374151" stroke="none">`
  s += `<line x1="${x0}" y1="${y0}" x2="${W - M.right}" y2="${y0}" stroke="#9ca3af"/><line x1="${x0}" y1="${M.top}" x2="${x0}" y2="${y0}" stroke="#9ca3af"/>`
  for (const t of ticks(ys[0], ys[1])) {
    const y = sy(t)
    s += `<line x1="${x0}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#e5e7eb"/><text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${esc(tickLabel(t))}</text>`
  }
  if (xTicks) for (const t of ticks(xs[0], xs[1])) s += `<text x="${sx(t)}" y="${y0 + 16}" text-anchor="middle">${esc(tickLabel(t))}</text>`
  s += `<text x="${(x0 + W - M.right) / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`
  s += `<text transform="translate(14 ${(M.top + y0) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text></g>`
  return s
}

const scale = (d: [number, number], r: [number, number]) => (v: number): number => Number((r[0] + ((v - d[0]) / (d[1] - d[0])) * (r[1] - r[0])).toFixed(2))

/** The equal-width bins of a histogram: about √n of them, 5 to 30. */
export const bins = (values: readonly number[]): { lo: number; hi: number; count: number }[] => {
  const f = values.filter(Number.isFinite)
  if (f.length === 0) return []
  const [lo, hi] = extent(f)
  const k = Math.min(30, Math.max(5, Math.round(Math.sqrt(f.length))))
  const w = (hi - lo) / k
  const out = Array.from({ length: k }, (_, i) => ({ lo: lo + i * w, hi: lo + (i + 1) * w, count: 0 }))
  for (const v of f) out[Math.min(k - 1, Math.floor((v - lo) / w))]!.count++
  return out
}

/**
 * A report figure (line, scatter, bar or histogram) as one inline SVG element, drawn from its data alone:
 * axes with round ticks, a legend for several series. Images are not drawn here (see the HTML report).
 *
 * @example
 * import { chartSvg } from '@sonde/cli'
 *
 * const svg = chartSvg({ kind: 'histogram', title: 'margins', xLabel: 'logit margin', values: [0.1, 0.4, 0.35, 0.8, 1.2] }) // '<svg …>…</svg>'
 */
export const chartSvg = (f: Exclude<ReportFigure, { kind: 'image' } | { kind: 'png' }>): string => {
  const xr: [number, number] = [M.left, W - M.right]
  const yr: [number, number] = [H - M.bottom, M.top]
  if (f.kind === 'line' || f.kind === 'scatter') {
    const pts = f.series.flatMap((s) => s.points)
    const xs = extent(pts.map((p) => p[0]))
    const ys = extent(pts.map((p) => p[1]))
    const sx = scale(xs, xr)
    const sy = scale(ys, yr)
    let body = axes(xs, ys, f.xLabel, f.yLabel, sx, sy)
    f.series.forEach((s, i) => {
      const c = palette[i % palette.length]!
      const ok = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]))
      if (f.kind === 'line' && ok.length > 1) body += `<polyline class="series" fill="none" stroke="${c}" stroke-width="2" points="${ok.map((p) => `${sx(p[0])},${sy(p[1])}`).join(' ')}"/>`
      body += `<g class="series" fill="${c}">${ok.map((p) => `<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="${f.kind === 'line' ? 3 : 2.5}"><title>${esc(`${s.name}: (${tickLabel(p[0])}, ${tickLabel(p[1])})`)}</title></circle>`).join('')}</g>`
    })
    const legend =
      f.series.length > 1
        ? `<g font-size="11">${f.series.map((s, i) => `<rect x="${M.left + 10 + i * 110}" y="${M.top + 2}" width="10" height="10" fill="${palette[i % palette.length]}"/><text x="${M.left + 24 + i * 110}" y="${M.top + 11}">${esc(s.name.slice(0, 16))}</text>`).join('')}</g>`
        : ''
    return frame(f.title, body, legend)
  }
  if (f.kind === 'bar') {
    const vals = f.bars.map((b) => b.value)
    const ys = extent([0, ...vals])
    const sy = scale(ys, yr)
    const n = Math.max(1, f.bars.length)
    const bw = (xr[1] - xr[0]) / n
    let body = axes([0, n], ys, '', f.yLabel, scale([0, n], xr), sy, false)
    body += `<g class="bars">`
    f.bars.forEach((b, i) => {
      const v = Number.isFinite(b.value) ? b.value : 0
      const y = Math.min(sy(v), sy(0))
      const h = Math.max(1, Math.abs(sy(0) - sy(v)))
      const x = xr[0] + i * bw
      body += `<rect x="${(x + bw * 0.1).toFixed(2)}" y="${y}" width="${(bw * 0.8).toFixed(2)}" height="${h.toFixed(2)}" fill="${palette[0]}"><title>${esc(`${b.label}: ${tickLabel(b.value)}`)}</title></rect>`
      if (n <= 24) body += `<text x="${(x + bw / 2).toFixed(2)}" y="${H - M.bottom + 14}" text-anchor="middle" font-size="10">${esc(b.label.slice(0, 10))}</text>`
    })
    return frame(f.title, `${body}</g>`)
  }
  if (f.kind !== 'histogram') return frame(f.title, '')
  const bs = bins(f.values)
  const xs: [number, number] = bs.length > 0 ? [bs[0]!.lo, bs[bs.length - 1]!.hi] : [0, 1]
  const ys: [number, number] = [0, Math.max(1, ...bs.map((b) => b.count))]
  const sx = scale(xs, xr)
  const sy = scale(ys, yr)
  let body = axes(xs, ys, f.xLabel, 'count', sx, sy)
  body += `<g class="bars">${bs.map((b) => `<rect x="${sx(b.lo)}" y="${sy(b.count)}" width="${Math.max(1, sx(b.hi) - sx(b.lo) - 1).toFixed(2)}" height="${Math.max(b.count > 0 ? 1 : 0, sy(0) - sy(b.count)).toFixed(2)}" fill="${palette[0]}"><title>${esc(`[${tickLabel(b.lo)}, ${tickLabel(b.hi)}): ${b.count}`)}</title></rect>`).join('')}</g>`
  return frame(f.title, body)
}
