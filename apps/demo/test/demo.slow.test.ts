import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import type { RunDocument } from '@sonde/cli'

// `npm run demo` end to end, as a user runs it (after turbo's build, which ^build gives this task): the demo
// serves the MNIST MLP, runs the built `sonde audit` against it, and its report opens in Debian's chromium.
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const artifacts = join(root, 'test-artifacts')

const runDemo = (): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> =>
  new Promise((done) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), 'src/main.ts'], { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => done({ code, stdout, stderr, ms: performance.now() - t0 }))
  })

describe('npm run demo', () => {
  // Measured alone with the model cached: about 50 s (plus about 30 s to train it on a fresh clone).
  it('serves the model, audits it with sonde within the budget, and writes a report that renders', async () => {
    const r = await runDemo()
    expect(r.stderr).not.toContain('unexpected')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Serving 'mnist-mlp' at http:\/\/127\.0\.0\.1:\d+ \(Open Inference v2\)/)
    expect(r.stdout).toMatch(/test accuracy: 9\d\.\d\d %/)
    const file = /Read the report: (.+report\.html)$/m.exec(r.stdout)?.[1]
    expect(file !== undefined && existsSync(file)).toBe(true)
    const doc = JSON.parse(readFileSync(join(dirname(file!), 'report.json'), 'utf8')) as RunDocument
    expect(doc).toMatchObject({ command: 'audit', status: 'complete', exitCode: 0, budget: 2000, model: { kind: 'endpoint', info: { inputDim: 784, numClasses: 10, output: 'probabilities' } } })
    expect(doc.report.sections?.map((s) => s.probe)).toEqual(['sonde/audit#copy', 'sonde/audit#counterfactuals', 'sonde/debugging/defuse'])
    // sonde printed the headline; the server's own count is the rows report.json says the model answered.
    expect(r.stdout).toContain(doc.report.headline)
    const counted = /The server's own count: (\d+) rows/.exec(r.stdout)?.[1]
    expect(Number(counted)).toBe(doc.answers.fromModel)
    expect(doc.answers.fromModel).toBeLessThanOrEqual(2000)

    execFileSync('bash', [join(root, '../../scripts/ensure-chromium.sh')], { stdio: 'inherit' })
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] })
    try {
      const page = await browser.newPage()
      const url = pathToFileURL(file!).href
      const requests: string[] = []
      const problems: string[] = []
      page.on('request', (q) => {
        if (q.url() !== url && !q.url().startsWith('data:')) requests.push(q.url())
      })
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text())
      })
      page.on('pageerror', (e) => problems.push(e.message))
      await page.goto(url, { waitUntil: 'load' })
      expect(requests).toEqual([])
      expect(problems).toEqual([])
      expect((await page.textContent('#headline'))?.trim()).toBe(doc.report.headline)
      const drawn = await page.locator('svg.chart, img').evaluateAll((es) => es.map((e) => e.getBoundingClientRect().width * e.getBoundingClientRect().height))
      expect(drawn.length).toBeGreaterThan(0)
      expect(drawn.every((a) => a > 0)).toBe(true)
      mkdirSync(artifacts, { recursive: true })
      await page.screenshot({ path: join(artifacts, 'report-demo.png'), fullPage: true })
    } finally {
      await browser.close()
    }
  })
})
