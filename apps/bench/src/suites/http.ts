import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRng, toPromise, type Matrix } from '@sonde/oracle'
import { fromHttp } from '@sonde/oracle/http'
import { table, type SuiteResult } from '../measure.js'

const D = 32
const K = 10

/**
 * `fromHttp` against a local Open Inference v2 server (node:http, in this process, JSON FP64) serving a 32 → 10
 * linear-softmax model with a fixed server latency per request: rows/s at batch 1 / 64 / 256 × concurrency 1 / 4 / 8
 * with 10 ms latency; the client's overhead per row against calling the model in process (0 ms latency); and the
 * speed-up of concurrency 8 over 1 at batch 64.
 */
export const httpAdapter = async (): Promise<SuiteResult> => {
  const rng = createRng(1)
  const w = Float64Array.from({ length: K * D }, () => rng.normal() / Math.sqrt(D))
  const model = (x: ArrayLike<number>, rows: number): Float64Array => {
    const out = new Float64Array(rows * K)
    for (let i = 0; i < rows; i++) {
      let m = -Infinity
      for (let c = 0; c < K; c++) {
        let s = 0
        for (let j = 0; j < D; j++) s += w[c * D + j]! * x[i * D + j]!
        out[i * K + c] = s
        m = Math.max(m, s)
      }
      let sum = 0
      for (let c = 0; c < K; c++) sum += out[i * K + c] = Math.exp(out[i * K + c]! - m)
      for (let c = 0; c < K; c++) out[i * K + c]! /= sum
    }
    return out
  }
  let latencyMs = 10
  const meta = { name: 'linear', platform: 'bench', inputs: [{ name: 'x', datatype: 'FP64', shape: [-1, D] }], outputs: [{ name: 'p', datatype: 'FP64', shape: [-1, K] }] }
  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => {
      const reply = (v: unknown): void => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(v))
      }
      if (req.method === 'GET') return reply(req.url?.endsWith('/ready') === true ? { ready: true } : req.url === '/v2' ? { extensions: [] } : meta)
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { inputs: Array<{ shape: number[]; data: number[] }> }
      const input = body.inputs[0]!
      const out = model(input.data, input.shape[0]!)
      setTimeout(() => reply({ model_name: 'linear', outputs: [{ name: 'p', shape: [input.shape[0], K], datatype: 'FP64', data: Array.from(out) }] }), latencyMs)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const requests = 48
  const queryOf = (rows: number): Matrix => ({ rows, cols: D, data: Float64Array.from({ length: rows * D }, () => rng.normal()) })

  const rowsPerSecond = async (batch: number, concurrency: number, repetitions = 3): Promise<number> => {
    const o = await toPromise(fromHttp({ protocol: 'open-inference', url, model: 'linear', maxBatchRows: batch, concurrency, timeoutMs: 30_000 }))
    const x = queryOf(requests * batch)
    await toPromise(o.predict(queryOf(batch))) // warm the connection pool
    const times: number[] = []
    for (let r = 0; r < repetitions; r++) {
      const t0 = performance.now()
      await toPromise(o.predict(x))
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    return x.rows / (times[Math.floor(times.length / 2)]! / 1000)
  }

  try {
    const rows: Array<Array<string | number>> = []
    const measured = new Map<string, number>()
    for (const batch of [1, 64, 256]) {
      const line: Array<string | number> = [batch]
      for (const c of [1, 4, 8]) {
        const v = await rowsPerSecond(batch, c)
        measured.set(`${batch}/${c}`, v)
        line.push(Math.round(v))
      }
      rows.push(line)
    }
    const speedUp = measured.get('64/8')! / measured.get('64/1')!

    // Overhead per row: the same rows through fromHttp with no server latency (batch 256, concurrency 1), against
    // the model called in process.
    latencyMs = 0
    const http0 = await rowsPerSecond(256, 1, 5)
    const x = queryOf(requests * 256)
    const t0 = performance.now()
    for (let r = 0; r < 5; r++) model(x.data, x.rows)
    const inProcessUs = ((performance.now() - t0) / 5 / x.rows) * 1000
    const httpUs = 1e6 / http0
    return {
      title: 'HTTP adapter (fromHttp) throughput',
      description: `fromHttp against a local Open Inference v2 server (node:http in the same process, JSON, FP64) serving a ${D} → ${K} linear-softmax model; each query is ${requests} requests of \`batch\` rows (maxBatchRows), \`concurrency\` in flight; median of 3. Server latency 10 ms per request.`,
      markdown: [
        table(['batch', 'rows/s, concurrency 1', 'rows/s, concurrency 4', 'rows/s, concurrency 8'], rows),
        '',
        `Speed-up of concurrency 8 over 1 at batch 64: **${speedUp.toFixed(2)}×** (goal ≥ 5×).`,
        '',
        table(
          ['path (0 ms server latency, batch 256)', 'µs/row', 'overhead µs/row'],
          [
            ['model called in process', inProcessUs.toFixed(3), '—'],
            ['fromHttp → JSON → server → JSON', httpUs.toFixed(3), (httpUs - inProcessUs).toFixed(3)],
          ],
        ),
      ].join('\n'),
    }
  } finally {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  }
}
