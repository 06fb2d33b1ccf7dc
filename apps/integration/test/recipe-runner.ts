import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../..')

/** A recipe whose doc comment says `@tier slow` runs in the slow tier; every other recipe in the fast one. */
const isSlow = (file: string): boolean => /^\s*\*\s*@tier slow\b/m.test(readFileSync(join(root, 'docs/recipes', file), 'utf8'))

/** The recipes of one tier, by file name. */
export const recipesOf = (tier: 'fast' | 'slow'): string[] =>
  readdirSync(join(root, 'docs/recipes'))
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => isSlow(f) === (tier === 'slow'))
    .sort()

/**
 * One test per recipe: it runs against the built packages in plain Node (tsx) and prints `recipe ok`. What it
 * printed is kept in `docs/recipes/output/<name>.stdout.txt`, where the docs site's recipe pages read it.
 */
export const recipeTests = (files: readonly string[], timeout: number): void => {
  for (const file of files) {
    it(`${file} runs to completion`, { timeout }, () => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', join('docs/recipes', file)], { cwd: root, encoding: 'utf8' })
      mkdirSync(join(root, 'docs/recipes/output'), { recursive: true })
      writeFileSync(join(root, 'docs/recipes/output', file.replace(/\.ts$/, '.stdout.txt')), out)
      expect(out).toContain('recipe ok')
    })
  }
}
