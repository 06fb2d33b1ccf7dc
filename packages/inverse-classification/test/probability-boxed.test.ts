import { describe, expect, it } from 'vitest'
import { checkBoxedProbability } from './probability-reference.js'

// The fast tier's sample of the slow tier's 1,000 problems (probability-boxed.slow.test.ts): the projected
// Newton solver for a target probability with a box, checked against independent KKT conditions (Right) and an
// independent first-order search for a feasible point (Infeasible).
describe('inverseSoftmax with a probability and a box, on random problems', () => {
  it('60 problems: every Right meets the KKT conditions checked from scratch; every Left is Infeasible and no search refutes it', () => {
    const outcomes = Array.from({ length: 60 }, (_, s) => checkBoxedProbability(s))
    expect(outcomes.filter((o) => o.failure !== undefined)).toEqual([])
    // Both kinds occur, so neither check is vacuous.
    expect(outcomes.filter((o) => o.tag === 'Right').length).toBeGreaterThan(30)
    expect(outcomes.filter((o) => o.tag === 'Infeasible').length).toBeGreaterThan(0)
  })
})
