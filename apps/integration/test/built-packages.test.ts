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

  for (const pkg of packages) {
    for (const entry of pkg.entries.filter((e) => !runnerOnly.has(e))) {
      it(`${entry} imports in plain Node ESM (no source condition) and exports names`, () => {
        // Plain `node`: this is what catches `fp-ts/…` subpath imports and other ESM-only breakage.
        const out = execFileSync(
          process.execPath,
          ['--input-type=module', '-e', `const m = await import(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(m)))`],
          { cwd: root, encoding: 'utf8' },
        )
        const names = JSON.parse(out.trim().split('\n').pop()!) as string[]
        expect(names.length).toBeGreaterThan(0)
        expect(names).not.toContain('default')
      })
    }
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
