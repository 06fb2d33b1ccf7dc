import { describe } from 'vitest'
import { recipesOf, recipeTests } from './recipe-runner.js'

// The slowest (skinny-sixes) trains three models: measured 94 s alone; the timeout is 600 s.
describe('docs/recipes (slow tier)', () => {
  recipeTests(recipesOf('slow'), 600_000)
})
