import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { either as E } from 'fp-ts'
import { createRng } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { inverseSoftmax, prepareSoftmax, softmaxLogits, DEFAULT_MARGIN, type InverseOptions, type PreparedSoftmax, type SoftmaxModel } from '@sonde/inverse-classification'
import { formatNumber, table, type SuiteResult } from '../measure.js'

type Solver = (x0: Float64Array, target: number) => Float64Array

const logits = (m: SoftmaxRegression, x: Float64Array): Float64Array => {
  const { rows: k, cols: d, data: w } = m.weights
  return Float64Array.from({ length: k }, (_, c) => {
    let s = m.bias[c]!
    for (let i = 0; i < d; i++) s += w[c * d + i]! * x[i]!
    return s
  })
}

const valid = (m: SoftmaxRegression, x: Float64Array, target: number, margin: number): boolean => {
  const z = logits(m, x)
  return z.every((v, j) => j === target || z[target]! - v >= margin - 1e-9)
}

/**
 * Wachter et al.'s penalty method as DiCE/Alibi use it: minimise ‖x − x0‖² + C·Σⱼ max(0, ε − (f_t − f_j))²
 * with Adam, multiplying C by 10 until the answer is valid.
 */
const wachterAdam =
  (m: SoftmaxRegression, margin: number, steps = 500): Solver =>
  (x0, target) => {
    const { rows: k, cols: d, data: w } = m.weights
    let x = x0.slice()
    for (let c = 1; c <= 1e6; c *= 10) {
      x = x0.slice()
      const mom = new Float64Array(d)
      const vel = new Float64Array(d)
      const lr = 0.01
      for (let s = 1; s <= steps; s++) {
        const z = logits(m, x)
        const g = x.map((v, i) => 2 * (v - x0[i]!))
        for (let j = 0; j < k; j++) {
          if (j === target) continue
          const viol = margin - (z[target]! - z[j]!)
          if (viol <= 0) continue
          for (let i = 0; i < d; i++) g[i]! += 2 * c * viol * -(w[target * d + i]! - w[j * d + i]!)
        }
        for (let i = 0; i < d; i++) {
          mom[i] = 0.9 * mom[i]! + 0.1 * g[i]!
          vel[i] = 0.999 * vel[i]! + 0.001 * g[i]! * g[i]!
          x[i]! -= (lr * (mom[i]! / (1 - 0.9 ** s))) / (Math.sqrt(vel[i]! / (1 - 0.999 ** s)) + 1e-8)
        }
      }
      if (valid(m, x, target, margin)) break
    }
    return x
  }

/**
 * A generic QP solver that does not use the structure (no M = WWᵀ, no active set): accelerated
 * projected gradient (FISTA) on the dual max_{λ≥0} of the projection onto {Ax + c ≥ 0}, with one
 * product by A and one by Aᵀ per iteration, run until the KKT residual is ≤ 1e-10 (or 20,000 steps).
 */
const genericDualFista =
  (m: SoftmaxRegression, margin: number): Solver =>
  (x0, target) => {
    const { rows: k, cols: d, data: w } = m.weights
    const comps = Array.from({ length: k - 1 }, (_, j) => (j < target ? j : j + 1))
    const ax = (x: Float64Array): Float64Array =>
      Float64Array.from(comps, (c) => {
        let s = m.bias[target]! - m.bias[c]! - margin
        for (let i = 0; i < d; i++) s += (w[target * d + i]! - w[c * d + i]!) * x[i]!
        return s
      })
    const atl = (l: Float64Array): Float64Array => {
      const x = x0.slice()
      comps.forEach((c, j) => {
        if (l[j] === 0) return
        for (let i = 0; i < d; i++) x[i]! += l[j]! * (w[target * d + i]! - w[c * d + i]!)
      })
      return x
    }
    // Lipschitz constant of the dual gradient: ‖A‖², by 30 power iterations on AᵀA.
    let v: Float64Array = Float64Array.from({ length: k - 1 }, () => 1)
    let lip = 1
    for (let it = 0; it < 30; it++) {
      const u = atl(v).map((val, i) => val - x0[i]!)
      const av = ax(Float64Array.from(x0.map((val, i) => val + u[i]!)))
      const base = ax(x0)
      const next = av.map((val, j) => val - base[j]!)
      lip = Math.hypot(...next) / Math.hypot(...v)
      v = next.map((val) => val / Math.hypot(...next))
    }
    let lam: Float64Array = new Float64Array(k - 1)
    let y: Float64Array = lam.slice()
    let t = 1
    let x: Float64Array = x0.slice()
    for (let it = 0; it < 20_000; it++) {
      x = atl(y)
      const g = ax(x)
      const next = y.map((val, j) => Math.max(0, val - g[j]! / lip))
      const tn = (1 + Math.sqrt(1 + 4 * t * t)) / 2
      y = next.map((val, j) => val + ((t - 1) / tn) * (val - lam[j]!))
      lam = next
      t = tn
      if (it % 20 === 0) {
        x = atl(lam)
        const s = ax(x)
        const kkt = Math.max(...s.map((val, j) => Math.max(-val, Math.abs(lam[j]! * val))))
        if (kkt <= 1e-10) break
      }
    }
    return atl(lam)
  }

/** One pass over W: the logits W x + b, summed as Sonde's solvers sum them. */
const passOver = softmaxLogits

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const p95 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(0.95 * xs.length))]!


const scripts = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts')

/** The venv python of apps/bench/scripts/python-peers.sh, if it exists and imports cvxpy and SciPy. */
const peerPython = (): { python?: string; why: string } => {
  const venv = process.env.SONDE_PYTHON_PEERS ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sonde', 'python-peers')
  const python = join(venv, 'bin', 'python')
  if (!existsSync(python)) return { why: `no Python venv at ${venv}: run \`bash apps/bench/scripts/python-peers.sh\` to build it (numpy, SciPy, cvxpy with Clarabel from pip)` }
  const check = spawnSync(python, ['-c', 'import numpy, scipy, cvxpy, clarabel'], { encoding: 'utf8' })
  if (check.status !== 0) return { why: `the venv at ${venv} does not import numpy, scipy, cvxpy and clarabel (${check.stderr.trim().split('\n').pop()}): run \`bash apps/bench/scripts/python-peers.sh\`` }
  return { python, why: '' }
}

interface PeerProblem {
  readonly x0: Float64Array
  readonly target: number
  readonly margin?: number
  readonly probability?: number
  readonly lower?: Float64Array
  readonly upper?: Float64Array
  readonly immutable?: readonly number[]
}
interface PeerSet {
  readonly name: string
  readonly model: SoftmaxModel
  readonly solvers: ReadonlyArray<'clarabel' | 'clarabel_tight' | 'slsqp'>
  readonly problems: readonly PeerProblem[]
  /** One untimed solve before the timed ones (default true). */
  readonly warmup?: boolean
}
interface PeerAnswer {
  readonly status: string
  readonly seconds: number
  readonly solver_seconds?: number
  readonly x?: number[]
}

/** Run the Python peers on the sets (one process; W, b, x0, target, bounds passed as JSON, every double exact). */
const runPeers = (python: string, sets: readonly PeerSet[]): Array<Record<string, PeerAnswer[]>> => {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-inverse-peers-'))
  try {
    const boundsOf = (p: PeerProblem, side: 'lower' | 'upper'): Array<number | null> | undefined => {
      const v = p[side]
      if (v === undefined) return undefined
      return Array.from(v, (u, i) => (p.immutable?.includes(i) ? p.x0[i]! : Number.isFinite(u) ? u : null))
    }
    const spec = {
      sets: sets.map((s) => ({
        name: s.name,
        d: s.model.weights.cols,
        k: s.model.weights.rows,
        w: Array.from(s.model.weights.data),
        b: Array.from(s.model.bias),
        solvers: s.solvers,
        warmup: s.warmup ?? true,
        problems: s.problems.map((p) => ({
          x0: Array.from(p.x0),
          target: p.target,
          ...(p.probability !== undefined ? { probability: p.probability } : { margin: p.margin ?? DEFAULT_MARGIN }),
          ...(p.lower !== undefined || p.immutable?.length ? { lower: boundsOf({ ...p, lower: p.lower ?? new Float64Array(p.x0.length).fill(-Infinity) }, 'lower') } : {}),
          ...(p.upper !== undefined || p.immutable?.length ? { upper: boundsOf({ ...p, upper: p.upper ?? new Float64Array(p.x0.length).fill(Infinity) }, 'upper') } : {}),
        })),
      })),
    }
    writeFileSync(join(dir, 'in.json'), JSON.stringify(spec))
    const run = spawnSync(python, [join(scripts, 'inverse_peers.py'), join(dir, 'in.json'), join(dir, 'out.json')], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'inherit'], maxBuffer: 1 << 28 })
    if (run.status !== 0) throw new Error(`the Python peers failed (exit ${run.status})`)
    const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { sets: Array<{ results: Record<string, PeerAnswer[]> }> }
    return out.sets.map((s) => s.results)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Sonde's time for one problem: the median of `reps` calls on a prepared model (after one untimed call). */
const sondeTime = (prep: PreparedSoftmax, p: PeerProblem, reps: number): { ms: number; distance: number; kkt: number; tag: string } => {
  const options: InverseOptions = {
    target: p.target,
    ...(p.probability !== undefined ? { probability: p.probability } : { margin: p.margin ?? DEFAULT_MARGIN }),
    ...(p.lower !== undefined && p.upper !== undefined ? { domain: { lower: p.lower, upper: p.upper } } : {}),
    ...(p.immutable?.length ? { immutable: p.immutable } : {}),
  }
  let r = inverseSoftmax(prep, p.x0, options)
  const times: number[] = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    r = inverseSoftmax(prep, p.x0, options)
    times.push(performance.now() - t0)
  }
  return E.isLeft(r) ? { ms: median(times), distance: Number.NaN, kkt: Number.NaN, tag: r.left._tag } : { ms: median(times), distance: r.right.distance, kkt: r.right.kktResidual, tag: 'Right' }
}

const distanceOf = (x: readonly number[], x0: Float64Array): number => Math.sqrt(x.reduce((s, v, i) => s + (v - x0[i]!) ** 2, 0))

/**
 * The slow tier's random bounded probability problems (packages/inverse-classification/test/probability-reference.ts,
 * boxedProbabilityProblem — the same definition, so the same 1,000 problems).
 */
const boxedProbabilityProblem = (seed: number): { model: SoftmaxModel; problem: PeerProblem } => {
  const rng = createRng(seed)
  const d = 2 + rng.int(30)
  const k = 2 + rng.int(9)
  const s = [0.3, 1, 3, 10][rng.int(4)]!
  const w = Float64Array.from({ length: k * d }, () => s * rng.normal())
  const b = Float64Array.from({ length: k }, () => rng.normal())
  const x0 = Float64Array.from({ length: d }, () => (rng.next() < 0.1 ? 3 * rng.normal() : rng.next()))
  const lower = Float64Array.from({ length: d }, () => (rng.next() < 0.2 ? -Infinity : -rng.next()))
  const upper = Float64Array.from({ length: d }, () => (rng.next() < 0.2 ? Infinity : 1 + rng.next()))
  const immutable = rng.next() < 0.2 ? [rng.int(d)].filter((i) => x0[i]! >= lower[i]! && x0[i]! <= upper[i]!) : []
  const target = rng.int(k)
  const probability = [0.5, 0.9, 0.99, 0.999][rng.int(4)]!
  return { model: { weights: { rows: k, cols: d, data: w }, bias: b }, problem: { x0, target, probability, lower, upper, immutable } }
}

/**
 * Exact inverse classification: Sonde with no precomputation (cold and warm) at three sizes, against the
 * penalty method (Wachter/Adam), a generic structure-blind QP, and — from a Python venv — cvxpy's Clarabel and
 * SciPy's SLSQP on the same problems; then 1,000 random bounded probability problems against Clarabel.
 */
export const inverseClassification = async (): Promise<SuiteResult> => {
  const sizes = [
    { d: 784, k: 10, queries: 200, baselineQueries: 10, cold: 20 },
    { d: 3072, k: 100, queries: 20, baselineQueries: 2, cold: 5 },
    { d: 20000, k: 1000, queries: 10, baselineQueries: 0, cold: 3 },
  ]
  const rows: Array<Array<string | number>> = []
  const sizeRows: Array<Array<string | number>> = []
  const notes: string[] = []
  const models = new Map<number, { model: SoftmaxRegression; prepared: PreparedSoftmax }>()
  for (const { d, k, queries, baselineQueries, cold } of sizes) {
    console.log(`  (D, K) = (${d}, ${k}) …`)
    const model = SoftmaxRegression.random(d, k, d + k)
    const rng = createRng(d)
    const warmup = d <= 1000 ? 300 : 3
    const draw = () => {
      const x0 = Float64Array.from({ length: d }, () => rng.next())
      const z = logits(model, x0)
      const current = z.indexOf(Math.max(...z))
      return { x0, target: (current + 1 + rng.int(k - 1)) % k }
    }
    const problems = Array.from({ length: queries + warmup }, draw)
    const coldProblems = Array.from({ length: cold }, draw)
    // Cold: a model object never seen (its own checks and an empty cache of M's rows), one query each.
    // The small sizes' JIT is warmed by the warm-up below first; the largest runs them before its warm-up.
    const coldRun = () =>
      coldProblems.map(({ x0, target }) => {
        const fresh: SoftmaxModel = { weights: model.weights, bias: model.bias }
        const s = performance.now()
        const r = inverseSoftmax(fresh, x0, { target })
        const ms = performance.now() - s
        if (E.isLeft(r)) throw new Error(r.left.message)
        return { ms, kkt: r.right.kktResidual }
      })
    const prepared = (prepareSoftmax(model) as E.Right<PreparedSoftmax>).right
    models.set(d, { model, prepared })
    let coldTimes: Array<{ ms: number; kkt: number }> = []
    if (d > 1000) coldTimes = coldRun()
    // Warm-up (JIT, and rows of M kept by the preparation) on extra problems, untimed.
    for (const { x0, target } of problems.splice(queries, warmup)) inverseSoftmax(prepared, x0, { target })
    if (d <= 1000) coldTimes = coldRun()
    const times: number[] = []
    const kkts: number[] = []
    const optimum: number[] = []
    const newRows: number[] = []
    let validCount = 0
    for (const { x0, target } of problems) {
      const before = prepared.gram.rowsComputed()
      const s = performance.now()
      const r = inverseSoftmax(prepared, x0, { target })
      times.push(performance.now() - s)
      newRows.push(prepared.gram.rowsComputed() - before)
      if (E.isLeft(r)) throw new Error(r.left.message)
      kkts.push(r.right.kktResidual)
      optimum.push(r.right.distance)
      if (valid(model, r.right.x, target, DEFAULT_MARGIN)) validCount++
    }
    // One pass over W (the logits of one x), the unit a query's cost is counted in: machine load cancels in the ratio.
    const passTimes = problems.slice(0, 5).map(({ x0 }) => {
      const s = performance.now()
      passOver(model, x0)
      return performance.now() - s
    })
    const pass = median(passTimes)
    // The old per-model precomputation, for reference: all of M = WWᵀ (K²D/2 multiply-adds).
    const fullModel = (prepareSoftmax({ weights: model.weights, bias: model.bias }) as E.Right<PreparedSoftmax>).right
    const f0 = performance.now()
    fullModel.gram.full()
    const fullMs = performance.now() - f0
    const coldMedian = median(coldTimes.map((c) => c.ms))
    sizeRows.push([
      `(${d}, ${k})`,
      `${formatNumber(coldMedian)} (max ${formatNumber(Math.max(...coldTimes.map((c) => c.ms)))}, n = ${cold})`,
      median(times),
      p95(times),
      pass,
      `${formatNumber(coldMedian / pass)} / ${formatNumber(median(times) / pass)}`,
      `${formatNumber(newRows.reduce((a, v) => a + v, 0) / newRows.length)} (${prepared.gram.rowsComputed()} of ${k} kept)`,
      Math.max(...kkts, ...coldTimes.map((c) => c.kkt)),
      fullMs,
    ])
    if (d === 20000) {
      // With the box [0, 1]^D: competitors join as they are violated (the whole M is never formed).
      const boxTimes = problems.slice(0, 3).map(({ x0, target }) => {
        const s = performance.now()
        const r = inverseSoftmax(prepared, x0, { target, domain: { lower: 0, upper: 1 } })
        const ms = performance.now() - s
        if (E.isLeft(r)) throw new Error(r.left.message)
        return { ms, kkt: r.right.kktResidual }
      })
      const bm = median(boxTimes.map((b) => b.ms))
      sizeRows.push([`(${d}, ${k}) in [0, 1]^D`, '—', bm, Math.max(...boxTimes.map((b) => b.ms)), pass, `— / ${formatNumber(bm / pass)}`, '—', Math.max(...boxTimes.map((b) => b.kkt)), '—'])
    }
    rows.push([`(${d}, ${k})`, 'Sonde exact (active-set dual, rows of M on demand)', median(times), p95(times), Math.max(...kkts), '1', `${validCount}/${queries}`])
    for (const [name, solver] of [
      ['generic QP (dual FISTA, no structure)', genericDualFista(model, DEFAULT_MARGIN)],
      ['Wachter penalty + Adam (DiCE/Alibi style)', wachterAdam(model, DEFAULT_MARGIN)],
    ] as const) {
      if (baselineQueries === 0) continue
      solver(problems[queries - 1]!.x0, problems[queries - 1]!.target)
      const bt: number[] = []
      const ratios: number[] = []
      let ok = 0
      problems.slice(0, baselineQueries).forEach(({ x0, target }, i) => {
        const s = performance.now()
        const x = solver(x0, target)
        bt.push(performance.now() - s)
        const dist = Math.hypot(...x.map((v, j) => v - x0[j]!))
        ratios.push(dist / optimum[i]!)
        if (valid(model, x, target, DEFAULT_MARGIN)) ok++
      })
      rows.push([
        `(${d}, ${k})`,
        name,
        median(bt),
        p95(bt),
        '—',
        `${formatNumber(median(ratios))} (max ${formatNumber(Math.max(...ratios))})`,
        `${ok}/${baselineQueries}`,
      ])
      notes.push(`(${d}, ${k}): ${name} is ${formatNumber(median(bt) / median(times))}× slower than Sonde (median).`)
    }
  }

  // Python peers on the same problems.
  const peer = peerPython()
  const peerMarkdown: string[] = []
  if (peer.python === undefined) {
    console.log(`  Python peers skipped: ${peer.why}`)
    peerMarkdown.push(`Python peers skipped on this run: ${peer.why}.`)
  } else {
    console.log('  Python peers (cvxpy + Clarabel, SciPy SLSQP) …')
    const setsSpec = [
      { d: 784, n: 20, box: false, solvers: ['clarabel', 'clarabel_tight'] as const },
      { d: 784, n: 20, box: true, solvers: ['clarabel', 'clarabel_tight', 'slsqp'] as const },
      { d: 3072, n: 5, box: false, solvers: ['clarabel', 'clarabel_tight'] as const },
      { d: 3072, n: 5, box: true, solvers: ['clarabel'] as const },
    ]
    const sets: PeerSet[] = setsSpec.map(({ d, n, box, solvers }) => {
      const { model } = models.get(d)!
      const rng = createRng(100 + d + (box ? 1 : 0))
      const k = model.weights.rows
      return {
        name: `(${d}, ${k})${box ? ' in [0, 1]^D' : ''}`,
        model,
        solvers,
        problems: Array.from({ length: n }, () => {
          const x0 = Float64Array.from({ length: d }, () => rng.next())
          const z = logits(model, x0)
          const current = z.indexOf(Math.max(...z))
          return { x0, target: (current + 1 + rng.int(k - 1)) % k, margin: DEFAULT_MARGIN, ...(box ? { lower: new Float64Array(d).fill(0), upper: new Float64Array(d).fill(1) } : {}) }
        }),
      }
    })
    const answers = runPeers(peer.python, sets)
    const peerRows: Array<Array<string | number>> = []
    sets.forEach((set, si) => {
      const prep = models.get(set.model.weights.cols)!.prepared
      const ours = set.problems.map((p) => sondeTime(prep, p, 21))
      for (const solver of set.solvers) {
        const theirs = answers[si]![solver]!
        const ratios = theirs.map((a, i) => (a.seconds * 1000) / ours[i]!.ms)
        const solverRatios = theirs.filter((a) => a.solver_seconds !== undefined).map((a, i) => (a.solver_seconds! * 1000) / ours[i]!.ms)
        const agreement = theirs.map((a, i) => (a.x === undefined ? Number.NaN : Math.abs(distanceOf(a.x, set.problems[i]!.x0) - ours[i]!.distance) / Math.max(1, ours[i]!.distance)))
        const solved = theirs.filter((a) => a.status === 'optimal').length
        peerRows.push([
          set.name,
          solver === 'clarabel' ? 'cvxpy + Clarabel' : solver === 'clarabel_tight' ? 'cvxpy + Clarabel, tolerances 1e-12' : 'SciPy SLSQP',
          median(ours.map((o) => o.ms)),
          median(theirs.map((a) => a.seconds * 1000)),
          `${formatNumber(median(ratios))} (${formatNumber(Math.min(...ratios))}–${formatNumber(Math.max(...ratios))})`,
          solverRatios.length > 0 ? `${formatNumber(median(solverRatios))} (${formatNumber(Math.min(...solverRatios))}–${formatNumber(Math.max(...solverRatios))})` : '—',
          agreement.some(Number.isNaN) ? 'no x' : Math.max(...agreement),
          `${solved}/${theirs.length}`,
          Math.max(...ours.map((o) => o.kkt)),
        ])
      }
    })
    peerMarkdown.push(
      table(['problems', 'peer', 'Sonde median ms', 'peer median ms', 'peer / Sonde (min–max)', "peer's own solve time / Sonde", 'max |Δ distance| / distance', 'peer optimal', 'Sonde max KKT'], peerRows),
      '',
      "Same W, b, x0, target, margin 1e-6 and bounds, passed to Python as JSON (every double exact). The peer's time is its whole solve call (cvxpy's compilation included: what a user waits for), after one untimed warm-up solve; the next column is Clarabel's own reported solve time. Sonde's time is the median of 21 calls on a prepared model after one untimed call (with a box, all of M is computed at the first call on the preparation and kept). Clarabel runs with its default tolerances (1e-8) and, in the rows that say so, with tol_gap_abs = tol_gap_rel = tol_feas = 1e-12 (tol_ktratio 1e-10); SLSQP with ftol 1e-15. The distance agreement is bounded by the peer's tolerance.",
    )

    // 1,000 random bounded probability problems: Sonde against Clarabel (exponential cone).
    console.log('  1,000 bounded probability problems …')
    const probs = Array.from({ length: 1000 }, (_, s) => boxedProbabilityProblem(s))
    const ourOutcomes = probs.map(({ model, problem }) => {
      const prep = (prepareSoftmax(model) as E.Right<PreparedSoftmax>).right
      return sondeTime(prep, problem, 1)
    })
    const probSets: PeerSet[] = probs.map(({ model, problem }, s) => ({ name: `p${s}`, model, solvers: ['clarabel'], problems: [problem], warmup: s === 0 }))
    const probAnswers = runPeers(peer.python, probSets).map((r) => r.clarabel![0]!)
    const tally = new Map<string, number>()
    const agreementAll: number[] = []
    let sondeOnlyInfeasible = 0
    let notConverged = 0
    probAnswers.forEach((a, i) => {
      const ours = ourOutcomes[i]!
      const key = `Sonde ${ours.tag} / Clarabel ${a.status}`
      tally.set(key, (tally.get(key) ?? 0) + 1)
      if (ours.tag === 'NotConverged') notConverged++
      if (ours.tag === 'Right' && a.status === 'optimal' && a.x !== undefined) agreementAll.push(Math.abs(distanceOf(a.x, probs[i]!.problem.x0) - ours.distance) / Math.max(1, ours.distance))
      if (ours.tag !== 'Right' && (a.status === 'optimal' || a.status === 'optimal_inaccurate')) sondeOnlyInfeasible++
    })
    const sorted = [...agreementAll].sort((x, y) => x - y)
    peerMarkdown.push(
      '',
      `**1,000 random bounded problems with a target probability** (the slow tier's, \`boxedProbabilityProblem\`: D 2–31, K 2–10, weight scales 0.3–10, p ∈ {0.5, 0.9, 0.99, 0.999}, a fifth of the sides open, some x0 outside the box, some immutables): Sonde's projected Newton against cvxpy + Clarabel (exponential cone, default tolerances). Sonde NotConverged: **${notConverged}**; problems Clarabel solves that Sonde does not: **${sondeOnlyInfeasible}**.`,
      '',
      table(['outcome', 'problems'], [...tally.entries()].sort((x, y) => y[1] - x[1]).map(([k, v]) => [k, v])),
      '',
      `Where both solve (${agreementAll.length}): |Δ distance| / max(1, distance) median ${formatNumber(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN)}, max ${formatNumber(sorted[sorted.length - 1] ?? Number.NaN)} (Clarabel's default tolerance is 1e-8). Sonde median ${formatNumber(median(ourOutcomes.map((o) => o.ms)))} ms per problem, Clarabel median ${formatNumber(median(probAnswers.map((a) => a.seconds * 1000)))} ms.`,
    )
  }

  return {
    title: 'Inverse classification: exact softmax counterfactuals',
    description:
      "Random softmax models (SoftmaxRegression.random), x0 uniform in [0,1]^D, a random target other than the current class, margin 1e-6, no bounds unless said. Nothing is precomputed: a query computes the rows of M = WWᵀ its active set needs (one pass over W each) and a preparation keeps them. **Cold** = a model object never seen before (its checks, an empty cache), one query; **warm** = a prepared model that earlier queries on the same model have filled, after an untimed warm-up. Times in ms; Sonde's time includes computing its KKT certificate from W. The machine is shared (about 8 engineers on 2 cores): absolute times vary run to run, ratios in one run are what to read.",
    markdown: [
      table(['(D, K)', 'cold ms (median)', 'warm median ms', 'warm p95 ms', 'one pass over W ms', 'cold / warm in passes', 'new rows of M per warm query', 'max KKT residual', 'all of M (the old precomputation) ms'], sizeRows),
      '',
      'A pass over W (K·D multiply-adds, the logits of one point) is the unit of a query: cold = the checks (about one pass), the logits of x0, the target\'s row of M, one row per competitor that enters, and the certificate; warm = the logits, the certificate and the rows not yet kept. Read the goal (cold ≤ 1 s, warm ≤ 100 ms at (20000, 1000)) against the pass time of the same run.',
      '',
      table(['(D, K)', 'solver', 'median ms/query', 'p95 ms/query', 'max KKT residual', 'distance / optimum', 'valid'], rows),
      '',
      ...notes.map((n) => `- ${n}`),
      '',
      '### Python peers: cvxpy (Clarabel) and SciPy SLSQP',
      '',
      ...peerMarkdown,
    ].join('\n'),
  }
}
