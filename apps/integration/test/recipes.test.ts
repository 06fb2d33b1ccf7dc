import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../..')
const recipes = readdirSync(join(root, 'docs/recipes')).filter((f) => f.endsWith('.ts'))

// Recipes are type-checked by this package's tsconfig and run here against the built packages.
describe('docs/recipes', () => {
  it('has recipes', () => expect(recipes.length).toBeGreaterThan(0))
  for (const file of recipes) {
    // The slowest (skinny-sixes) trains three models: ≈ 75 s alone, 150 s beside the other test tasks.
    it(`${file} runs to completion`, { timeout: 400_000 }, () => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', join('docs/recipes', file)], { cwd: root, encoding: 'utf8' })
      expect(out).toContain('recipe ok')
    })
  }
})
