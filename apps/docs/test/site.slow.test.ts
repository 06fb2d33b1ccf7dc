import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { distDir, serveSite } from './serve.js'

// Every page of the built site in a real browser: Debian's chromium, installed by the project's own script.
// Measured: ~460 pages in 335 s alone with four tabs at once (2 cores, software rendering), 8 min beside the rest of
// the slow tier; the timeout is 20 min.
const htmlPages = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    if (statSync(p).isDirectory()) return n === 'assets' ? [] : htmlPages(p)
    return n.endsWith('.html') && n !== '404.html' ? [p] : []
  })

let browser: Browser
let site: Awaited<ReturnType<typeof serveSite>>

beforeAll(async () => {
  execFileSync('bash', [join(import.meta.dirname, '../../../scripts/ensure-chromium.sh')], { stdio: 'inherit' })
  expect(existsSync(join(distDir, 'index.html')), 'the built site: run `npm run docs:build` first').toBe(true)
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] })
  site = await serveSite()
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
})

describe('the built docs site', () => {
  it('has the pages a newcomer needs', () => {
    const pages = new Set(htmlPages(distDir).map((f) => relative(distDir, f)))
    for (const p of ['index.html', 'start/index.html', 'start/cli.html', 'concepts/oracle.html', 'concepts/errors.html', 'families/copying.html', 'families/inverse-classification.html', 'families/gradient-extraction.html', 'families/influence.html', 'families/debugging.html', 'recipes/index.html', 'plugins.html', 'reference/cli.html', 'api/index.html', 'demos/counterfactual.html', 'demos/extraction.html', 'demos/copying.html'])
      expect(pages.has(p), p).toBe(true)
  })

  it('every page loads with no console error and no failed request', { timeout: 1_200_000 }, async () => {
    const pages = htmlPages(distDir).map((f) => `/${relative(distDir, f)}`)
    // The demos are the demo test's: they run the library, which takes time; here only whether they load.
    const problems: string[] = []
    const context = await browser.newContext()
    const queue = [...pages]
    const worker = async (): Promise<void> => {
      const page = await context.newPage()
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`${page.url()}: console error: ${m.text()}`)
      })
      page.on('pageerror', (e) => problems.push(`${page.url()}: uncaught: ${e.message}`))
      // net::ERR_ABORTED is a request the next navigation cancelled (VitePress prefetches the pages a page links to);
      // a request that did not find its file is a response ≥ 400, caught below.
      page.on('requestfailed', (r) => {
        const why = r.failure()?.errorText ?? '?'
        if (why !== 'net::ERR_ABORTED') problems.push(`${page.url()}: request failed: ${r.url()} (${why})`)
      })
      page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`${page.url()}: HTTP ${r.status()} for ${r.url()}`)
      })
      for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
        await page.goto(`${site.url}${path}`, { waitUntil: 'load' })
        const title = await page.title()
        if (!/Sonde/.test(title)) problems.push(`${path}: title ${JSON.stringify(title)}`)
      }
      await page.close()
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    await context.close()
    expect(pages.length).toBeGreaterThan(50)
    expect(problems).toEqual([])
  })

  it('renders the recipes from their files, with their output and images', async () => {
    const page = await browser.newPage()
    await page.goto(`${site.url}/recipes/closest-eight.html`, { waitUntil: 'load' })
    const code = await page.locator('div[class*="language-ts"] pre').first().innerText()
    // The code shown is the file CI runs, not a copy.
    const source = readFileSync(join(import.meta.dirname, '../../../docs/recipes/closest-eight.ts'), 'utf8')
    expect(code.trim()).toBe(source.trim())
    expect(await page.locator('img[src*="three-to-eight.png"]').count()).toBe(1)
    const ok = await page.evaluate(async () => {
      const img = document.querySelector<HTMLImageElement>('img[src*="three-to-eight.png"]')!
      await img.decode()
      return img.naturalWidth > 0
    })
    expect(ok).toBe(true)
    expect(await page.locator('text=recipe ok').count()).toBeGreaterThan(0)
    await page.close()
  })

  it('the CLI reference lists every built-in probe with its options', async () => {
    const page = await browser.newPage()
    await page.goto(`${site.url}/reference/cli.html`, { waitUntil: 'load' })
    const text = await page.locator('main').innerText()
    for (const id of ['sonde/copying', 'sonde/audit', 'sonde/black-box-counterfactual']) expect(text).toContain(id)
    expect(text).toContain('--budget')
    await page.close()
  })
})
