import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../..')
const npm = (args: readonly string[], cwd: string): string => execFileSync('npm', [...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

/** The package folders `dirs` need, with every @sonde/* package they depend on (none is on the registry). */
const withSondeDependencies = (dirs: readonly string[]): string[] => {
  const byName = new Map(readdirSync(join(root, 'packages')).map((d) => [(JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8')) as { name: string }).name, d]))
  const seen = new Set<string>()
  const visit = (dir: string): void => {
    if (seen.has(dir)) return
    seen.add(dir)
    const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
    for (const name of Object.keys(pkg.dependencies ?? {})) {
      const d = byName.get(name)
      if (d !== undefined) visit(d)
    }
  }
  dirs.forEach(visit)
  return [...seen]
}

// What a user gets who installs only the float64 packages: the packed tarballs (what npm would publish) in a
// new project. No @tensorflow/* may be installed, and influence on a softmax model must run without it.
describe('a fresh project with @sonde/influence and @sonde/inverse-classification only', () => {
  it('installs no @tensorflow/* and runs', () => {
    const packs = mkdtempSync(join(tmpdir(), 'sonde-packs-'))
    for (const p of withSondeDependencies(['oracle', 'models', 'influence', 'inverse-classification'])) npm(['pack', '--silent', '--pack-destination', packs], join(root, 'packages', p))
    const project = mkdtempSync(join(tmpdir(), 'sonde-fresh-'))
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'fresh', version: '1.0.0', private: true, type: 'module' }))
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', ...readdirSync(packs).map((f) => join(packs, f))], project)
    const installed = npm(['ls', '--all', '--parseable'], project).split('\n')
    expect(installed.some((l) => l.includes('@sonde/influence'))).toBe(true)
    expect(installed.filter((l) => l.includes('@tensorflow'))).toEqual([])
    expect(existsSync(join(project, 'node_modules', '@tensorflow'))).toBe(false)
    writeFileSync(
      join(project, 'run.mjs'),
      `import { takeRows } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { influenceOnTest } from '@sonde/influence'
import { inverseSoftmax } from '@sonde/inverse-classification'
const x = { rows: 40, cols: 2, data: Float64Array.from({ length: 80 }, (_, k) => Math.sin(k * 1.7) * 2) }
const y = Int32Array.from({ length: 40 }, (_, i) => (x.data[2 * i] > 0 ? 1 : 0))
const fit = SoftmaxRegression.fit(x, y, { numClasses: 2, l2: 0.1 })
if (fit._tag !== 'Right') throw new Error(fit.left.message)
const infl = await influenceOnTest(fit.right.model, { x, y }, { x: takeRows(x, [0]), y: y.slice(0, 1) })()
const cf = inverseSoftmax(fit.right.model, x.data.slice(0, 2), { target: 1 - y[0] })
console.log(infl._tag, infl.right.scores.cols, cf._tag)
`,
    )
    expect(execFileSync(process.execPath, ['run.mjs'], { cwd: project, encoding: 'utf8' }).trim()).toBe('Right 40 Right')
  })
})
