import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const cliRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
export const bin = join(cliRoot, 'dist/bin.js')
export const oracleModule = join(cliRoot, 'test/fixtures/oracle.mjs')

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'sonde-cli-'))

export interface Ran {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** Start the built CLI as a child process in `cwd`. */
export const start = (args: readonly string[], o: { cwd: string; env?: Record<string, string> }): { child: ChildProcess; done: Promise<Ran>; stderr: () => string } => {
  const t0 = performance.now()
  const child = spawn(process.execPath, [bin, ...args], { cwd: o.cwd, env: { ...process.env, NO_COLOR: '1', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const done = new Promise<Ran>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 })))
  return { child, done, stderr: () => stderr }
}

/** Run the built CLI to the end. */
export const sonde = (args: readonly string[], o: { cwd: string; env?: Record<string, string> }): Promise<Ran> => start(args, o).done

/** The rows a model answered, from the count file the fixture oracle writes: total, and rows asked more than once. */
export const countRows = (file: string): { rows: number; calls: number; repeated: number } => {
  if (!existsSync(file)) return { rows: 0, calls: 0, repeated: 0 }
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
  const seen = new Map<string, number>()
  let rows = 0
  for (const l of lines) {
    const [kind, n, hashes] = l.split(' ')
    rows += Number(n)
    for (const h of (hashes ?? '').split(',')) seen.set(`${kind}:${h}`, (seen.get(`${kind}:${h}`) ?? 0) + 1)
  }
  return { rows, calls: lines.length, repeated: [...seen.values()].filter((c) => c > 1).reduce((a, c) => a + c - 1, 0) }
}

export const readJson = <T = Record<string, unknown>>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T

/** A small Open Inference v2 server (node:http) for a 4-feature, 3-class softmax model, counting the rows it answers. */
export interface ModelServer {
  readonly url: string
  readonly rows: () => number
  /** Requests received at /infer (answered or not). */
  readonly inferRequests: () => number
  /** Answer every inference request with this HTTP status from now on (e.g. 503), or normally (undefined). */
  readonly failWith: (status: number | undefined) => void
  /** Rows answered more than once (a row is its 4 values, exactly). */
  readonly repeated: () => number
  /** Called when an inference request arrives; return 'drop' to leave it unanswered (its socket destroyed). */
  onInfer?: ((n: number) => 'drop' | undefined) | undefined
  readonly close: () => Promise<void>
}

export const startModelServer = async (o: { latencyMs?: number } = {}): Promise<ModelServer> => {
  const D = 4
  const K = 3
  const W = [1.5, -2, 0.5, 1, -1, 1, 2, -0.5, 0.3, 0.8, -1.2, 2.2]
  const b = [0.1, -0.2, 0.05]
  let rows = 0
  let requests = 0
  let status: number | undefined
  const seen = new Map<string, number>()
  const meta = { name: 'm', platform: 'sonde-test', inputs: [{ name: 'x', datatype: 'FP64', shape: [-1, D] }], outputs: [{ name: 'p', datatype: 'FP64', shape: [-1, K] }] }
  const server: Server = createServer((req, res) => {
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    const url = req.url ?? ''
    if (req.method === 'GET' && url === '/v2') return send(200, { name: 'sonde-test', version: '1', extensions: [] })
    if (req.method === 'GET' && url === '/v2/models/m/ready') return send(200, { name: 'm', ready: true })
    if (req.method === 'GET' && url === '/v2/models/m') return send(200, meta)
    if (req.method === 'POST' && url === '/v2/models/m/infer') {
      let body = ''
      req.on('data', (d: Buffer) => (body += d.toString()))
      req.on('end', () => {
        requests++
        if (out.onInfer?.(requests) === 'drop') {
          req.socket.destroy()
          return
        }
        if (status !== undefined) return send(status, { error: 'unavailable' })
        const answer = (): void => {
          const input = (JSON.parse(body) as { inputs: { shape: number[]; data: number[] }[] }).inputs[0]!
          const n = input.shape[0]!
          const p: number[] = []
          for (let i = 0; i < n; i++) {
            const z = Array.from({ length: K }, (_, c) => b[c]! + Array.from({ length: D }, (_, j) => W[c * D + j]! * input.data[i * D + j]!).reduce((a, v) => a + v, 0))
            const m = Math.max(...z)
            const e = z.map((v) => Math.exp(v - m))
            const s = e.reduce((a, v) => a + v, 0)
            p.push(...e.map((v) => v / s))
          }
          rows += n
          for (let i = 0; i < n; i++) {
            const key = input.data.slice(i * D, (i + 1) * D).join(',')
            seen.set(key, (seen.get(key) ?? 0) + 1)
          }
          send(200, { model_name: 'm', outputs: [{ name: 'p', datatype: 'FP64', shape: [n, K], data: p }] })
        }
        if (o.latencyMs !== undefined) setTimeout(answer, o.latencyMs)
        else answer()
      })
      return
    }
    send(404, { error: `no route ${req.method} ${url}` })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  const out: ModelServer = {
    url: `http://127.0.0.1:${port}`,
    rows: () => rows,
    repeated: () => [...seen.values()].reduce((a, c) => a + c - 1, 0),
    inferRequests: () => requests,
    failWith: (s) => (status = s),
    close: () => new Promise<void>((r) => {
      server.closeAllConnections()
      server.close(() => r())
    }),
  }
  return out
}
