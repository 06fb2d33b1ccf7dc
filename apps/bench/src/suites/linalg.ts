import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, homedir, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { either as E } from 'fp-ts'
import { CholeskyDecomposition, LuDecomposition, Matrix as MlMatrix } from 'ml-matrix'
import { createRng, type Matrix } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { downsampleImages, loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { choleskySubstitute, choleskyTask, cholesky, gramBlocks, kernelsAvailable, luFactor } from '@sonde/linalg'
import { prepareInverseHvp } from '@sonde/influence'
import { table, type SuiteResult } from '../measure.js'

const here = dirname(fileURLToPath(import.meta.url))
const venv = process.env.SONDE_PYTHON_PEERS ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sonde/python-peers')

/** The numpy/scipy peer: one Python process (scripts/linalg_peer.py), one thread of OpenBLAS. */
interface Peer {
  readonly ask: (cmd: Record<string, unknown>) => Promise<{ ms?: number; check?: number; error?: string; [k: string]: unknown }>
  readonly close: () => void
}

const startPeer = (): Peer | string => {
  const python = join(venv, 'bin/python')
  if (!existsSync(python)) return `no Python venv at ${venv} (make it with \`bash apps/bench/scripts/python-peers.sh\`): the numpy/scipy columns are skipped`
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' }
  const child: ChildProcessWithoutNullStreams = spawn(python, [resolve(here, '../../scripts/linalg_peer.py')], { env, stdio: ['pipe', 'pipe', 'pipe'] })
  const lines = createInterface({ input: child.stdout })
  const waiting: Array<(line: string) => void> = []
  lines.on('line', (l) => waiting.shift()?.(l))
  child.on('exit', () => {
    for (const w of waiting.splice(0)) w(JSON.stringify({ error: 'the Python peer exited' }))
  })
  return {
    ask: (cmd) =>
      new Promise((ok) => {
        waiting.push((l) => ok(JSON.parse(l)))
        child.stdin.write(`${JSON.stringify(cmd)}\n`)
      }),
    close: () => child.kill(),
  }
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Softmax probabilities of every row. */
const probabilities = (model: SoftmaxRegression, x: Matrix): Float64Array => {
  const z = model.logits(x)
  const k = z.cols
  const mu = new Float64Array(z.rows * k)
  for (let i = 0; i < z.rows; i++) {
    let top = -Infinity
    for (let c = 0; c < k; c++) top = Math.max(top, z.data[i * k + c]!)
    let s = 0
    for (let c = 0; c < k; c++) s += Math.exp(z.data[i * k + c]! - top)
    for (let c = 0; c < k; c++) mu[i * k + c] = Math.exp(z.data[i * k + c]! - top) / s
  }
  return mu
}

/** [X, 1]: the design matrix with its bias column. */
const withBias = (x: Matrix): Matrix => {
  const e = x.cols + 1
  const out = new Float64Array(x.rows * e)
  for (let i = 0; i < x.rows; i++) {
    out.set(x.data.subarray(i * x.cols, (i + 1) * x.cols), i * e)
    out[i * e + x.cols] = 1
  }
  return { rows: x.rows, cols: e, data: out }
}

/**
 * The softmax Hessian's lower triangle through @sonde/linalg's gramBlocks — what influence's exact method does
 * (packages/influence/src/hessian.ts), written here on the public API so the suite times the kernel itself.
 */
const softmaxHessian = async (xt: Matrix, mu: Float64Array, k: number, l2: number): Promise<Matrix> => {
  const n = xt.rows
  const e = xt.cols
  const d = e - 1
  const p = k * e
  const pairs: Array<readonly [number, number]> = []
  for (let c1 = 0; c1 < k; c1++) for (let c2 = 0; c2 <= c1; c2++) pairs.push([c1, c2])
  const weights = pairs.map(([c1, c2]) => Float64Array.from({ length: n }, (_, i) => (mu[i * k + c1]! * ((c1 === c2 ? 1 : 0) - mu[i * k + c2]!)) / n))
  const h = new Float64Array(p * p)
  const pos = (c: number, a: number): number => (a < d ? c * d + a : k * d + c)
  const r = await gramBlocks(xt, weights, (q, g) => {
    const [c1, c2] = pairs[q]!
    for (let a = 0; a < e; a++) {
      for (let b = 0; b < e; b++) {
        const row = pos(c1, a)
        const col = pos(c2, b)
        if (row >= col) h[row * p + col] = g.data[a * e + b]!
        else if (c1 !== c2) h[col * p + row] = g.data[a * e + b]!
      }
    }
  })
  if (E.isLeft(r)) throw new Error(r.left.message)
  for (let i = 0; i < p; i++) h[i * p + i]! += l2
  return { rows: p, cols: p, data: h }
}

const trace = (h: Matrix): number => {
  let s = 0
  for (let i = 0; i < h.rows; i++) s += h.data[i * h.cols + i]!
  return s
}
const logDet = (l: Matrix): number => {
  let s = 0
  for (let i = 0; i < l.rows; i++) s += Math.log(l.data[i * l.cols + i]!)
  return 2 * s
}

interface Case {
  readonly name: string
  readonly x: Matrix
  readonly y: Int32Array
  readonly l2: number
  readonly reps: number
}

/**
 * Dense float64 kernels against numpy/scipy (OpenBLAS, one thread) on the Hessians influence factors:
 * softmax regression on MNIST, p = 1,970 (14 × 14 digits, n = 1,200) and p = 7,850 (28 × 28, n = 5,040).
 */
export const linalg = async (): Promise<SuiteResult> => {
  const avail = await kernelsAvailable()
  const peer = startPeer()
  const notes: string[] = []
  if (typeof peer === 'string') notes.push(`**Peers skipped**: ${peer}.`)
  const versions = typeof peer === 'string' ? undefined : await peer.ask({ op: 'versions' })
  const dir = mkdtempSync(join(tmpdir(), 'sonde-linalg-'))
  const mnist = loadMnist()
  const small = downsampleImages(mnist, { width: 28, height: 28, factor: 2 })
  const { train: idxSmall } = stratifiedSplit(small.y, { testFraction: 0.5, seed: 11, limit: 1200 })
  const smallSet = subset(small, idxSmall)
  const { train: idxBig } = stratifiedSplit(mnist.y, { testFraction: 0.1, seed: 1, limit: 5600 })
  const bigSet = subset(mnist, idxBig)
  const cases: Case[] = [
    { name: 'p = 1,970', x: smallSet.x, y: smallSet.y, l2: 0.001, reps: 3 },
    { name: 'p = 7,850', x: bigSet.x, y: bigSet.y, l2: 0.01, reps: 1 },
  ]
  const rows: Array<Array<string | number>> = []
  const ratioRows: Array<Array<string | number>> = []
  let prep: { ms: number; n: number } | undefined
  try {
    for (const c of cases) {
      console.log(`  ${c.name}: fitting …`)
      const model = SoftmaxRegression.fit(c.x, c.y, { l2: c.l2 })
      if (E.isLeft(model)) throw new Error(model.left.message)
      const m = model.right.model
      const k = m.info.numClasses
      const mu = probabilities(m, c.x)
      const xt = withBias(c.x)
      const p = k * xt.cols
      if (typeof peer !== 'string') {
        writeFileSync(join(dir, 'x.bin'), xt.data)
        writeFileSync(join(dir, 'mu.bin'), mu)
        await peer.ask({ op: 'load', x: join(dir, 'x.bin'), mu: join(dir, 'mu.bin'), n: xt.rows, e: xt.cols, k })
      }
      const t: Record<string, number[]> = { hess: [], hessPy: [], chol2: [], chol1: [], cholPy: [], solve: [], solvePy: [] }
      let checks = { trace: 0, tracePy: Number.NaN, logdet: 0, logdetPy: Number.NaN }
      const rng = createRng(3)
      const b = Float64Array.from({ length: p }, () => rng.normal())
      writeFileSync(join(dir, 'b.bin'), b)
      // Interleaved: ours, then the peer, repetition by repetition.
      for (let r = 0; r < c.reps; r++) {
        console.log(`  ${c.name}: repetition ${r + 1} of ${c.reps} …`)
        let t0 = performance.now()
        const h = await softmaxHessian(xt, mu, k, c.l2)
        t.hess!.push(performance.now() - t0)
        checks.trace = trace(h)
        if (typeof peer !== 'string') {
          const a = await peer.ask({ op: 'hessian', l2: c.l2 })
          t.hessPy!.push(a.ms ?? Number.NaN)
          checks.tracePy = a.check ?? Number.NaN
        }
        t0 = performance.now()
        const l2t = await choleskyTask(h, { parallel: true })
        t.chol2!.push(performance.now() - t0)
        if (E.isLeft(l2t)) throw new Error(l2t.left.message)
        checks.logdet = logDet(l2t.right)
        t0 = performance.now()
        const l1 = cholesky(h) // one core, always
        t.chol1!.push(performance.now() - t0)
        if (E.isLeft(l1)) throw new Error(l1.left.message)
        if (typeof peer !== 'string') {
          const a = await peer.ask({ op: 'cholesky' })
          t.cholPy!.push(a.ms ?? Number.NaN)
          checks.logdetPy = a.check ?? Number.NaN
        }
        t0 = performance.now()
        choleskySubstitute(l2t.right.data, p, b)
        t.solve!.push(performance.now() - t0)
        if (typeof peer !== 'string') t.solvePy!.push((await peer.ask({ op: 'solve', b: join(dir, 'b.bin') })).ms ?? Number.NaN)
      }
      const med = Object.fromEntries(Object.entries(t).map(([key, v]) => [key, v.length === 0 ? Number.NaN : median(v)]))
      rows.push([c.name, 'Hessian build (softmax, 55 weighted Grams)', med.hess! / 1000, med.hessPy! / 1000, med.hess! / med.hessPy!, `trace ${checks.trace.toPrecision(10)} / ${checks.tracePy.toPrecision(10)}`])
      rows.push([c.name, 'Cholesky, both cores (choleskyTask, parallel: true)', med.chol2! / 1000, med.cholPy! / 1000, med.chol2! / med.cholPy!, `log det ${checks.logdet.toPrecision(10)} / ${checks.logdetPy.toPrecision(10)}`])
      rows.push([c.name, 'Cholesky, one core (cholesky)', med.chol1! / 1000, med.cholPy! / 1000, med.chol1! / med.cholPy!, ''])
      rows.push([c.name, 'solve L Lᵀ x = b', med.solve! / 1000, med.solvePy! / 1000, med.solve! / med.solvePy!, ''])
      ratioRows.push([c.name, med.hess! / med.hessPy!, Math.min(med.chol2!, med.chol1!) / med.cholPy!, med.chol1! / med.cholPy!])
      if (typeof peer !== 'string') await peer.ask({ op: 'free' })
      if (c.name === 'p = 7,850') {
        // The influence suite's exact preparation (Hessian + Cholesky through prepareInverseHvp), same setting.
        console.log('  p = 7,850: influence exact preparation …')
        const t0 = performance.now()
        const inv = await prepareInverseHvp(m, { x: c.x, y: c.y }, { method: 'exact' })()
        if (E.isLeft(inv)) throw new Error(inv.left.message)
        prep = { ms: performance.now() - t0, n: c.x.rows }
      }
    }

    // LU (inverse classification's Newton systems are K × K or K + 1): ours, ml-matrix and scipy.lu_factor.
    const luRows: Array<Array<string | number>> = []
    for (const n of [100, 1000]) {
      const rng = createRng(n)
      const a = { rows: n, cols: n, data: Float64Array.from({ length: n * n }, () => rng.normal()) }
      writeFileSync(join(dir, 'a.bin'), a.data)
      const reps = n <= 100 ? 20 : 3
      const ours: number[] = []
      const ml: number[] = []
      const py: number[] = []
      const ma = new MlMatrix(Array.from({ length: n }, (_, i) => Array.from(a.data.subarray(i * n, (i + 1) * n))))
      for (let r = 0; r < reps; r++) {
        let t0 = performance.now()
        luFactor(a)
        ours.push(performance.now() - t0)
        t0 = performance.now()
        void new LuDecomposition(ma)
        ml.push(performance.now() - t0)
        if (typeof peer !== 'string') py.push((await peer.ask({ op: 'lu', a: join(dir, 'a.bin'), n })).ms ?? Number.NaN)
      }
      luRows.push([`LU, n = ${n}`, median(ours), median(ml), py.length === 0 ? Number.NaN : median(py), median(ours) / median(ml), py.length === 0 ? Number.NaN : median(ours) / median(py)])
    }
    // ml-matrix's Cholesky against ours at p = 500 (its arrays of rows; p = 1,970 takes it minutes).
    {
      const n = 500
      const rng = createRng(5)
      const a = new Float64Array(n * n)
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i] = 2 * rng.next() - 1
        a[i * n + i] = n + 1
      }
      const ma = new MlMatrix(Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n))))
      const ours: number[] = []
      const ml: number[] = []
      for (let r = 0; r < 5; r++) {
        let t0 = performance.now()
        cholesky({ rows: n, cols: n, data: a })
        ours.push(performance.now() - t0)
        t0 = performance.now()
        void new CholeskyDecomposition(ma)
        ml.push(performance.now() - t0)
      }
      luRows.push([`Cholesky, p = ${n}`, median(ours), median(ml), Number.NaN, median(ours) / median(ml), Number.NaN])
    }

    const peerName = versions === undefined ? 'numpy/scipy (skipped)' : `numpy ${String(versions.numpy)} / scipy ${String(versions.scipy)} (${String(versions.blas)}, 1 thread)`
    const markdown = [
      `Kernels: WebAssembly SIMD ${avail.simd ? 'on' : 'off'}, helper thread ${avail.threads ? 'available' : 'missing'}; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores at the start (the Hessian build and influence's preparation use the helper only while a core is idle: parallel 'auto'). Peer: ${peerName}. Both sides factor the same softmax Hessian (built from the same X̃ and probabilities; the trace and log-determinant columns agree).`,
      ...notes,
      '',
      table(['size', 'kernel', 'Sonde (s)', 'numpy/scipy (s)', 'Sonde / peer', 'cross-check (ours / peer)'], rows),
      '',
      `**Goals** (ratio Sonde / peer; goal in brackets): ${ratioRows.map(([name, h, c2]) => `${String(name)}: Hessian ${(h as number).toFixed(2)}× [≤ 2], Cholesky ${(c2 as number).toFixed(2)}× [≤ 4] (the faster of one and both cores)`).join('; ')}.`,
      prep === undefined ? '' : `**Influence exact preparation** at p = 7,850 (prepareInverseHvp, n = ${prep.n}, Hessian + Cholesky): **${(prep.ms / 1000).toFixed(1)} s** (was 141 s in the influence suite; goal ≤ 40 s).`,
      '',
      '**Small dense kernels** (ms, median): ours against ml-matrix and scipy:',
      '',
      table(['kernel', 'Sonde (ms)', 'ml-matrix (ms)', 'scipy (ms)', 'Sonde / ml-matrix', 'Sonde / scipy'], luRows),
    ].join('\n')
    return {
      title: 'Dense float64 kernels against numpy/scipy (OpenBLAS, one thread)',
      description: 'Softmax-regression Hessians of MNIST (p = 1,970: 14 × 14 digits, n = 1,200, L2 = 0.001; p = 7,850: n = 5,040, L2 = 0.01): the XᵀDX build, the Cholesky factor and one solve, ours and the Python peer interleaved in one run (the peer is a process of its own, pinned to one OpenBLAS thread; ours uses both cores where it says so). `bash apps/bench/scripts/python-peers.sh` makes the venv; without it the peer columns are NaN.',
      markdown,
    }
  } finally {
    if (typeof peer !== 'string') peer.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
