import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

// The root entry must not load tfjs: a Node process that refuses every '@tensorflow/*' import loads it from
// source, runs a tree copy, and gets a typed error (not a throw) for copy 'mlp'. (apps/integration checks the build.)
describe('@sonde/copying without tfjs', () => {
  it('loads, copies into a tree, and refuses copy "mlp" with InvalidOptions naming @tensorflow/tfjs', () => {
    const hooks = mkdtempSync(join(tmpdir(), 'sonde-copying-no-tfjs-'))
    writeFileSync(
      join(hooks, 'hooks.mjs'),
      `export async function resolve(specifier, context, next) {\n  if (specifier.startsWith('@tensorflow/')) throw new Error('imported ' + specifier + ' from ' + context.parentURL)\n  return next(specifier, context)\n}\n`,
    )
    writeFileSync(join(hooks, 'register.mjs'), `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(join(hooks, 'hooks.mjs')).href)})\n`)
    const pkg = resolve(import.meta.dirname, '..')
    const out = execFileSync(
      process.execPath,
      ['--conditions=@sonde/source', '--import', 'tsx', '--import', pathToFileURL(join(hooks, 'register.mjs')).href, join(pkg, 'test/fixtures/no-tfjs-child.mts')],
      { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const r = JSON.parse(out.trim().split('\n').pop()!) as { mlp: { tag: string; message: string }; tree: number }
    expect(r.tree).toBe(20)
    expect(r.mlp.tag).toBe('InvalidOptions')
    expect(r.mlp.message).toContain('npm install @tensorflow/tfjs')
  }, 20_000)
})
