import { describe, expect, it } from 'vitest'
import { recipesOf, recipeTests } from './recipe-runner.js'

const recipes = recipesOf('fast')

// Recipes are type-checked by this package's tsconfig and run here against the built packages. Measured alone:
// ≤ 8.4 s each (copy-a-black-box); the timeout is 60 s. Recipes marked `@tier slow` run in recipes.slow.test.ts.
describe('docs/recipes', () => {
  it('has recipes in both tiers', () => {
    expect(recipes.length).toBeGreaterThan(0)
    expect(recipesOf('slow').length).toBeGreaterThan(0)
  })
  recipeTests(recipes, 60_000)
})
