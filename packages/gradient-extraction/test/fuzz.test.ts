import fc from 'fast-check'
import { either as E, taskEither as TE } from 'fp-ts'
import { afterAll, describe, expect, it } from 'vitest'
import {
  makeContext,
  runProbe,
  timeout,
  type ErrorTag,
  type GradientOracle,
  type Matrix,
  type Oracle,
  type Prediction,
  type ProbeError,
} from '@sonde/oracle'
import { randomTwoLayerRelu, SoftmaxRegression, type TwoLayerRelu } from '@sonde/models'
import { compareOracles, extractLinear, extractReluNetwork, gradientMatchingProbe, linearExtractionProbe, randomPoints, reluExtractionProbe } from '../src/index.js'
import { gradientMatchingCopy } from '../src/tfjs/index.js'

// Bad inputs to every public function of the root entry (and gradientMatchingCopy of ./tfjs), from a JavaScript
// caller's point of view: junk where numbers, matrices and options go, bad seeds, and oracles that throw, reject,
// hang, answer the wrong shape or NaN. For each case: no throw, no rejection; a Left has a known tag; a Right
// passes an independent invariant; and an option refused is refused before any query (0 oracle calls).

const knownTags = new Set<ErrorTag>([
  'InvalidInput',
  'ShapeMismatch',
  'InvalidOptions',
  'BudgetExhausted',
  'Transport',
  'BadResponse',
  'Timeout',
  'Aborted',
  'NotConverged',
  'Infeasible',
  'Unidentifiable',
  'TrainingFailed',
  'PluginFailed',
  'MissingCapability',
])

let cases = 0
afterAll(() => {
  console.log(`gradient-extraction fuzz: ${cases} cases`)
})

/** Run a task: it must resolve (never throw or reject) to an Either whose Left has a known tag. */
const settle = async <A>(task: () => TE.TaskEither<ProbeError, A>): Promise<E.Either<ProbeError, A>> => {
  cases++
  let te: TE.TaskEither<ProbeError, A>
  try {
    te = task()
  } catch (cause) {
    throw new Error(`threw synchronously: ${String(cause)}`)
  }
  let r: E.Either<ProbeError, A>
  try {
    r = await te()
  } catch (cause) {
    throw new Error(`rejected: ${String(cause)}`)
  }
  expect(r._tag === 'Left' || r._tag === 'Right').toBe(true)
  if (E.isLeft(r)) expect(knownTags.has(r.left._tag), `unknown tag ${String(r.left._tag)}`).toBe(true)
  return r
}

const finite = (xs: ArrayLike<number>): boolean => {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i]!)) return false
  return true
}

const junk = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.constant(Number.NaN),
  fc.constant(Infinity),
  fc.constant(-Infinity),
  fc.constant(2 ** 53),
  fc.constant(1.5),
  fc.constant(-1),
  fc.constant(0),
  fc.constant('1'),
  fc.constant({}),
  fc.constant([]),
  fc.constant([[1, 2]]),
  fc.constant(true),
  fc.integer({ min: -5, max: 50 }),
  fc.double({ noNaN: false }),
)
const badSeed = fc.constantFrom<unknown>(Number.NaN, 1.5, 2 ** 53, '1', Infinity, null, {}, undefined)

type Behaviour = 'ok' | 'throw' | 'reject' | 'hang' | 'short' | 'nan' | 'notEither' | 'badLabels' | 'inf'
const behaviour = fc.constantFrom<Behaviour>('ok', 'throw', 'reject', 'hang', 'short', 'nan', 'notEither', 'badLabels', 'inf')

interface Counting<O extends Oracle> {
  readonly oracle: O
  readonly calls: () => number
}

const counting = <O extends GradientOracle>(base: O): Counting<GradientOracle> => {
  let n = 0
  return {
    oracle: {
      info: base.info,
      predict: (x) => {
        n++
        return base.predict(x)
      },
      gradient: (x, c) => {
        n++
        return base.gradient(x, c)
      },
    },
    calls: () => n,
  }
}

const spoil = <A extends Prediction | Matrix>(b: Behaviour, run: () => TE.TaskEither<never, A> | TE.TaskEither<unknown, A>, edit: (a: A, b: Behaviour) => A) => {
  if (b === 'throw') throw new Error('the oracle exploded')
  if (b === 'reject') return () => Promise.reject(new Error('the oracle rejected'))
  if (b === 'hang') return () => new Promise<never>(() => undefined)
  if (b === 'notEither') return () => Promise.resolve(42)
  return async () => {
    const r = await run()()
    return E.isLeft(r) || b === 'ok' ? r : E.right(edit(r.right, b))
  }
}

const editPrediction = (p: Prediction, b: Behaviour): Prediction => {
  const scores = p.scores === undefined ? undefined : { ...p.scores, data: p.scores.data.slice() }
  const labels = p.labels.slice()
  if (b === 'short') return { labels: labels.subarray(1), ...(scores ? { scores: { rows: scores.rows - 1, cols: scores.cols, data: scores.data.subarray(scores.cols) } } : {}) }
  if (b === 'badLabels') labels[0] = 99
  if (scores && (b === 'nan' || b === 'inf')) scores.data[0] = b === 'nan' ? Number.NaN : Infinity
  return { labels, ...(scores ? { scores } : {}) }
}

const editGradient = (g: Matrix, b: Behaviour): Matrix => {
  if (b === 'short') return { rows: g.rows - 1, cols: g.cols, data: g.data.subarray(g.cols) }
  const data = g.data.slice()
  if (b === 'nan' || b === 'inf' || b === 'badLabels') data[data.length - 1] = b === 'inf' ? -Infinity : Number.NaN
  return { ...g, data }
}

/** An oracle whose predict and gradient misbehave as told, bounded by a 20 ms timeout (a hang ends in Timeout). */
const misbehaving = (base: GradientOracle, pb: Behaviour, gb: Behaviour): GradientOracle =>
  timeout(20)({
    info: base.info,
    predict: (x) => spoil(pb, () => base.predict(x), editPrediction) as TE.TaskEither<never, Prediction>,
    gradient: (x, c) => spoil(gb, () => base.gradient(x, c), editGradient) as TE.TaskEither<never, Matrix>,
  })

const relu: TwoLayerRelu = randomTwoLayerRelu({ inputDim: 6, hidden: 3, numClasses: 2, seed: 1 })
const softmax = SoftmaxRegression.random(5, 3, 2, { output: 'logits' })

describe('fuzz: @sonde/gradient-extraction', () => {
  it('extractReluNetwork: junk options are refused before any query; what runs stays within its budget and is verified', async () => {
    const keys = ['seed', 'budget', 'hiddenUnits', 'hiddenBias', 'verifyPoints', 'tolerance', 'strategy', 'bisection', 'maxGradientRows', 'signal', 'progress'] as const
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...keys), junk, { maxKeys: 4 }), fc.boolean(), async (raw, withSeed) => {
        const options = withSeed && !('seed' in raw) ? { ...raw, seed: 3 } : raw
        const c = counting(relu)
        const r = await settle(() => extractReluNetwork(c.oracle, options as never))
        if (E.isLeft(r) && r.left._tag === 'InvalidOptions') expect(c.calls()).toBe(0)
        if (E.isRight(r)) {
          const budget = typeof options.budget === 'number' ? options.budget : 40_000
          expect(r.right.queries.gradientRows + r.right.queries.predictRows).toBeLessThanOrEqual(budget)
          expect(finite(r.right.model.hiddenWeights.data) && finite(r.right.model.hiddenBias) && finite(r.right.model.outputBias)).toBe(true)
          // Whole network: each logit uses at most the units found; per logit: the units found, merged.
          expect(Math.max(0, ...r.right.unitsPerLogit)).toBeLessThanOrEqual(r.right.model.hidden)
          expect(r.right.model.hidden).toBeLessThanOrEqual(r.right.unitsFound)
          if (r.right.strategy === 'per-logit') expect(r.right.unitsPerLogit.reduce((a, b) => a + b, 0)).toBe(r.right.unitsFound)
          if (r.right.verification !== undefined) expect(r.right.verification.maxRelativeError).toBeLessThanOrEqual(r.right.verification.tolerance)
          expect(Number.isSafeInteger(r.right.seed)).toBe(true)
        }
      }),
      { seed: 42, numRuns: 200 },
    )
  })

  it('every function refuses a bad seed before any query', async () => {
    await fc.assert(
      fc.asyncProperty(badSeed, async (seed) => {
        const c = counting(relu)
        const results: E.Either<ProbeError, unknown>[] = [
          await settle(() => extractReluNetwork(c.oracle, { seed } as never)),
          await settle(() => extractLinear(c.oracle, { seed } as never)),
          await settle(() => gradientMatchingCopy(c.oracle, undefined, { seed, budget: 4, epochs: 1 } as never)),
          await settle(() => compareOracles(c.oracle, relu, { count: 4, seed } as never)),
          await settle(() => runProbe(reluExtractionProbe, c.oracle, {}, makeContext({ seed: seed as number }))),
        ]
        for (const r of results) {
          if (seed === undefined && E.isRight(r)) continue // extractLinear's seed is optional (default 0)
          expect(E.isLeft(r) && r.left._tag).toBe('InvalidOptions')
        }
        const p = randomPoints(relu, 3, seed as number)
        cases++
        expect(E.isLeft(p) && p.left._tag).toBe('InvalidOptions')
        if (seed === undefined) return
        expect(c.calls()).toBe(0)
      }),
      { seed: 42, numRuns: 16 },
    )
  })

  it('misbehaving oracles (throw, reject, hang, wrong shape, NaN, ±Infinity, not an Either) give typed errors, never a wrong Right', async () => {
    await fc.assert(
      fc.asyncProperty(behaviour, behaviour, fc.constantFrom('linear', 'relu', 'relu-nobias', 'compare', 'linear-probe', 'relu-probe'), async (pb, gb, what) => {
        const base = what.startsWith('linear') ? softmax : relu
        const bad = misbehaving(base, pb, gb)
        const clean = pb === 'ok' && gb === 'ok'
        const r: E.Either<ProbeError, { readonly queries: object }> =
          what === 'linear'
            ? await settle(() => extractLinear(bad))
            : what === 'relu'
              ? await settle(() => extractReluNetwork(bad, { seed: 1 }))
              : what === 'relu-nobias'
                ? await settle(() => extractReluNetwork(bad, { seed: 1, hiddenBias: false }))
                : what === 'compare'
                  ? await settle(() => compareOracles(bad, relu, { count: 5, seed: 1 }))
                  : what === 'linear-probe'
                    ? await settle(() => runProbe(linearExtractionProbe, bad, { verifyPoints: 3 }, makeContext({ seed: 1 }), { queryTimeoutMs: 20 }))
                    : await settle(() => runProbe(reluExtractionProbe, bad, {}, makeContext({ seed: 1 }), { queryTimeoutMs: 20 }))
        const usedPredict = what !== 'relu-nobias'
        const broken = (usedPredict && pb !== 'ok') || (what !== 'compare' && gb !== 'ok')
        if (broken) expect(E.isLeft(r), `${what} with predict ${pb}, gradient ${gb}`).toBe(true)
        if (E.isLeft(r) && ((usedPredict && pb === 'hang') || (what !== 'compare' && gb === 'hang'))) expect(['Timeout', 'BadResponse', 'InvalidInput', 'ShapeMismatch']).toContain(r.left._tag)
        // A clean oracle: the ReLU network is extracted; without biases it is refused (it has biases), never answered.
        if (clean && (what === 'relu' || what === 'relu-probe' || what === 'compare')) expect(E.isRight(r)).toBe(true)
        if (what === 'relu-nobias') expect(E.isLeft(r)).toBe(true)
        if (E.isRight(r)) {
          expect(Object.values(r.right.queries).every((n) => Number.isFinite(n))).toBe(true)
        }
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('compareOracles and randomPoints: junk points, counts and oracles', async () => {
    await fc.assert(
      fc.asyncProperty(junk, junk, fc.constantFrom<unknown>(relu, null, undefined, {}, { info: {} }, { info: relu.info }), async (count, points, other) => {
        for (const run of [(o: Oracle) => compareOracles(o, other as Oracle, points as never), (o: Oracle) => compareOracles(o, relu, { count, seed: 1 } as never)]) {
          const c = counting(relu)
          const x = await settle(() => run(c.oracle))
          if (E.isLeft(x) && x.left._tag !== 'BadResponse') expect(c.calls()).toBe(0)
          if (E.isRight(x)) {
            expect(x.right.rows).toBeGreaterThan(0)
            expect(x.right.agreement >= 0 && x.right.agreement <= 1).toBe(true)
            expect(Number.isFinite(x.right.maxAbsError) && Number.isFinite(x.right.maxRelativeError)).toBe(true)
            expect(x.right.queries.predictRows).toBe(x.right.rows)
          }
        }
        cases++
        const p = randomPoints(other as Oracle, count as number, 1)
        if (E.isRight(p)) {
          expect(p.right.rows).toBe(count)
          expect(finite(p.right.data)).toBe(true)
        }
      }),
      { seed: 42, numRuns: 80 },
    )
  })

  it('gradientMatchingCopy and its probe: junk options and pools are refused before any query', async () => {
    const keys = ['budget', 'fit', 'lambda', 'learningRate', 'batchSize', 'hidden', 'queries', 'evaluationPoints', 'pool'] as const
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...keys), junk, { minKeys: 1, maxKeys: 3 }), junk, async (raw, pool) => {
        const c = counting(relu)
        const { evaluationPoints: _e, pool: _p, ...direct } = raw
        const r = await settle(() => gradientMatchingCopy(c.oracle, pool as never, { epochs: 1, hidden: [4], ...direct, seed: 1 } as never))
        if (E.isLeft(r) && r.left._tag === 'InvalidOptions') expect(c.calls()).toBe(0)
        if (E.isRight(r)) {
          expect(r.right.losses.every(Number.isFinite)).toBe(true)
          expect(r.right.queries.predictRows).toBe(r.right.points.rows)
          r.right.model.dispose()
        }
        const c2 = counting(relu)
        const p = await settle(() => runProbe(gradientMatchingProbe, c2.oracle, { epochs: 1, hidden: [4], evaluationPoints: 3, budget: 6, ...raw }, makeContext({ seed: 1 })))
        if (E.isLeft(p) && p.left._tag === 'InvalidOptions') expect(c2.calls()).toBe(0)
        if (E.isRight(p)) {
          expect(p.right.losses.every(Number.isFinite)).toBe(true)
          if (p.right.evaluation !== undefined) expect(p.right.evaluation.agreement >= 0 && p.right.evaluation.agreement <= 1).toBe(true)
          p.right.dispose()
        }
      }),
      { seed: 42, numRuns: 60 },
    )
  })

  it('linear and relu probes: junk JSON options', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('verifyPoints', 'budget', 'hiddenUnits', 'hiddenBias', 'tolerance', 'seed'), junk, { maxKeys: 3 }), async (raw) => {
        for (const [probe, base] of [
          [linearExtractionProbe, softmax],
          [reluExtractionProbe, relu],
        ] as const) {
          const c = counting(base)
          const r = await settle(() => runProbe(probe as never, c.oracle, raw, makeContext({ seed: 1 })))
          if (E.isLeft(r) && (r.left._tag === 'InvalidOptions' || r.left._tag === 'MissingCapability')) expect(c.calls()).toBe(0)
        }
      }),
      { seed: 42, numRuns: 100 },
    )
  })

  it('ran a known number of cases', () => {
    // Seeded: the same inputs every run (1,156 cases when this was written).
    expect(cases).toBeGreaterThanOrEqual(1100)
  })
})
