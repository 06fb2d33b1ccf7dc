import { describe, it } from 'vitest'
import { checkAttack } from './attack-check.js'

// The paper-scale half of attack.test.ts: 40 targets (measured alone 10 s; the tier's timeout is 600 s).
describe('training-set attack on binary logistic regression (MNIST 1 vs 7), 40 targets', () => {
  it('perturbing 1 and 2 training images within an L∞ box of 0.1 flips a measured fraction of correct test predictions (measured 2/40 and 2/40)', async () => {
    await checkAttack(40)
  })
})
