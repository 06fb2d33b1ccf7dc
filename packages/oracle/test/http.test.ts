import { either as E } from 'fp-ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRng, fromRows, type InvalidOptions, type Matrix, type OracleError } from '../src/index.js'
import { fromHttp, type HttpOracle, type HttpOracleOptions } from '../src/http.js'
import { describeOracleContract } from '../src/testing/index.js'
import { D, K, evaluate, startModelServer, type ModelServer } from './http-server.js'

const queries = (rows: number, seed: number): Matrix => {
  const rng = createRng(seed)
  return { rows, cols: D, data: Float64Array.from({ length: rows * D }, () => rng.normal()) }
}

const connect = async (options: HttpOracleOptions): Promise<HttpOracle> => {
  const r = await fromHttp(options)()
  if (E.isLeft(r)) throw new Error(`${r.left._tag}: ${r.left.message}`)
  return r.right
}

const failure = async (task: () => Promise<E.Either<OracleError | InvalidOptions, unknown>>): Promise<OracleError | InvalidOptions> => {
  const r = await task()
  if (E.isRight(r)) throw new Error('expected a failure')
  return r.left
}

/** What the server's model says for row i of x, in float64, with FP32 rounding of inputs and outputs when asked. */
const expected = (x: Matrix, what: 'probabilities' | 'logits', fp32: boolean): Float64Array => {
  const r = fp32 ? Math.fround : (v: number) => v
  const out = new Float64Array(x.rows * K)
  for (let i = 0; i < x.rows; i++) out.set(evaluate(Array.from(x.data.subarray(i * D, (i + 1) * D), r))[what].map(r), i * K)
  return out
}

describe('fromHttp: protocols against a real server', () => {
  let fp32: ModelServer
  let fp64: ModelServer
  let binary: ModelServer
  let logits: ModelServer
  let labels: ModelServer
  let kserveV1: ModelServer
  beforeAll(async () => {
    ;[fp32, fp64, binary, logits, labels, kserveV1] = await Promise.all([
      startModelServer(),
      startModelServer({ datatype: 'FP64' }),
      startModelServer({ binary: true }),
      startModelServer({ output: 'logits', datatype: 'FP64' }),
      startModelServer({ output: 'label' }),
      startModelServer({ noTfMetadata: true }),
    ])
  })
  afterAll(async () => {
    await Promise.all([fp32, fp64, binary, logits, labels, kserveV1].map((s) => s.close()))
  })

  // Exact equality: JSON carries every float32 and float64 exactly (shortest round-trip digits), and the binary
  // extension carries the bytes; the oracle must add no arithmetic of its own.
  it('open-inference (JSON, FP32): info from the metadata; answers equal the float64 model rounded to float32, exactly', async () => {
    const o = await connect({ protocol: 'open-inference', url: fp32.url, model: 'mlp' })
    expect(o.info).toMatchObject({ id: `http:${new URL(fp32.url).host}/mlp`, inputDim: D, numClasses: K, output: 'probabilities' })
    const x = queries(10, 1)
    const p = await o.predict(x)()
    expect(E.isRight(p) && Array.from(p.right.scores!.data)).toEqual(Array.from(expected(x, 'probabilities', true)))
  })

  it('open-inference FP64 and the binary tensor extension: the same numbers, exactly', async () => {
    const x = queries(9, 2)
    const o64 = await connect({ protocol: 'open-inference', url: fp64.url, model: 'mlp', version: '1' })
    const p64 = await o64.predict(x)()
    expect(E.isRight(p64) && Array.from(p64.right.scores!.data)).toEqual(Array.from(expected(x, 'probabilities', false)))
    const ob = await connect({ protocol: 'open-inference', url: binary.url, model: 'mlp' })
    const pb = await ob.predict(x)()
    expect(E.isRight(pb) && Array.from(pb.right.scores!.data)).toEqual(Array.from(expected(x, 'probabilities', true)))
    // Forced off, the same server answers in JSON with the same numbers.
    const oj = await connect({ protocol: 'open-inference', url: binary.url, model: 'mlp', binaryData: false })
    const pj = await oj.predict(x)()
    expect(E.isRight(pj) && Array.from(pj.right.scores!.data)).toEqual(Array.from(expected(x, 'probabilities', true)))
  })

  it('tf-serving (metadata from /metadata) and KServe v1 (no /metadata: inputDim and numClasses given)', async () => {
    const x = queries(6, 3)
    const tf = await connect({ protocol: 'tf-serving', url: fp32.url, model: 'mlp' })
    expect(tf.info).toMatchObject({ inputDim: D, numClasses: K })
    const p = await tf.predict(x)()
    expect(E.isRight(p) && Array.from(p.right.scores!.data)).toEqual(Array.from(expected(x, 'probabilities', true)))
    const missing = await failure(fromHttp({ protocol: 'tf-serving', url: kserveV1.url, model: 'mlp' }))
    expect(missing._tag).toBe('InvalidOptions')
    expect(missing.message).toContain('inputDim')
    const v1 = await connect({ protocol: 'tf-serving', url: kserveV1.url, model: 'mlp', inputDim: D, numClasses: K })
    const q = await v1.predict(x)()
    expect(E.isRight(q) && Array.from(q.right.scores!.data)).toEqual(Array.from(expected(x, 'probabilities', true)))
  })

  it('json: the user encodes and decodes; a throwing decode is a BadResponse naming it', async () => {
    const x = queries(5, 4)
    const o = await connect({
      protocol: 'json',
      url: `${fp32.url}/score`,
      inputDim: D,
      numClasses: K,
      encode: (q) => ({ rows: Array.from({ length: q.rows }, (_, i) => Array.from(q.data.subarray(i * D, (i + 1) * D))) }),
      decode: (body) => (body as { scores: number[][] }).scores,
    })
    const p = await o.predict(x)()
    expect(E.isRight(p) && Array.from(p.right.scores!.data)).toEqual(Array.from(expected(x, 'probabilities', true)))
    const broken = await connect({ protocol: 'json', url: `${fp32.url}/score`, inputDim: D, numClasses: K, encode: (q) => ({ rows: [Array.from(q.data.subarray(0, D))] }), decode: () => { throw new Error('no scores field') } })
    const e = await failure(broken.predict(x))
    expect(e._tag).toBe('BadResponse')
    expect(e.message).toContain('decode function')
    expect(e.message).toContain('no scores field')
  })

  it("output 'logits' and 'label' (class indices with numClasses given; scores reduced to their argmax)", async () => {
    const x = queries(8, 5)
    const lo = await connect({ protocol: 'open-inference', url: logits.url, model: 'mlp', output: 'logits' })
    const pl = await lo.predict(x)()
    expect(E.isRight(pl) && Array.from(pl.right.scores!.data)).toEqual(Array.from(expected(x, 'logits', false)))
    const argmax = Array.from({ length: x.rows }, (_, i) => {
      const p = evaluate(x.data.subarray(i * D, (i + 1) * D)).probabilities
      return p.indexOf(Math.max(...p))
    })
    const needK = await failure(fromHttp({ protocol: 'open-inference', url: labels.url, model: 'mlp', output: 'label' }))
    expect(needK._tag === 'InvalidOptions' && needK.message).toContain('numClasses')
    const cls = await connect({ protocol: 'open-inference', url: labels.url, model: 'mlp', output: 'label', numClasses: K })
    const pc = await cls.predict(x)()
    expect(E.isRight(pc) && pc.right.scores).toBeUndefined()
    expect(E.isRight(pc) && Array.from(pc.right.labels)).toEqual(argmax)
    const reduced = await connect({ protocol: 'tf-serving', url: fp32.url, model: 'mlp', output: 'label' })
    const pr = await reduced.predict(x)()
    expect(E.isRight(pr) && Array.from(pr.right.labels)).toEqual(argmax)
  })

  it('splits a large query into maxBatchRows requests, at most `concurrency` in flight, reassembled in order', async () => {
    fp64.reset()
    fp64.faults = { latencyMs: 20 }
    const o = await connect({ protocol: 'open-inference', url: fp64.url, model: 'mlp', maxBatchRows: 50, concurrency: 3 })
    const x = queries(1000, 6)
    const p = await o.predict(x)()
    fp64.faults = {}
    expect(fp64.stats.inferRequests).toBe(20)
    expect(fp64.stats.maxInFlight).toBe(3)
    expect(fp64.rowsAnswered()).toBe(1000)
    expect(E.isRight(p) && Array.from(p.right.scores!.data)).toEqual(Array.from(expected(x, 'probabilities', false)))
  })

  it('validates every option before the first request: InvalidOptions lists every bad path', async () => {
    fp32.reset()
    const e = await failure(
      fromHttp({ protocol: 'open-inference', url: 'ftp://nowhere', model: '', timeoutMs: -1, concurrency: 0, maxBatchRows: 1.5, retries: -2, headrs: {} } as unknown as HttpOracleOptions),
    )
    expect(e._tag).toBe('InvalidOptions')
    const paths = e._tag === 'InvalidOptions' ? e.issues.map((i) => i.path).sort() : []
    expect(paths).toEqual(['options', 'options.concurrency', 'options.maxBatchRows', 'options.model', 'options.retries', 'options.timeoutMs', 'options.url'].sort())
    const noProtocol = await failure(fromHttp({ url: fp32.url, model: 'mlp' } as unknown as HttpOracleOptions))
    expect(noProtocol._tag === 'InvalidOptions' && noProtocol.issues[0]!.path).toBe('options.protocol')
    const jsonMissing = await failure(fromHttp({ protocol: 'json', url: fp32.url, numClasses: 2 } as unknown as HttpOracleOptions))
    expect(jsonMissing._tag === 'InvalidOptions' && jsonMissing.issues.map((i) => i.path).sort()).toEqual(['options.decode', 'options.encode', 'options.inputDim'])
    const wrongOutput = await failure(fromHttp({ protocol: 'open-inference', url: fp32.url, model: 'mlp', outputName: 'scores' }))
    expect(wrongOutput._tag === 'InvalidOptions' && wrongOutput.message).toContain("the model's outputs are 'probabilities'")
    // The retries' back-off is seeded: a seed that is not a safe integer is refused like any other option.
    const badSeed = await failure(fromHttp({ protocol: 'open-inference', url: fp32.url, model: 'mlp', seed: 1.5 }))
    expect(badSeed._tag === 'InvalidOptions' && badSeed.issues.map((i) => i.path)).toEqual(['options.seed'])
    expect(fp32.stats.inferRequests).toBe(0)
  })

  it('4xx is a BadResponse naming the status and the server’s error text; queries are validated before sending', async () => {
    const e = await failure(fromHttp({ protocol: 'open-inference', url: fp32.url, model: 'nope', retries: 5 }))
    expect(e._tag).toBe('BadResponse')
    expect(e.message).toContain('HTTP 404')
    expect(e.message).toContain('no route GET /v2/models/nope')
    const o = await connect({ protocol: 'open-inference', url: fp32.url, model: 'mlp', domain: { lower: -10, upper: 10 } })
    fp32.reset()
    const bad = queries(3, 7)
    bad.data[2 * D + 1] = 11
    const out = await failure(o.predict(bad))
    expect(out._tag === 'InvalidInput' && out.path).toBe('x[2][1]')
    expect(fp32.stats.inferRequests).toBe(0)
    const empty = await o.predict({ rows: 0, cols: D, data: new Float64Array(0) })()
    expect(E.isRight(empty) && empty.right.labels.length).toBe(0)
    expect(fp32.stats.inferRequests).toBe(0)
  })
})

describe('fromHttp: the oracle contract, each protocol', () => {
  const servers = { json: startModelServer(), binary: startModelServer({ binary: true }), fp64: startModelServer({ datatype: 'FP64' }) }
  afterAll(async () => {
    for (const s of Object.values(servers)) await (await s).close()
  })
  describeOracleContract('fromHttp open-inference (JSON, FP32)', async () => connect({ protocol: 'open-inference', url: (await servers.json).url, model: 'mlp' }))
  describeOracleContract('fromHttp open-inference (binary, FP32)', async () => connect({ protocol: 'open-inference', url: (await servers.binary).url, model: 'mlp' }))
  describeOracleContract('fromHttp open-inference (FP64, split into 2-row requests)', async () => connect({ protocol: 'open-inference', url: (await servers.fp64).url, model: 'mlp', maxBatchRows: 2 }))
  describeOracleContract('fromHttp tf-serving', async () => connect({ protocol: 'tf-serving', url: (await servers.json).url, model: 'mlp' }))
  describeOracleContract('fromHttp json', async () =>
    connect({
      protocol: 'json',
      url: `${(await servers.fp64).url}/score`,
      inputDim: D,
      numClasses: K,
      domain: { lower: -6, upper: 6 },
      encode: (q) => ({ rows: Array.from({ length: q.rows }, (_, i) => Array.from(q.data.subarray(i * D, (i + 1) * D))) }),
      decode: (body) => (body as { scores: number[][] }).scores,
    }),
  )
})

describe('fromHttp: rows', () => {
  it('fromRows queries work end to end', async () => {
    const s = await startModelServer()
    try {
      const o = await connect({ protocol: 'tf-serving', url: s.url, model: 'mlp' })
      const p = await o.predict(fromRows([[0, 0, 0, 0]]))()
      expect(E.isRight(p) && p.right.labels.length).toBe(1)
    } finally {
      await s.close()
    }
  })
})
