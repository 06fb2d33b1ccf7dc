import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startModelServer, type ModelServer } from './http-server.js'

// The child runs asynchronously: the model server lives in this process and must keep answering.
const child = resolve(import.meta.dirname, 'fixtures/http-child.ts')
const run = (env: Record<string, string>): Promise<{ code: number | null; signal: string | null; out: string }> =>
  new Promise((done) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('exit', (code, signal) => done({ code, signal, out }))
  })

describe('fromHttp behind a journal, across a kill -9', () => {
  let clean: ModelServer
  let faulty: ModelServer
  beforeAll(async () => {
    ;[clean, faulty] = await Promise.all([startModelServer(), startModelServer({ faults: { every503: 4, dropEvery: 9 } })])
  })
  afterAll(async () => {
    await Promise.all([clean.close(), faulty.close()])
  })

  it('killed mid-probe and rerun: the same result as an uninterrupted run, every row answered by the server exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-http-kill-'))
    const uninterrupted = await run({ SERVER_URL: clean.url, JOURNAL: join(dir, 'clean.journal') })
    expect(uninterrupted.code).toBe(0)
    const distinct = clean.stats.answered.size
    expect(distinct).toBe(8 + 29 * 4) // step 0: 8 new rows; then 4 new a step, the other 4 repeat the step before
    const killed = await run({ SERVER_URL: faulty.url, JOURNAL: join(dir, 'q.journal'), KILL_AFTER: '13' })
    expect(killed.signal).toBe('SIGKILL')
    const before = faulty.rowsAnswered()
    expect(before).toBeGreaterThan(0)
    expect(before).toBeLessThan(distinct)
    const rerun = await run({ SERVER_URL: faulty.url, JOURNAL: join(dir, 'q.journal') })
    expect(rerun.code).toBe(0)
    expect(rerun.out.trim()).toBe(uninterrupted.out.trim())
    expect(faulty.rowsAnswered()).toBe(distinct)
    expect(faulty.rowsAnsweredTwice()).toBe(0)
    console.log(`kill -9: ${faulty.stats.inferRequests} inference requests, ${JSON.stringify(faulty.stats.faults)} faults, ${before} rows before the kill, ${faulty.rowsAnswered()} in all, ${faulty.rowsAnsweredTwice()} answered twice`)
  })
})
