import { it, expect } from 'vitest'
import { toPromise } from '@sonde/oracle'
import { randomTwoLayerRelu } from '@sonde/models'
import { extractReluNetwork } from '../src/index.js'
it.each([[16, 128], [64, 784], [128, 5000]])('h=%i d=%i', async (h, d) => {
  const net = randomTwoLayerRelu({ inputDim: d, hidden: h, seed: h + d })
  const t0 = performance.now()
  const ex = await toPromise(extractReluNetwork(net, { seed: 1 }))
  const fid = await toPromise(ex.fidelity({ count: 2000, seed: 3 }))
  console.log(h, d, ex.model.hidden, ex.queries, 3 * h * Math.log2(h), fid.maxRelativeError, (performance.now() - t0).toFixed(0), 'ms')
  expect(fid.maxRelativeError).toBeLessThan(1e-9)
}, 60000)
