import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { countRows, oracleModule, readJson, sonde, start, startModelServer, tempDir } from './helpers.js'
import type { RunDocument } from '../src/document.js'

const copyArgs = ['--set', 'copy=softmax', '--set', 'sampler=uniformBox']
const waitFor = async (ok: () => boolean, ms: number): Promise<void> => {
  const t0 = Date.now()
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('interrupting a run', () => {
  it('Ctrl-C (SIGINT) stops within a second with a partial report and exit 130', async () => {
    const dir = tempDir()
    const count = join(dir, 'count')
    const run = start(['run', 'sonde/copying', '--module', oracleModule, ...copyArgs, '--set', 'rounds=100', '--budget', '10000', '--out', 'out'], { cwd: dir, env: { SONDE_TEST_COUNT: count, SONDE_TEST_DELAY_MS: '100' } })
    await waitFor(() => countRows(count).rows >= 300, 20_000)
    const t0 = performance.now()
    run.child.kill('SIGINT')
    const r = await run.done
    const stopMs = performance.now() - t0
    expect(r.code).toBe(130)
    expect(stopMs).toBeLessThan(1000)
    const doc = readJson<RunDocument>(join(dir, 'out/report.json'))
    expect(doc.status).toBe('interrupted')
    expect(doc.exitCode).toBe(130)
    expect(doc.answers.fromModel).toBe(countRows(count).rows)
    expect(existsSync(join(dir, 'out/report.html'))).toBe(true)
    console.log(`SIGINT → exit 130 in ${stopMs.toFixed(0)} ms after ${doc.answers.fromModel} rows`)
  })

  it('kill -9 mid-run, then the same command again: it resumes, asks no answered row twice, and reports what an uninterrupted run reports', async () => {
    const args = (url: string) => ['run', 'sonde/copying', '--endpoint', url, '--model', 'm', '--domain', '-3:3', '--max-batch-rows', '1000', ...copyArgs, '--set', 'rounds=6', '--budget', '600', '--seed', '5', '--out', 'out']
    // The uninterrupted reference, against its own server.
    const refServer = await startModelServer({ latencyMs: 20 })
    const refDir = tempDir()
    const ref = await sonde(args(refServer.url), { cwd: refDir })
    expect(ref.code).toBe(0)
    expect(refServer.rows()).toBe(600)
    await refServer.close()

    const server = await startModelServer({ latencyMs: 20 })
    try {
      const dir = tempDir()
      const first = start(args(server.url), { cwd: dir })
      // Each round is one request of 100 rows; when the 4th arrives, three have been answered (and journaled,
      // since the journal writes an answer before the probe sees it): kill the CLI with that request in flight.
      server.onInfer = (n) => {
        if (n !== 4) return undefined
        first.child.kill('SIGKILL')
        return 'drop'
      }
      const killed = await first.done
      expect(killed.signal).toBe('SIGKILL')
      expect(server.rows()).toBe(300)
      server.onInfer = undefined

      const second = await sonde(args(server.url), { cwd: dir })
      expect(second.code).toBe(0)
      expect(second.stderr).toContain('resuming: 300 answered rows')
      // Rows at the model over both processes: each answered exactly once, as many as the uninterrupted run.
      expect(server.rows()).toBe(600)
      expect(server.repeated()).toBe(0)
      const doc = readJson<RunDocument>(join(dir, 'out/report.json'))
      const refDoc = readJson<RunDocument>(join(refDir, 'out/report.json'))
      expect(doc.answers).toMatchObject({ fromJournal: 300, fromModel: 300 })
      expect(doc.status).toBe('complete')
      expect(doc.queries).toEqual(refDoc.queries)
      expect(doc.options).toEqual(refDoc.options)
      expect(doc.report).toEqual(refDoc.report)
    } finally {
      await server.close()
    }
  })
})
