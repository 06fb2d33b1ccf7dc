import { mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cliRoot, countRows, oracleModule, readJson, sonde, startModelServer, tempDir } from './helpers.js'
import type { RunDocument } from '../src/document.js'

// Each test runs the built CLI (dist/bin.js) as a child process against the fixture oracle module, which
// appends every answered row to a count file: what the model saw, independent of what the CLI reports.

const copyArgs = ['--set', 'copy=softmax', '--set', 'sampler=uniformBox']

describe('sonde list and describe', () => {
  it('lists every built-in probe with its summary and requirements', async () => {
    const r = await sonde(['list'], { cwd: tempDir() })
    expect(r.code).toBe(0)
    for (const id of ['sonde/copying', 'sonde/inverse-classification', 'sonde/audit', 'sonde/debugging/defuse']) expect(r.stdout).toContain(id)
    expect(r.stdout).toContain('requires: labels')
    const j = await sonde(['list', '--json'], { cwd: tempDir() })
    const rows = JSON.parse(j.stdout) as { id: string; requires: unknown }[]
    expect(rows.length).toBe(10)
    expect(rows.find((p) => p.id === 'sonde/explanation-leak-audit')?.requires).toEqual(['gradients'])
  })

  it('describes a probe: type, default, constraints, description; --json is the JSON Schema', async () => {
    const r = await sonde(['describe', 'sonde/copying'], { cwd: tempDir() })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/budget {2}\(integer; required; ≥ 1, ≤ 100000000\)/)
    expect(r.stdout).toMatch(/copy {2}\("softmax" \| "mlp" \| "tree"; default "mlp"\)/)
    const j = await sonde(['describe', 'sonde/copying', '--json'], { cwd: tempDir() })
    const schema = JSON.parse(j.stdout) as { title: string; properties: Record<string, { type?: string; default?: unknown }> }
    expect(schema.title).toBe('sonde/copying')
    expect(schema.properties.budget?.type).toBe('integer')
    expect(schema.properties.rounds?.default).toBe(4)
    const unknown = await sonde(['describe', 'sonde/nope'], { cwd: tempDir() })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("no probe 'sonde/nope'")
  })
})

describe('sonde run', () => {
  it('runs a probe on a --module oracle and writes report.json and report.html', async () => {
    const dir = tempDir()
    const count = join(dir, 'count')
    const r = await sonde(['run', 'sonde/copying', '--module', oracleModule, ...copyArgs, '--budget', '400', '--seed', '3', '--out', 'out'], { cwd: dir, env: { SONDE_TEST_COUNT: count } })
    expect(r.code).toBe(0)
    const doc = readJson<RunDocument>(join(dir, 'out/report.json'))
    expect(doc.probe).toBe('sonde/copying')
    expect(doc.status).toBe('complete')
    expect(doc.seed).toBe(3)
    expect(doc.report.seed).toBe(3)
    expect(doc.options).toEqual({ copy: 'softmax', sampler: 'uniformBox', budget: 400 })
    // The model answered exactly the rows the report says, each once.
    expect(countRows(count)).toMatchObject({ rows: 400, repeated: 0 })
    expect(doc.queries.predictRows).toBe(400)
    expect(doc.answers).toMatchObject({ fromModel: 400, fromJournal: 0 })
    expect(doc.versions['@sonde/cli']).toMatch(/^\d+\.\d+\.\d+/)
    expect(doc.versions.node).toBe(process.versions.node)
    expect(doc.timings.durationMs).toBeGreaterThan(0)
    expect(doc.timings.stages.map((s) => s.stage)).toContain('labelling')
    expect(existsSync(join(dir, 'out/report.html'))).toBe(true)
    expect(r.stdout).toContain(doc.report.headline)
    // Not a TTY: plain progress lines on stderr.
    expect(r.stderr).toMatch(/\[sonde [\d.]+ s\] labelling \d+\/400 · rows \d+ · budget left \d+/)
  })

  it('types --set values by the probe schema; a bad one exits 2 naming its path, and nothing is queried', async () => {
    const dir = tempDir()
    const count = join(dir, 'count')
    const env = { SONDE_TEST_COUNT: count }
    const bad = await sonde(['run', 'sonde/copying', '--module', oracleModule, '--set', 'budget=ten', '--out', 'o1'], { cwd: dir, env })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('options.budget: is "ten"; expected an integer')
    const range = await sonde(['run', 'sonde/copying', '--module', oracleModule, '--set', 'budget=100', '--set', 'rounds=0', '--set', 'sigma=-1', '--out', 'o2'], { cwd: dir, env })
    expect(range.code).toBe(2)
    expect(range.stderr).toContain('options.rounds')
    expect(range.stderr).toContain('options.sigma')
    const unknown = await sonde(['run', 'sonde/copying', '--module', oracleModule, '--set', 'budget=100', '--set', 'bogus=1', '--out', 'o3'], { cwd: dir, env })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('has unknown option(s) "bogus"')
    const arr = await sonde(['run', 'sonde/copying', '--module', oracleModule, '--set', 'budget=100', '--set', 'hidden=[8,x]', '--out', 'o4'], { cwd: dir, env })
    expect(arr.code).toBe(2)
    expect(arr.stderr).toContain('options.hidden')
    writeFileSync(join(dir, 'opts.json'), JSON.stringify({ budget: 0 }))
    const file = await sonde(['run', 'sonde/copying', '--module', oracleModule, '--options', 'opts.json', '--out', 'o5'], { cwd: dir, env })
    expect(file.code).toBe(2)
    expect(file.stderr).toContain('options.budget')
    expect(countRows(count).rows).toBe(0)
  })

  it('--budget caps the rows at the model: BudgetExhausted exits 4 with a partial report', async () => {
    const dir = tempDir()
    const count = join(dir, 'count')
    const r = await sonde(['run', 'sonde/copying', '--module', oracleModule, ...copyArgs, '--set', 'budget=2000', '--budget', '300', '--out', 'out'], { cwd: dir, env: { SONDE_TEST_COUNT: count } })
    expect(r.code).toBe(4)
    const doc = readJson<RunDocument>(join(dir, 'out/report.json'))
    expect(doc.status).toBe('budget-exhausted')
    expect(doc.exitCode).toBe(4)
    expect(doc.error?.tag).toBe('BudgetExhausted')
    expect(countRows(count).rows).toBeLessThanOrEqual(300)
    expect(doc.answers.fromModel).toBe(countRows(count).rows)
    expect(existsSync(join(dir, 'out/report.html'))).toBe(true)
  })

  it('exits 3 when the endpoint keeps failing after the retries, with a report saying what was reached', async () => {
    const server = await startModelServer()
    try {
      const dir = tempDir()
      let n = 0
      server.onInfer = () => {
        n++
        if (n > 1) server.failWith(503)
        return undefined
      }
      const r = await sonde(['run', 'sonde/copying', '--endpoint', server.url, '--model', 'm', '--retries', '1', '--domain', '-3:3', ...copyArgs, '--budget', '400', '--out', 'out'], { cwd: dir })
      expect(r.code).toBe(3)
      const doc = readJson<RunDocument>(join(dir, 'out/report.json'))
      expect(doc.status).toBe('transport-failed')
      expect(doc.error?.tag).toBe('Transport')
      expect(doc.answers.fromModel).toBe(server.rows())
      expect(server.rows()).toBe(100)
    } finally {
      await server.close()
    }
  })

  it('runs the probes of a --plugin package, resolved from the current folder, and from sonde.config.json', async () => {
    const dir = join(cliRoot, '.test-tmp', `plugin-${process.pid}`)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    const list = await sonde(['--plugin', 'sonde-plugin-boundary', 'list'], { cwd: dir })
    expect(list.code).toBe(0)
    expect(list.stdout).toContain('sonde-plugin-boundary/distance')
    writeFileSync(join(dir, 'sonde.config.json'), JSON.stringify({ plugins: ['sonde-plugin-boundary'] }))
    const count = join(dir, 'count')
    const r = await sonde(['run', 'sonde-plugin-boundary/distance', '--module', oracleModule, '--set', 'x0=[0.1,0.2,0.3,0.4]', '--set', 'directions=4', '--set', 'maxRadius=2', '--budget', '200', '--out', 'out'], { cwd: dir, env: { SONDE_TEST_COUNT: count } })
    expect(r.stderr).not.toContain('unexpected')
    expect(r.code).toBe(0)
    const doc = readJson<RunDocument>(join(dir, 'out/report.json'))
    expect(doc.probe).toBe('sonde-plugin-boundary/distance')
    expect(doc.report.probe).toBe('sonde-plugin-boundary/distance')
    expect(doc.answers.fromModel).toBe(countRows(count).rows)
    const missing = await sonde(['--plugin', 'sonde-plugin-nothing', 'list'], { cwd: dir })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('sonde-plugin-nothing')
    rmSync(dir, { recursive: true, force: true })
  })
})

describe('other model files', () => {
  it('runs a probe and an audit on an --onnx file (through @sonde/onnx)', async () => {
    const dir = tempDir()
    const onnx = join(cliRoot, '../../packages/onnx/test/fixtures/mlp-4-8-3.onnx')
    const r = await sonde(['run', 'sonde/copying', '--onnx', onnx, '--domain', '-3:3', ...copyArgs, '--budget', '400', '--out', 'out', '-q'], { cwd: dir })
    expect(r.code).toBe(0)
    const doc = readJson<RunDocument>(join(dir, 'out/report.json'))
    expect(doc.model).toMatchObject({ kind: 'onnx', info: { id: 'onnx:mlp-4-8-3.onnx', inputDim: 4, numClasses: 3 } })
    expect(doc.answers.fromModel).toBe(400)
    const a = await sonde(['audit', '--onnx', onnx, '--domain', '-3:3', '--budget', '800', '--out', 'audit', '-q'], { cwd: dir })
    expect(a.code).toBe(0)
    expect(readJson<RunDocument>(join(dir, 'audit/report.json')).answers.fromModel).toBeLessThanOrEqual(800)
  })

  it('refuses a model flag that does not fit before loading anything (exit 2)', async () => {
    const dir = tempDir()
    const none = await sonde(['run', 'sonde/copying', '--set', 'budget=10', '--out', 'o'], { cwd: dir })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('no model given')
    const two = await sonde(['run', 'sonde/copying', '--module', oracleModule, '--onnx', 'x.onnx', '--set', 'budget=10', '--out', 'o'], { cwd: dir })
    expect(two.code).toBe(2)
    const domain = await sonde(['run', 'sonde/copying', '--module', oracleModule, '--domain', '3:1', '--set', 'budget=10', '--out', 'o'], { cwd: dir })
    expect(domain.code).toBe(2)
    expect(domain.stderr).toContain('--domain')
  })
})

describe('sonde audit', () => {
  it('audits a --module oracle within one budget: sections in one report', async () => {
    const dir = tempDir()
    const count = join(dir, 'count')
    const r = await sonde(['audit', '--module', oracleModule, '--budget', '1500', '--seed', '2', '--out', 'out'], { cwd: dir, env: { SONDE_TEST_COUNT: count } })
    expect(r.stderr).not.toContain('unexpected')
    expect(r.code).toBe(0)
    const doc = readJson<RunDocument>(join(dir, 'out/report.json'))
    expect(doc.command).toBe('audit')
    expect(doc.probe).toBe('sonde/audit')
    expect(doc.report.sections?.map((s) => s.probe)).toEqual(expect.arrayContaining(['sonde/audit#copy', 'sonde/audit#counterfactuals']))
    expect(countRows(count).rows).toBeLessThanOrEqual(1500)
    expect(countRows(count).rows).toBe(doc.answers.fromModel)
    expect(r.stdout).toContain('What an outsider learns')
  })
})

afterAll(() => rmSync(join(cliRoot, '.test-tmp'), { recursive: true, force: true }))
