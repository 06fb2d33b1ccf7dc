import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type * as tf from '@tensorflow/tfjs'
import { createRng, toPromise, type Matrix } from '@sonde/oracle'
import { fromHttp } from '@sonde/oracle/http'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, useFastestBackend } from '@sonde/models/tfjs'
import { serveTfjsModel, type ServedModel } from '../src/server.js'

// The demo's server against the same model in process: an MLP of the demo's shape (784 → 16 → 10, seeded,
// untrained: the routes do not care how good it is), its logits as float32, the softmax in float64.
let model: tf.LayersModel
let served: ServedModel
const rng = createRng(7)
const x: Matrix = { rows: 5, cols: 784, data: Float64Array.from({ length: 5 * 784 }, () => rng.next()) }

beforeAll(async () => {
  await useFastestBackend()
  model = buildMlp({ inputDim: 784, hidden: [16], numClasses: 10, seed: 3 })
  served = await serveTfjsModel(model, { name: 'mnist-mlp' })
})
afterAll(async () => {
  await served.close()
  model.dispose()
})

const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
  const r = await fetch(`${served.url}${path}`, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) })
  return { status: r.status, body: (await r.json()) as Record<string, unknown> }
}

/** The in-process answer, as the server must send it: float64 probabilities rounded to float32. */
const inProcess = async (q: Matrix): Promise<number[]> => {
  const p = await toPromise(fromTfjsModel(model, { output: 'probabilities', modelOutputs: 'logits' }).predict(q))
  return Array.from(p.scores!.data, Math.fround)
}

describe('serveTfjsModel (Open Inference v2)', () => {
  it('answers the metadata and readiness routes', async () => {
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(await call('GET', '/v2')).toMatchObject({ status: 200, body: { name: 'sonde-demo', extensions: [] } })
    expect(await call('GET', '/v2/health/ready')).toMatchObject({ status: 200, body: { ready: true } })
    expect(await call('GET', '/v2/models/mnist-mlp/ready')).toEqual({ status: 200, body: { name: 'mnist-mlp', ready: true } })
    const meta = await call('GET', '/v2/models/mnist-mlp')
    expect(meta.status).toBe(200)
    expect(meta.body).toMatchObject({
      name: 'mnist-mlp',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 784] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
    })
  })

  it('infers FP32 probabilities equal, to the last float32 bit, to the model in process (flat or nested data)', async () => {
    const want = await inProcess(x)
    const flat = await call('POST', '/v2/models/mnist-mlp/infer', { id: 'q1', inputs: [{ name: 'input', shape: [5, 784], datatype: 'FP32', data: Array.from(x.data) }] })
    expect(flat.status).toBe(200)
    expect(flat.body).toMatchObject({ model_name: 'mnist-mlp', id: 'q1', outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [5, 10] }] })
    const got = (flat.body.outputs as { data: number[] }[])[0]!.data
    // Exact: the same float32 logits and the same float64 softmax, rounded once to float32 on both sides.
    expect(got).toEqual(want)
    const rows = Array.from({ length: 5 }, (_, i) => Array.from(x.data.subarray(i * 784, (i + 1) * 784)))
    const nested = await call('POST', '/v2/models/mnist-mlp/infer', { inputs: [{ name: 'input', shape: [5, 784], datatype: 'FP32', data: rows }] })
    expect((nested.body.outputs as { data: number[] }[])[0]!.data).toEqual(want)
  })

  it('is what fromHttp (and so `sonde --endpoint`) reads: the same labels and float32 probabilities', async () => {
    const before = served.stats()
    const remote = await toPromise(fromHttp({ protocol: 'open-inference', url: served.url, model: 'mnist-mlp', maxBatchRows: 2 }))
    expect(remote.info).toMatchObject({ inputDim: 784, numClasses: 10, output: 'probabilities' })
    const p = await toPromise(remote.predict(x))
    const local = await toPromise(fromTfjsModel(model, { output: 'probabilities', modelOutputs: 'logits' }).predict(x))
    expect(Array.from(p.labels)).toEqual(Array.from(local.labels))
    expect(Array.from(p.scores!.data)).toEqual(await inProcess(x))
    // 5 rows in requests of at most 2 rows.
    expect(served.stats()).toEqual({ requests: before.requests + 3, rows: before.rows + 5 })
  })

  it('refuses what does not fit the model with 400, and unknown routes with 404, saying what was expected', async () => {
    const infer = (input: Record<string, unknown>) => call('POST', '/v2/models/mnist-mlp/infer', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 784], data: new Array(784).fill(0), ...input }] })
    const shape = await infer({ shape: [1, 783] })
    expect(shape).toEqual({ status: 400, body: { error: "input 'input' has shape [1,783]; expected [n, 784] with n ≥ 1" } })
    expect((await infer({ data: new Array(783).fill(0) })).body.error).toContain('has 783 values; its shape [1,784] needs 784')
    expect((await infer({ datatype: 'INT8' })).body.error).toContain('expected FP32')
    expect((await infer({ name: 'x' })).body.error).toContain("the model's input is 'input'")
    expect((await infer({ data: [...new Array(783).fill(0), 'a'] })).body.error).toContain('value 783 is "a"')
    expect((await call('POST', '/v2/models/mnist-mlp/infer', '{"inputs": [')).status).toBe(400)
    const other = await call('GET', '/v2/models/other')
    expect(other.status).toBe(404)
    expect(other.body.error).toContain("the model here is 'mnist-mlp'")
    expect((await call('GET', '/metrics')).status).toBe(404)
  })
})
