/**
 * The three live demos in a real browser: Debian's Chromium (scripts/ensure-chromium.sh installs it) driven by
 * playwright-core against the built site (`npm run docs:build`, or `npx vitepress build site`) served as a static
 * host would serve it. Each demo page must load with no console error and no failed request, and produce its
 * result within 30 s:
 * - counterfactual: the exact closest "8" to a held-out "3" with a KKT residual ≤ 1e-8 read from the page, the
 *   model's label at it the target, and again after a stroke drawn with the mouse and a new target;
 * - extraction: fidelity 1 (argmax agreement on 1,000 fresh points) within the gradient budget the page states,
 *   the page's live counters equal to the library's count, and Stop aborting a run;
 * - copying: the copy's agreement with the box higher after the last round than after the first, and exactly the
 *   budget spent in label queries.
 * Screenshots go to apps/docs/test-artifacts/<demo>.png; the times measured in the browser to
 * test-artifacts/demo-timings.json (reported, never asserted).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import { distDir, serveSite } from './serve.js'

const chromiumPath = process.env.SONDE_CHROMIUM ?? '/usr/bin/chromium'
// The built site; SONDE_DOCS_DIST points the test at another build of the same site.
const root = resolve(process.env.SONDE_DOCS_DIST ?? distDir)
const artifacts = resolve(import.meta.dirname, '../test-artifacts')
const RESULT_MS = 30_000

let browser: Browser
let site: Awaited<ReturnType<typeof serveSite>>
const timings: Record<string, Record<string, number>> = {}

beforeAll(async () => {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: run scripts/ensure-chromium.sh`)
  if (!existsSync(join(root, 'demos/counterfactual.html'))) throw new Error(`no built site at ${root}: run npm run docs:build first`)
  mkdirSync(artifacts, { recursive: true })
  site = await serveSite(root)
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] })
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  writeFileSync(join(artifacts, 'demo-timings.json'), `${JSON.stringify(timings, null, 2)}\n`)
  console.log('demo timings in the browser (ms):', JSON.stringify(timings))
})

/** A fresh page that records console errors, uncaught errors, failed requests and HTTP errors. */
const open = async (path: string): Promise<{ page: Page; problems: string[]; loadMs: number }> => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`))
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`)
  })
  const t0 = Date.now()
  const response = await page.goto(`${site.url}${path}`, { waitUntil: 'load' })
  expect(response?.status()).toBe(200)
  return { page, problems, loadMs: Date.now() - t0 }
}

/** Wait until a demo has finished (or failed), and say how, with its error text if any. */
const settled = async (page: Page, demo: string, errorId: string): Promise<{ status: string | null; error: string | null }> => {
  await expect.poll(() => page.getByTestId(demo).getAttribute('data-status'), { timeout: RESULT_MS }).not.toMatch(/^(loading|running)$/)
  const error = page.getByTestId(errorId)
  return { status: await page.getByTestId(demo).getAttribute('data-status'), error: (await error.count()) > 0 ? await error.textContent() : null }
}

const numberAt = async (page: Page, testId: string, attribute = 'data-value'): Promise<number> => Number(await page.getByTestId(testId).getAttribute(attribute))

describe('live demos in Chromium', () => {
  it('counterfactual: the exact closest "8" to a "3", certified by its KKT residual, and again after drawing', async () => {
    const { page, problems, loadMs } = await open('/demos/counterfactual.html')
    const t0 = Date.now()
    const demo = page.getByTestId('counterfactual-demo')
    expect(await settled(page, 'counterfactual-demo', 'cf-error')).toEqual({ status: 'done', error: null })
    const firstMs = Date.now() - t0
    // The default: a held-out "3" (the model calls it 3) asked to become an "8".
    expect(await page.getByTestId('cf-before').textContent()).toBe('3')
    expect(await numberAt(page, 'cf-label')).toBe(8)
    const kkt = await numberAt(page, 'kkt-residual')
    expect(kkt).toBeGreaterThanOrEqual(0)
    expect(kkt).toBeLessThanOrEqual(1e-8)
    expect(await numberAt(page, 'distance')).toBeGreaterThan(0)
    const solveMs = await numberAt(page, 'solve-ms')

    // Another target, then a stroke drawn with the mouse across the digit: each re-solves, each certified.
    const solves = Number(await demo.getAttribute('data-solves'))
    await page.getByTestId('cf-target-2').click()
    await expect.poll(async () => Number(await demo.getAttribute('data-solves')), { timeout: RESULT_MS }).toBeGreaterThan(solves)
    expect(await numberAt(page, 'cf-label')).toBe(2)
    expect(await numberAt(page, 'kkt-residual')).toBeLessThanOrEqual(1e-8)
    await page.getByTestId('cf-input').scrollIntoViewIfNeeded()
    const box = (await page.getByTestId('cf-input').boundingBox())!
    const drawn = Number(await demo.getAttribute('data-solves'))
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.2)
    await page.mouse.down()
    for (let s = 1; s <= 12; s++) await page.mouse.move(box.x + box.width * (0.3 + 0.03 * s), box.y + box.height * (0.2 + 0.05 * s))
    await page.mouse.up()
    await expect.poll(async () => Number(await demo.getAttribute('data-solves')), { timeout: RESULT_MS }).toBeGreaterThan(drawn)
    await expect.poll(() => demo.getAttribute('data-status'), { timeout: RESULT_MS }).toBe('done')
    expect(await numberAt(page, 'cf-label')).toBe(2)
    expect(await numberAt(page, 'kkt-residual')).toBeLessThanOrEqual(1e-8)
    const afterDrawingMs = await numberAt(page, 'solve-ms')

    await page.getByTestId('cf-target-8').click()
    await page.getByTestId('cf-digit-6').click() // back to the held-out "3" for the screenshot
    await expect.poll(async () => Number(await page.getByTestId('cf-label').getAttribute('data-value')), { timeout: RESULT_MS }).toBe(8)
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.screenshot({ path: join(artifacts, 'counterfactual.png'), fullPage: true })
    timings.counterfactual = { pageLoad: loadMs, firstResult: firstMs, solve: solveMs, solveAfterDrawing: afterDrawingMs }
    expect(problems).toEqual([])
    await page.close()
  })

  it('extraction: the hidden ReLU network is extracted to fidelity 1 within the stated gradient budget, and Stop aborts', async () => {
    const { page, problems, loadMs } = await open('/demos/extraction.html')
    const demo = page.getByTestId('extraction-demo')
    await expect.poll(() => demo.getAttribute('data-status'), { timeout: RESULT_MS }).toBe('ready')
    const t0 = Date.now()
    await page.getByTestId('ex-start').click()
    expect(await settled(page, 'extraction-demo', 'ex-error')).toEqual({ status: 'done', error: null })
    const resultMs = Date.now() - t0
    expect(await numberAt(page, 'fidelity')).toBe(1)
    expect(await numberAt(page, 'max-logit-error')).toBeLessThan(1e-6)
    const budget = await numberAt(page, 'budget-rows')
    const gradientRows = await numberAt(page, 'gradient-rows')
    const valueRows = await numberAt(page, 'value-rows')
    expect(gradientRows).toBeGreaterThan(0)
    expect(gradientRows + valueRows).toBeLessThanOrEqual(budget)
    // The page's live counters (counted as the queries passed) equal the library's own count.
    expect(await numberAt(page, 'library-queries', 'data-gradient-rows')).toBe(gradientRows)
    expect(await numberAt(page, 'library-queries', 'data-value-rows')).toBe(valueRows)
    expect(await numberAt(page, 'units')).toBe(32)
    const extractMs = await numberAt(page, 'extract-ms')
    await page.screenshot({ path: join(artifacts, 'extraction.png'), fullPage: true })

    // Stop: with 100 ms per API call, a run stopped at once ends Aborted after a few queries.
    await page.getByTestId('ex-latency').selectOption('100')
    await page.getByTestId('ex-start').click()
    await expect.poll(async () => Number(await page.getByTestId('gradient-rows').getAttribute('data-value')), { timeout: RESULT_MS }).toBeGreaterThan(0)
    await page.getByTestId('ex-stop').click()
    await expect.poll(() => demo.getAttribute('data-status'), { timeout: RESULT_MS }).toBe('stopped')
    expect(await page.getByTestId('ex-error').textContent()).toContain('Aborted')
    expect(await numberAt(page, 'gradient-rows')).toBeLessThan(gradientRows)
    timings.extraction = { pageLoad: loadMs, clickToFidelity: resultMs, extraction: extractMs, gradientRows, valueRows, budgetRows: budget }
    expect(problems).toEqual([])
    await page.close()
  })

  it('copying: the agreement of the copy with the label-only box grows over the rounds, for exactly the budget', async () => {
    const { page, problems, loadMs } = await open('/demos/copying.html')
    const demo = page.getByTestId('copying-demo')
    await expect.poll(() => demo.getAttribute('data-status'), { timeout: RESULT_MS }).toBe('ready')
    const t0 = Date.now()
    await page.getByTestId('cp-start').click()
    expect(await settled(page, 'copying-demo', 'cp-error')).toEqual({ status: 'done', error: null })
    const resultMs = Date.now() - t0
    const agreements = JSON.parse((await demo.getAttribute('data-agreements'))!) as number[]
    expect(agreements).toHaveLength(10)
    for (const a of agreements) {
      expect(a).toBeGreaterThanOrEqual(0)
      expect(a).toBeLessThanOrEqual(1)
    }
    expect(agreements[agreements.length - 1]!).toBeGreaterThan(agreements[0]!)
    expect(await numberAt(page, 'cp-queries')).toBe(800)
    expect(await numberAt(page, 'labels-bought')).toBe(800)
    // The curve has one point per round.
    expect(await page.getByTestId('cp-curve').locator('circle').count()).toBe(10)
    const copyMs = await numberAt(page, 'copy-ms')
    await page.screenshot({ path: join(artifacts, 'copying.png'), fullPage: true })
    timings.copying = { pageLoad: loadMs, clickToLastRound: resultMs, copy: copyMs, firstAgreement: agreements[0]!, lastAgreement: agreements[agreements.length - 1]! }
    expect(problems).toEqual([])
    await page.close()
  })
})
