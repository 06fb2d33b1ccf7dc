import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { allExamples, repoRoot } from '../src/examples.js'

// Every TSDoc @example and markdown ```ts block is type-checked by `npm run typecheck:all` (the root program
// includes apps/integration/extracted, which that script writes). Here: the conventions hold, and every example
// that is not a fragment runs. Measured alone: ~25 s for all the runnable examples in one process.
describe('examples in TSDoc and markdown', () => {
  const examples = allExamples()

  it('are found in the sources, the READMEs, docs/ and the docs site', () => {
    expect(examples.filter((e) => e.kind === 'tsdoc').length).toBeGreaterThan(150)
    expect(new Set(examples.filter((e) => e.kind === 'markdown').map((e) => e.source.split('/')[0])).size).toBeGreaterThan(2)
  })

  it('import the packages by their public names, never by relative paths', () => {
    const relative = examples.filter((e) => /from '\.\.?\//.test(e.code)).map((e) => `${e.source}:${e.line}`)
    expect(relative).toEqual([])
  })

  it('run, unless they are fragments', { timeout: 600_000 }, () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sonde-examples-')), 'results.json')
    execFileSync(process.execPath, ['--conditions=@sonde/source', '--import', 'tsx', join(repoRoot, 'apps/integration/src/run-examples.ts'), out], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'], timeout: 590_000 })
    const results = JSON.parse(readFileSync(out, 'utf8')) as { source: string; line: number; ok: boolean; error?: string }[]
    expect(results.length).toBeGreaterThan(10)
    expect(results.filter((r) => !r.ok).map((r) => `${r.source}:${r.line}: ${r.error}`)).toEqual([])
  })
})
