import { describe, expect, it } from 'vitest'
import { checkBoxedProbability } from './probability-reference.js'

// Issue 16's goal: 0 failures on 1,000 random bounded problems. The bench (npm run bench -- inverse-classification)
// runs the same 1,000 against cvxpy (Clarabel) where its Python venv exists.
describe('inverseSoftmax with a probability and a box, 1,000 random problems', () => {
  it('no NotConverged, every Right meets the KKT conditions, every Infeasible survives an independent search', () => {
    const outcomes = Array.from({ length: 1000 }, (_, s) => checkBoxedProbability(s))
    expect(outcomes.filter((o) => o.failure !== undefined)).toEqual([])
    expect(outcomes.filter((o) => o.tag === 'Right').length).toBeGreaterThan(800)
  }, 300_000)
})
