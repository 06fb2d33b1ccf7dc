import { describe, expect, it } from 'vitest'
import { function as F } from 'fp-ts'
import { budget, meter, retry, toPromise } from '@sonde/oracle'
import { describeOracleContract } from '@sonde/oracle/testing'
import { fromVendorClient, type VendorClient } from '../src/index.js'

// A vendor's client, written here as such an SDK answers: class names and confidences (a softmax over two
// linear scores), and a network that fails on its first `failures` calls.
const vendor = (failures = 0): VendorClient & { calls: number } => {
  const client = {
    calls: 0,
    classify: async (rows: readonly (readonly number[])[]) => {
      client.calls++
      if (client.calls <= failures) throw new Error('ECONNRESET')
      return rows.map(([a = 0, b = 0, c = 0]) => {
        const s = 0.5 * a - b + 0.25 * c
        const p = 1 / (1 + Math.exp(-s))
        return { label: p > 0.5 ? 'leaves' : 'stays', confidence: { stays: 1 - p, leaves: p } }
      })
    },
  }
  return client
}
const options = { id: 'vendor:churn', inputDim: 3, classNames: ['stays', 'leaves'], domain: { lower: -2, upper: 2 } }

describeOracleContract('fromVendorClient', () => fromVendorClient(vendor(), options), { seed: 4 })

describe('fromVendorClient', () => {
  it('maps class names to indices and confidences to the score matrix', async () => {
    const p = await toPromise(fromVendorClient(vendor(), options).predict({ rows: 2, cols: 3, data: Float64Array.of(2, 0, 0, -2, 0, 0) }))
    expect(Array.from(p.labels)).toEqual([1, 0])
    expect(p.scores!.data[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12)
  })

  it('refuses a bad query before the client is called', async () => {
    const client = vendor()
    const r = await fromVendorClient(client, options).predict({ rows: 1, cols: 3, data: Float64Array.of(0, 9, 0) })()
    expect(r._tag === 'Left' && r.left._tag).toBe('InvalidInput')
    expect(client.calls).toBe(0)
  })

  it('a network failure is a retryable Transport error that retry() recovers from, charged once', async () => {
    const client = vendor(2)
    const oracle = F.pipe(fromVendorClient(client, options), retry({ retries: 3, baseDelayMs: 1 }), budget(10), meter)
    const p = await toPromise(oracle.predict({ rows: 1, cols: 3, data: Float64Array.of(1, 0, 0) }))
    expect(p.labels[0]).toBe(1)
    expect(client.calls).toBe(3)
    expect(oracle.usage().predictRows).toBe(1)
  })

  it('an answer naming an unknown class is a BadResponse', async () => {
    const client: VendorClient = { classify: async (rows) => rows.map(() => ({ label: 'maybe', confidence: {} })) }
    const r = await fromVendorClient(client, options).predict({ rows: 1, cols: 3, data: Float64Array.of(0, 0, 0) })()
    expect(r._tag === 'Left' && r.left._tag).toBe('BadResponse')
  })
})
