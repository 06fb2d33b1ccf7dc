import { describe, expect, it } from 'vitest'
import { clipToDomain, createRng, featureBounds, labelAgreement, randomQueries, validateQuery, type OracleInfo } from '../src/index.js'
import { either as E } from 'fp-ts'

const info: OracleInfo = { id: 'd', inputDim: 3, numClasses: 2, output: 'label', domain: { lower: Float64Array.of(0, -Infinity, -1), upper: Float64Array.of(1, 2, Infinity) } }

describe('domain helpers', () => {
  it('featureBounds reads scalar and per-feature bounds, and no domain as unbounded', () => {
    expect(featureBounds(info, 0)).toEqual([0, 1])
    expect(featureBounds(info, 1)).toEqual([-Infinity, 2])
    expect(featureBounds({ ...info, domain: { lower: -3, upper: 3 } }, 2)).toEqual([-3, 3])
    const { domain: _omit, ...free } = info
    expect(featureBounds(free, 1)).toEqual([-Infinity, Infinity])
  })

  it('randomQueries are always valid queries, and seeded', () => {
    const x = randomQueries(info, 500, createRng(1))
    expect(E.isRight(validateQuery(info, x))).toBe(true)
    expect(Array.from(randomQueries(info, 5, createRng(2)).data)).toEqual(Array.from(randomQueries(info, 5, createRng(2)).data))
  })

  it('clipToDomain clips in place', () => {
    const x = { rows: 1, cols: 3, data: Float64Array.of(2, 5, -7) }
    clipToDomain(info, x)
    expect(Array.from(x.data)).toEqual([1, 2, -1])
  })

  it('labelAgreement counts equal positions and refuses different lengths and no labels', () => {
    expect(labelAgreement(Int32Array.of(1, 2, 3, 4), Int32Array.of(1, 0, 3, 4))).toBe(0.75)
    expect(() => labelAgreement([], [])).toThrow(RangeError) // agreement over no points is undefined, not 1
    expect(() => labelAgreement([1], [1, 2])).toThrow(RangeError)
  })
})
