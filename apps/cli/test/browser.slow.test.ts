import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProbeReport, ReportFigure } from '@sonde/oracle'
import { renderHtml } from '../src/html.js'
import type { RunDocument } from '../src/document.js'
import { cliRoot, oracleModule, readJson, sonde, tempDir } from './helpers.js'

// report.html in a real browser: Debian's chromium, installed by the project's own script (no skip: if it cannot
// be installed, this file fails).
const artifacts = join(cliRoot, 'test-artifacts')
let browser: Browser

beforeAll(async () => {
  execFileSync('bash', [join(cliRoot, '../../scripts/ensure-chromium.sh')], { stdio: 'inherit' })
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] })
  mkdirSync(artifacts, { recursive: true })
}, 600_000)
afterAll(async () => browser?.close())

const walk = (r: ProbeReport): ProbeReport[] => [r, ...(r.sections ?? []).flatMap(walk)]
const isImage = (f: ReportFigure): boolean => f.kind === 'image' || f.kind === 'png'

/** Open a report in chromium and check it against its RunDocument. */
const check = async (file: string, doc: RunDocument, shot: string): Promise<{ charts: number; images: number; metrics: number }> => {
  const page = await browser.newPage()
  const url = pathToFileURL(file).href
  const requests: string[] = []
  const problems: string[] = []
  page.on('request', (r) => {
    if (r.url() !== url && !r.url().startsWith('data:')) requests.push(r.url())
  })
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text())
  })
  page.on('pageerror', (e) => problems.push(e.message))
  await page.goto(url, { waitUntil: 'load' })
  expect(requests).toEqual([])
  expect(problems).toEqual([])
  expect((await page.textContent('#headline'))?.trim()).toBe(doc.report.headline)
  const reports = doc.report.sections !== undefined && doc.report.sections.length > 0 ? [{ ...doc.report, sections: [] }, ...doc.report.sections.flatMap(walk)] : walk(doc.report)
  const figures = reports.flatMap((r) => r.figures)

  // Every chart drawn, with a size.
  const charts = page.locator('svg.chart')
  expect(await charts.count()).toBe(figures.filter((f) => !isImage(f)).length)
  for (const c of await charts.all()) {
    const box = await c.boundingBox()
    expect(box !== null && box.width > 0 && box.height > 0).toBe(true)
    expect(await c.locator('circle, rect, polyline').count()).toBeGreaterThan(1)
  }
  // Every image decoded, with a size.
  const images = page.locator('img')
  expect(await images.count()).toBe(figures.filter(isImage).length)
  for (const img of await images.all()) {
    const ok = await img.evaluate((e: HTMLImageElement) => e.complete && e.naturalWidth > 0 && e.naturalHeight > 0)
    expect(ok).toBe(true)
    const box = await img.boundingBox()
    expect(box !== null && box.width > 0 && box.height > 0).toBe(true)
  }
  // The numbers shown are the numbers in the JSON: every metric, in order, shown to 6 significant digits.
  const shown = await page.locator('[data-metric]').evaluateAll((es) => es.map((e) => ({ name: e.getAttribute('data-metric'), value: JSON.parse(e.getAttribute('data-value') ?? 'null') as unknown, text: e.textContent ?? '' })))
  const metrics = reports.flatMap((r) => r.metrics)
  expect(shown.map((m) => [m.name, m.value])).toEqual(metrics.map((m) => [m.name, m.value]))
  for (const m of shown) {
    if (typeof m.value !== 'number') continue
    const text = Number(m.text.split(' ')[0]!.replace(/,/g, ''))
    // Shown rounded to 6 significant digits: a relative difference below 5e-6.
    expect(Math.abs(text - m.value)).toBeLessThanOrEqual(5e-6 * Math.max(1, Math.abs(m.value)) + 1e-12)
  }
  await page.screenshot({ path: join(artifacts, shot), fullPage: true })
  await page.close()
  return { charts: figures.filter((f) => !isImage(f)).length, images: figures.filter(isImage).length, metrics: metrics.length }
}

describe('report.html in chromium', () => {
  it('an audit report: no request, no console error, the headline first, every chart drawn, numbers as in report.json', async () => {
    const dir = tempDir()
    const r = await sonde(['audit', '--module', oracleModule, '--budget', '1500', '--seed', '2', '--out', 'out', '-q'], { cwd: dir })
    expect(r.code).toBe(0)
    const doc = readJson<RunDocument>(join(dir, 'out/report.json'))
    const n = await check(join(dir, 'out/report.html'), doc, 'report-audit.png')
    expect(n.charts).toBeGreaterThan(0)
    expect(n.metrics).toBeGreaterThan(4)
  })

  it('every kind of figure: line, scatter, bar, histogram charts and grey, RGB and PNG images', async () => {
    const digit = Array.from({ length: 28 * 28 }, (_, i) => ((i % 28) - 14) ** 2 + (Math.floor(i / 28) - 14) ** 2 < 60 ? 1 : 0)
    const rgb = Array.from({ length: 8 * 8 * 3 }, (_, i) => (i % 3) / 2)
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='
    const report: ProbeReport = {
      probe: 'test/figures',
      headline: 'Every figure kind renders.',
      findings: ['one', 'two'],
      seed: 1,
      queries: { predictRows: 10, gradientRows: 0, calls: 1, cacheHits: 0 },
      metrics: [{ name: 'agreement', value: 0.987654321, unit: 'fraction' }, { name: 'rows', value: 12345 }, { name: 'none', value: null }, { name: 'word', value: 'yes' }],
      tables: [{ title: 't', columns: ['a', 'b'], rows: [[1, 'x'], [2.5, null]] }],
      figures: [
        { kind: 'line', title: 'fidelity against queries', xLabel: 'labels', yLabel: 'agreement', series: [{ name: 'held-out', points: [[100, 0.9], [200, 0.95], [300, 0.97]] }, { name: 'train', points: [[100, 1], [200, 0.99], [300, 0.99]] }] },
        { kind: 'scatter', title: 'scatter', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[0, 1], [1, 3], [2, 2]] }] },
        { kind: 'bar', title: 'region weights', yLabel: 'weight', bars: [{ label: 'r0', value: 0.5 }, { label: 'r1', value: 0.3 }, { label: 'r2', value: -0.2 }] },
        { kind: 'histogram', title: 'distances', xLabel: 'L2', values: Array.from({ length: 50 }, (_, i) => Math.sqrt(i)) },
        { kind: 'image', title: 'a digit', width: 28, height: 28, channels: 1, pixels: digit },
        { kind: 'image', title: 'rgb', width: 8, height: 8, channels: 3, pixels: rgb },
        { kind: 'png', title: 'a png', base64: png },
      ],
    }
    const doc: RunDocument = {
      sondeReport: 1,
      command: 'run',
      probe: 'test/figures',
      status: 'complete',
      exitCode: 0,
      options: {},
      seed: 1,
      budget: null,
      model: { kind: 'module', source: 'x.mjs', info: { id: 'test', inputDim: 784, numClasses: 10, output: 'probabilities' } },
      queries: report.queries,
      answers: { fromModel: 10, fromJournal: 0, journal: 'queries.journal' },
      timings: { startedAt: new Date(0).toISOString(), finishedAt: new Date(1000).toISOString(), durationMs: 1000, stages: [] },
      report,
      versions: { node: process.versions.node },
    }
    const file = join(tempDir(), 'report.html')
    writeFileSync(file, renderHtml(doc))
    const n = await check(file, doc, 'report-figures.png')
    expect(n).toEqual({ charts: 4, images: 3, metrics: 4 })
  })
})
