import { describe, expect, it } from 'vitest'
import { exactWithinBudget } from './relu-grid.js'

// The paper-scale row of extract.test.ts's grid: h = 128 at d = 128, 784 and 5000 (measured alone: 1.0 s at
// d = 784, 6.6 s at d = 5000; the tier's 600 s timeout is far above).
describe('extractReluNetwork at h = 128', () => {
  const counts: number[] = []

  it.each([128, 784, 5000])('h = 128, d = %i: the minimal network (h units), exact to 1e-9 on 2,000 random inputs within 2·h·log₂h gradient rows', async (d) => {
    counts.push(await exactWithinBudget(128, d))
  })

  it('the gradient-row count is flat in d (within ±25 % across d = 128 … 5000)', () => {
    expect(counts.length).toBe(3)
    expect(Math.max(...counts) / Math.min(...counts)).toBeLessThanOrEqual(1.25)
  })
})
