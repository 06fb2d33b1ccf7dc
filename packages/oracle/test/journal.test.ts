import { execFileSync, spawn } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fromFunction, meter, toPromise, type Matrix, type OracleInfo } from '../src/index.js'
import { journal } from '../src/journal.js'

const info: OracleInfo = { id: 'journal-model', inputDim: 3, numClasses: 2, output: 'logits' }
const counting = () => {
  const calls = { predictRows: 0, gradientRows: 0 }
  const oracle = fromFunction(
    info,
    (x) => {
      calls.predictRows += x.rows
      return { rows: x.rows, cols: 2, data: Float64Array.from({ length: 2 * x.rows }, (_, k) => Math.sin(x.data[3 * (k >> 1)]! * (1 + (k & 1)))) }
    },
    {
      gradient: (x, cls) => {
        calls.gradientRows += x.rows
        return { rows: x.rows, cols: 3, data: Float64Array.from({ length: 3 * x.rows }, (_, k) => Math.cos(x.data[k]!) + cls[Math.floor(k / 3)]!) }
      },
    },
  )
  return { oracle, calls }
}
const x: Matrix = { rows: 5, cols: 3, data: Float64Array.from({ length: 15 }, (_, k) => Math.sin(k) / 3) }
const scratch = () => join(mkdtempSync(join(tmpdir(), 'sonde-journal-')), 'queries.journal')

describe('journal', () => {
  it('answers a second run from the file: bit-identical, no row sent below again', async () => {
    const path = scratch()
    const first = counting()
    const j1 = journal({ path })(first.oracle)
    const p1 = await toPromise(j1.predict(x))
    const g1 = await toPromise(j1.gradient(x, 1))
    j1.closeJournal()
    expect(first.calls).toEqual({ predictRows: 5, gradientRows: 5 })
    const second = counting()
    const j2 = journal({ path })(second.oracle)
    expect(j2.journalStats().loadedRows).toBe(10)
    const metered = meter(j2)
    const p2 = await toPromise(metered.predict(x))
    const g2 = await toPromise(metered.gradient(x, 1))
    // The meter above the journal counts the rows it answered from the file.
    expect(metered.usage()).toMatchObject({ predictRows: 5, gradientRows: 5, cacheHits: 10 })
    expect(second.calls).toEqual({ predictRows: 0, gradientRows: 0 })
    expect(Array.from(p2.scores!.data)).toEqual(Array.from(p1.scores!.data))
    expect(Array.from(g2.data)).toEqual(Array.from(g1.data))
    expect(j2.cacheStats().predictHits).toBe(5)
    // Another class is another row: sent below once.
    await toPromise(j2.gradient(x, 0))
    expect(second.calls.gradientRows).toBe(5)
    j2.closeJournal()
  })

  it('drops a torn last record and appends after it', async () => {
    const path = scratch()
    const j1 = journal({ path })(counting().oracle)
    await toPromise(j1.predict(x))
    j1.closeJournal()
    appendFileSync(path, '{"k":"p","r":"AAAA') // a kill in mid-write
    const again = counting()
    const j2 = journal({ path })(again.oracle)
    expect(j2.journalStats()).toMatchObject({ loadedRows: 5, tornRecords: 1 })
    await toPromise(j2.predict({ rows: 1, cols: 3, data: Float64Array.of(9, 9, 9) }))
    j2.closeJournal()
    const j3 = journal({ path })(counting().oracle)
    expect(j3.journalStats()).toMatchObject({ loadedRows: 6, tornRecords: 0 })
    j3.closeJournal()
  })

  it('refuses a different oracle, naming the file', async () => {
    const path = scratch()
    journal({ path })(counting().oracle).closeJournal()
    const other = fromFunction({ ...info, id: 'another-model' }, (q) => ({ rows: q.rows, cols: 2, data: new Float64Array(2 * q.rows) }))
    const r = await journal({ path })(other).predict(x)()
    expect(r._tag === 'Left' && r.left._tag === 'InvalidInput' && r.left.message).toContain('another oracle')
  })
})

// Real processes: a child holds the journal; a child is killed with SIGKILL mid-probe and rerun.
const child = resolve(import.meta.dirname, 'fixtures/journal-child.ts')
const runChild = (env: Record<string, string>): { status: number | null; signal: string | null; out: string } => {
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', child], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    return { status: 0, signal: null, out }
  } catch (e) {
    const err = e as { status: number | null; signal: string | null; stdout: string }
    return { status: err.status, signal: err.signal, out: err.stdout }
  }
}

describe('journal across processes', () => {
  it('a second process opening the same journal is refused while the first holds it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-journal-'))
    const path = join(dir, 'q.journal')
    const holder = spawn(process.execPath, ['--import', 'tsx', child], { env: { ...process.env, JOURNAL: path, MODEL_LOG: join(dir, 'model.log'), HOLD: '1' }, stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((done) => holder.stdout.on('data', (d: Buffer) => d.toString().includes('holding') && done()))
    const model = fromFunction({ id: 'child-model', inputDim: 3, numClasses: 2, output: 'probabilities' }, (q) => ({ rows: q.rows, cols: 2, data: new Float64Array(2 * q.rows).fill(0.5) }))
    const r = await journal({ path })(model).predict(x)()
    expect(r._tag === 'Left' && r.left.message).toContain(`process ${holder.pid}`)
    holder.kill('SIGKILL')
    await new Promise((done) => holder.on('exit', done))
    // The owner is dead: its lock is taken over.
    const taken = journal({ path })(model)
    expect((await taken.predict(x)())._tag).toBe('Right')
    taken.closeJournal()
  })

  it('kill -9 mid-probe, then a rerun: the same result as an uninterrupted run, and the model answered every row once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-journal-'))
    const clean = runChild({ JOURNAL: join(dir, 'clean.journal'), MODEL_LOG: join(dir, 'clean.log') })
    expect(clean.status).toBe(0)
    const killed = runChild({ JOURNAL: join(dir, 'q.journal'), MODEL_LOG: join(dir, 'model.log'), KILL_AFTER: '17' })
    expect(killed.signal).toBe('SIGKILL')
    expect(existsSync(join(dir, 'q.journal.lock'))).toBe(true) // left behind by the kill
    const rerun = runChild({ JOURNAL: join(dir, 'q.journal'), MODEL_LOG: join(dir, 'model.log') })
    expect(rerun.status).toBe(0)
    expect(rerun.out.trim()).toBe(clean.out.trim())
    const answered = readFileSync(join(dir, 'model.log'), 'utf8').trim().split('\n')
    expect(new Set(answered).size).toBe(answered.length) // no row answered twice
    expect(answered.length).toBe(readFileSync(join(dir, 'clean.log'), 'utf8').trim().split('\n').length)
  })
})
