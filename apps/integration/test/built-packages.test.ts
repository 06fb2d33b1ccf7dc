import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../..')
const packages = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => {
    const dir = join(root, 'packages', d.name)
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> }
    return { dir, name: pkg.name, entries: Object.keys(pkg.exports).map((k) => (k === '.' ? pkg.name : `${pkg.name}${k.slice(1)}`)) }
  })

// Entry points that import a test runner; they are loaded by vitest, not by plain Node.
const runnerOnly = new Set(['@sonde/oracle/testing'])

describe('every built package', () => {
  it('finds the packages', () => {
    expect(packages.map((p) => p.name).sort()).toEqual(expect.arrayContaining(['@sonde/datasets', '@sonde/models', '@sonde/oracle']))
  })

  // One plain `node` process imports every entry in turn (each import is its own module graph; a failure names its
  // entry): this is what catches `fp-ts/…` subpath imports and other ESM-only breakage, without paying a Node and
  // tfjs start-up per entry.
  const entries = packages.flatMap((p) => p.entries.filter((e) => !runnerOnly.has(e)))
  const script = `const out = {}
for (const e of ${JSON.stringify(entries)}) {
  try { out[e] = Object.keys(await import(e)) } catch (err) { out[e] = 'failed: ' + (err && err.message) }
}
console.log(JSON.stringify(out))`
  let imported: Record<string, string[] | string> | undefined
  const names = (entry: string): string[] | string => {
    imported ??= JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!) as Record<string, string[] | string>
    return imported[entry] ?? 'not imported'
  }
  for (const entry of entries) {
    it(`${entry} imports in plain Node ESM (no source condition) and exports names`, () => {
      const n = names(entry)
      expect(typeof n === 'string' ? n : 'ok').toBe('ok')
      expect(n.length).toBeGreaterThan(0)
      expect(n).not.toContain('default')
    })
  }
})

// Entries that must load with no tfjs installed: Node is made to refuse every '@tensorflow/*' import.
const tfjsFree = ['@sonde/oracle', '@sonde/models', '@sonde/datasets', '@sonde/influence', '@sonde/inverse-classification', '@sonde/gradient-extraction', '@sonde/copying']

describe('entries without tfjs', () => {
  const hooks = mkdtempSync(join(tmpdir(), 'sonde-no-tfjs-'))
  writeFileSync(
    join(hooks, 'hooks.mjs'),
    `export async function resolve(specifier, context, next) {\n  if (specifier.startsWith('@tensorflow/')) throw new Error('imported ' + specifier + ' from ' + context.parentURL)\n  return next(specifier, context)\n}\n`,
  )
  writeFileSync(join(hooks, 'register.mjs'), `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(join(hooks, 'hooks.mjs')).href)})\n`)
  const load = (entry: string) =>
    execFileSync(process.execPath, ['--import', pathToFileURL(join(hooks, 'register.mjs')).href, '--input-type=module', '-e', `await import(${JSON.stringify(entry)}); console.log('loaded')`], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })

  it('the refusing hook works: @sonde/models/tfjs does not load', () => {
    expect(() => load('@sonde/models/tfjs')).toThrow(/imported @tensorflow\/tfjs/)
  })

  it('the refusing hook works: @sonde/copying/tfjs does not load', () => {
    expect(() => load('@sonde/copying/tfjs')).toThrow(/imported @tensorflow\/tfjs/)
  })

  it('the refusing hook works: @sonde/gradient-extraction/tfjs does not load', () => {
    expect(() => load('@sonde/gradient-extraction/tfjs')).toThrow(/imported @tensorflow\/tfjs/)
  })

  for (const entry of tfjsFree) {
    it(`${entry} loads with every @tensorflow/* import refused`, () => {
      expect(load(entry).trim()).toBe('loaded')
    })
  }
})
