import fc from 'fast-check'
import { either as E, taskEither as TE } from 'fp-ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRng, errors, makeContext, notJsonSafe, runProbe, SondeError, timeout, type Matrix, type Oracle, type ProbeError } from '@sonde/oracle'
import { buildMlp, useFastestBackend } from '@sonde/models/tfjs'
import {
  correctModel,
  defuse,
  defuseProbe,
  digamma,
  findMisclassificationRegions,
  findMisclassifications,
  fitDirichletProcessGmm,
  labelRegions,
  majorityLabeller,
  regionSamples,
  sampleComponent,
  trainVae,
  type Generator,
  type Region,
} from '../src/index.js'
import { identity, model, planeSources } from './plane.js'

beforeAll(async () => {
  await useFastestBackend()
})

const KNOWN = new Set(['InvalidInput', 'ShapeMismatch', 'InvalidOptions', 'BudgetExhausted', 'Transport', 'BadResponse', 'Timeout', 'Aborted', 'NotConverged', 'Infeasible', 'MissingCapability', 'Unidentifiable', 'TrainingFailed', 'PluginFailed'])
const BAD_OPTION = new Set(['InvalidInput', 'ShapeMismatch', 'InvalidOptions'])
let cases = 0

/** Run one case: no throw, no rejection, and a Left has a known tag. */
const settle = async <A>(task: () => Promise<E.Either<ProbeError, A>>): Promise<E.Either<ProbeError, A>> => {
  cases++
  let r: E.Either<ProbeError, A>
  try {
    r = await task()
  } catch (cause) {
    throw new Error(`threw or rejected: ${String(cause)}`)
  }
  if (E.isLeft(r)) expect(KNOWN.has(r.left._tag), `unknown tag ${r.left._tag}`).toBe(true)
  return r
}

const allFinite = (xs: ArrayLike<number>): boolean => Array.prototype.every.call(xs, (v: number) => Number.isFinite(v))

// JavaScript callers' mistakes where a number, a matrix or an options object goes.
const junk = fc.constantFrom<unknown>(null, undefined, Number.NaN, Infinity, -Infinity, '3', {}, [], -1, 0, 1.5, 2 ** 53, true)
const badMatrix = fc.constantFrom<unknown>(
  null,
  undefined,
  'x',
  {},
  [[1, 2]],
  { rows: 2, cols: 2, data: new Float64Array(3) },
  { rows: 0, cols: 2, data: new Float64Array(0) },
  { rows: 1, cols: 2, data: Float64Array.of(Number.NaN, 1) },
  { rows: 1, cols: 2, data: Float64Array.of(Infinity, 1) },
  { rows: 1, cols: 2, data: [1, 2] },
  { rows: -1, cols: 2, data: new Float64Array(0) },
)
const defined = junk.filter((v) => v !== undefined)
// A matrix that is well formed but does not fit the oracle (3 columns for 2 inputs).
const misfit = fc.oneof(badMatrix, fc.constant<unknown>({ rows: 2, cols: 3, data: new Float64Array(6) }))
const badSeed = fc.constantFrom<unknown>(Number.NaN, 1.5, 2 ** 53, '1', undefined, null, Infinity, -Infinity)

const info = model.info
const counting = () => {
  let calls = 0
  const oracle: Oracle = { info, predict: (x) => ((calls++, model.predict(x))) }
  return { oracle, calls: () => calls }
}
const ok = (labels: (x: Matrix) => unknown): Oracle => ({ info, predict: (x) => TE.right(labels(x) as never) })
const misbehaving: Record<string, Oracle> = {
  throws: { info, predict: () => { throw new Error('predict broke') } },
  rejects: { info, predict: () => () => Promise.reject(new Error('rejected')) },
  hangs: timeout(30)({ info, predict: () => () => new Promise(() => undefined) }),
  short: ok((x) => ({ labels: new Int32Array(Math.max(0, x.rows - 1)) })),
  outOfRange: ok((x) => ({ labels: new Int32Array(x.rows).fill(99) })),
  negative: ok((x) => ({ labels: new Int32Array(x.rows).fill(-1) })),
  notInt32: ok((x) => ({ labels: Array.from({ length: x.rows }, () => 1) })),
  nullAnswer: ok(() => null),
  refuses: { info, predict: () => TE.left(errors.transport('down', true)) },
  laterFails: (() => {
    let n = 0
    return { info, predict: (x: Matrix) => (n++ < 1 ? model.predict(x) : TE.left(errors.transport('down', true))) }
  })(),
}
const sources = planeSources(20)
const generators: Record<string, unknown> = {
  identity,
  encodeThrows: { ...identity, encode: () => { throw new Error('encode broke') } },
  decodeThrows: { ...identity, decode: () => { throw 'a string' } },
  decodeNaN: { ...identity, decode: (z: Matrix) => ({ ...z, data: new Float64Array(z.data.length).fill(Number.NaN) }) },
  decodeShort: { ...identity, decode: (z: Matrix) => ({ rows: z.rows - 1, cols: 2, data: new Float64Array(2 * (z.rows - 1)) }) },
  encodeWide: { ...identity, encode: (x: Matrix) => ({ rows: x.rows, cols: 3, data: new Float64Array(3 * x.rows) }) },
  decodeNull: { ...identity, decode: () => null },
  noLatentDim: { encode: identity.encode, decode: identity.decode },
  notAGenerator: 'vae',
}

/** Invariants of an identification every Right must satisfy. */
const checkIdentification = (r: Awaited<ReturnType<ReturnType<typeof findMisclassifications>>>, n: number, Q: number, budget: number) => {
  if (E.isLeft(r)) return
  const id = r.right
  expect(id.queries.predictRows).toBeLessThanOrEqual(Math.min(n * Q, budget))
  expect(id.found).toBeLessThanOrEqual(id.queries.predictRows)
  expect(Number.isFinite(id.yieldPerQuery) && id.yieldPerQuery >= 0 && id.yieldPerQuery <= 1).toBe(true)
  expect(allFinite(id.codes.data) && allFinite(id.inputs.data) && allFinite(id.perturbationNorms)).toBe(true)
  for (const len of [id.sources.length, id.sourceLabels.length, id.predicted.length, id.perturbationNorms.length, id.inputs.rows]) expect(len).toBe(id.codes.rows)
  for (let i = 0; i < id.codes.rows; i++) expect(id.predicted[i]).not.toBe(id.sourceLabels[i])
}

describe('fuzz: @sonde/debugging', () => {
  afterAll(() => {
    console.log(`debugging fuzz: ${cases} cases`)
  })

  it('findMisclassifications and defuse: bad inputs and options are refused before any query', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('data', 'labels', 'perturbations', 'keepPerSource', 'scale', 'batchSize', 'budget', 'seed', 'options', 'samplesPerRegion', 'regions', 'imageShape', 'generator', 'oracleInfo'),
        defined,
        misfit,
        badSeed,
        async (where, j, m, seed) => {
          const c = counting()
          const base = { perturbations: 4, seed: 1 }
          const gmmBad = fc.sample(fc.constantFrom<unknown>({ maxComponents: 0 }, { maxComponents: 1.5 }, { concentration: -1 }, { degreesOfFreedom: 0.5 }, { maxIter: 0 }, { tolerance: Number.NaN }, { regCovar: -1 }, { init: 'dirichlet' }, { weightThreshold: 1 }, { tol: 1e-3 }, null, 'k', 7), { seed: cases, numRuns: 1 })[0]
          const args: [unknown, unknown, unknown, unknown, unknown] =
            where === 'data' ? [c.oracle, identity, m, sources.y, base]
            : where === 'labels' ? [c.oracle, identity, sources.x, j instanceof Int32Array ? j : (fc.sample(fc.constantFrom(j, new Int32Array(20).fill(5), new Int32Array(3), Int32Array.of(-1)), { seed: cases, numRuns: 1 })[0]), base]
            : where === 'seed' ? [c.oracle, identity, sources.x, sources.y, { ...base, seed }]
            : where === 'options' ? [c.oracle, identity, sources.x, sources.y, j]
            : where === 'generator' ? [c.oracle, fc.sample(fc.constantFrom(generators.noLatentDim, generators.notAGenerator, null, j), { seed: cases, numRuns: 1 })[0], sources.x, sources.y, base]
            : where === 'oracleInfo' ? [j, identity, sources.x, sources.y, base]
            : where === 'regions' ? [c.oracle, identity, sources.x, sources.y, { ...base, regions: gmmBad }]
            : [c.oracle, identity, sources.x, sources.y, { ...base, [where]: typeof j === 'number' && j > 0 ? -j : j }]
          const identificationOnly = ['samplesPerRegion', 'regions', 'imageShape'].includes(where)
          if (!identificationOnly) {
            const r = await settle(() => findMisclassifications(...(args as Parameters<typeof findMisclassifications>))())
            expect(E.isLeft(r) && BAD_OPTION.has(r.left._tag), `${where}: ${E.isLeft(r) ? r.left._tag : 'Right'}`).toBe(true)
          }
          const [o, g, x, y, opts] = args
          const r2 = await settle(() => defuse(o as Oracle, g as Generator, where === 'data' || where === 'labels' ? ({ x, y } as never) : sources, opts as never)())
          expect(E.isLeft(r2) && BAD_OPTION.has(r2.left._tag), `defuse ${where} ${JSON.stringify(gmmBad) ?? String(gmmBad)}: ${E.isLeft(r2) ? r2.left._tag : 'Right'}`).toBe(true)
          expect(c.calls()).toBe(0)
        },
      ),
      { seed: 42, numRuns: 250 },
    )
  })

  it('findMisclassifications and defuse: misbehaving oracles and generators end in a typed Left or a checked Right', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(misbehaving), 'good'),
        fc.constantFrom(...Object.keys(generators).slice(0, 7)),
        fc.integer({ min: 1, max: 6 }),
        fc.option(fc.integer({ min: 1, max: 150 }), { nil: undefined }),
        fc.integer({ min: 1, max: 60 }),
        async (oracleName, generatorName, Q, budget, batchSize) => {
          const oracle = oracleName === 'good' ? model : misbehaving[oracleName]!
          const g = generators[generatorName] as Generator
          const options = { perturbations: Q, scale: 2, batchSize, seed: 3, ...(budget !== undefined ? { budget } : {}), regions: { maxComponents: 4, maxIter: 50 }, samplesPerRegion: 8 }
          const r = await settle(() => findMisclassifications(oracle, g, sources.x, sources.y, options)())
          checkIdentification(r, 20, Q, budget ?? Infinity)
          const d = await settle(() => defuse(oracle, g, sources, options)())
          if (E.isRight(d)) {
            expect(d.right.queries.predictRows).toBeLessThanOrEqual(budget ?? Infinity)
            for (const reg of d.right.regions) {
              expect(reg.errorRate >= 0 && reg.errorRate <= 1).toBe(true)
              expect(allFinite(reg.samples.data) && allFinite(reg.region.mean)).toBe(true)
            }
            const report = defuseProbe.report({ ...d.right, generator: 'given', vaeLosses: [], vaeRows: 0, sources: 20 })
            expect(notJsonSafe(report)).toBeUndefined()
          }
        },
      ),
      { seed: 42, numRuns: 250 },
    )
  })

  it('fitDirichletProcessGmm, findMisclassificationRegions, sampleComponent and digamma', async () => {
    const good = planeSources(30).x
    await fc.assert(
      fc.asyncProperty(badMatrix, defined, badSeed, fc.double({ noNaN: false }), async (m, j, seed, x) => {
        for (const r of <E.Either<ProbeError, unknown>[]>[
          await settle(() => fitDirichletProcessGmm(m as Matrix, { seed: 1 })()),
          await settle(() => fitDirichletProcessGmm(good, { seed: seed as number })()),
          await settle(() => fitDirichletProcessGmm(good, { seed: 1, maxComponents: j as number })()),
          await settle(() => fitDirichletProcessGmm(good, j as never)()),
          await settle(() => findMisclassificationRegions(m as Matrix, { seed: 1 })()),
          await settle(() => findMisclassificationRegions(good, { seed: 1, weightThreshold: (j === 0 ? 1 : j) as number })()),
        ]) {
          if (E.isRight(r)) throw new Error('a bad input was accepted')
        }
        // digamma: defined for x > 0, NaN elsewhere, and it always returns (−∞ once looped forever).
        cases++
        const v = digamma(x)
        // (ψ(x) ≈ −1/x overflows to −∞ for subnormal x.)
        expect(x > 0 ? !Number.isNaN(v) && (x < 1e-300 || Number.isFinite(v) || x === Infinity) : Number.isNaN(v)).toBe(true)
        // sampleComponent is pure: a broken argument is a SondeError (InvalidInput), never another throw.
        cases++
        try {
          const s = sampleComponent({ weight: 1, mean: Float64Array.of(0, 0), covariance: Float64Array.of(1, 0, 0, 1), count: 1 }, j as number, createRng(1))
          expect(allFinite(s.data)).toBe(true)
        } catch (e) {
          expect(e instanceof SondeError && e.error._tag === 'InvalidInput').toBe(true)
        }
      }),
      { seed: 42, numRuns: 120 },
    )
    // A good fit: weights in [0, 1] summing to at most 1, finite means; the region step agrees.
    const fit = await settle(() => fitDirichletProcessGmm(good, { seed: 2, maxComponents: 5 })())
    expect(E.isRight(fit) && fit.right.components.every((c) => c.weight >= 0 && c.weight <= 1 && allFinite(c.mean))).toBe(true)
  })

  it('regionSamples, labelRegions and majorityLabeller: bad regions, generators, labellers and options', async () => {
    const found = await findMisclassificationRegions(planeSources(40).x, { seed: 1, maxComponents: 3 })()
    if (E.isLeft(found)) throw new Error(found.left.message)
    const region = found.right.regions[0]!
    const labellers: unknown[] = [() => 1, () => { throw new Error('labeller broke') }, () => Promise.reject(new Error('no')), () => -1, () => 1.5, () => 'one', () => undefined, majorityLabeller(() => { throw new Error('judge broke') }), majorityLabeller(() => Int32Array.of(1, 1)), null]
    await fc.assert(
      fc.asyncProperty(junk, badSeed, fc.constantFrom(...Object.keys(generators)), fc.integer({ min: 0, max: labellers.length - 1 }), async (j, seed, gName, li) => {
        const g = generators[gName] as Generator
        cases += 3
        for (const r of [regionSamples(region, g, j as number, 1), regionSamples(region, identity, 4, seed as number), regionSamples(j as Region, identity, 4, 1)]) {
          if (E.isRight(r)) expect(r.right.rows === 4 || typeof j === 'number').toBe(true)
          else expect(KNOWN.has(r.left._tag)).toBe(true)
        }
        const l = await settle(() => labelRegions([region], g, labellers[li] as never, { seed: 1, samples: 4 })())
        if (E.isRight(l)) for (const x of l.right) expect(Number.isInteger(x.label) && x.label >= 0).toBe(true)
        const bad = await settle(() => labelRegions([region], identity, () => 1, { seed: seed as number, samples: j as number })())
        expect(E.isLeft(bad) || (seed === undefined && false)).toBe(true)
      }),
      { seed: 42, numRuns: 60 },
    )
  })

  it('trainVae and correctModel: bad data and options refused; callbacks that throw are PluginFailed', async () => {
    const ds = planeSources(12).x
    await fc.assert(
      fc.asyncProperty(badMatrix, junk, badSeed, fc.constantFrom('latentDim', 'epochs', 'batchSize', 'beta', 'learningRate', 'hidden', 'architecture', 'likelihood', 'imageShape', 'onEpoch'), async (m, j, seed, field) => {
        for (const r of [
          await settle(() => trainVae(m as Matrix, { epochs: 1, seed: 1, likelihood: 'gaussian' })()),
          await settle(() => trainVae(ds, { epochs: 1, seed: seed as number, likelihood: 'gaussian' })()),
          await settle(() => trainVae(ds, { epochs: 1, seed: 1, likelihood: 'gaussian', latentDim: 1, hidden: [2], [field]: field === 'onEpoch' ? () => { throw new Error('callback broke') } : j } as never)()),
        ]) {
          if (E.isRight(r)) {
            // Only a junk value that is a valid setting (e.g. hidden: []) may train; then everything is finite.
            expect(r.right.losses.every(Number.isFinite)).toBe(true)
            r.right.dispose()
          }
        }
      }),
      { seed: 42, numRuns: 25 },
    )
    const net = buildMlp({ inputDim: 2, hidden: [3], numClasses: 2, seed: 1 })
    const found = await findMisclassificationRegions(planeSources(40).x, { seed: 1, maxComponents: 3 })()
    if (E.isLeft(found)) throw new Error(found.left.message)
    const labelled = [{ region: found.right.regions[0]!, label: 1, samples: planeSources(2).x }]
    const train = planeSources(16)
    await fc.assert(
      fc.asyncProperty(junk, badMatrix, fc.constantFrom('lambda', 'learningRate', 'epochs', 'batchSize', 'samplesPerRegion', 'seed', 'train', 'labelled', 'model', 'generator', 'domain'), async (j, m, field) => {
        const before = net.getWeights().map((w) => Array.from(w.dataSync()))
        const r = await settle(() =>
          correctModel(
            (field === 'model' ? j : net) as never,
            (field === 'train' ? { x: m, y: train.y } : train) as never,
            (field === 'labelled' ? j : labelled) as never,
            (field === 'generator' ? j : identity) as never,
            { seed: 1, epochs: 1, samplesPerRegion: 4, ...(['model', 'train', 'labelled', 'generator'].includes(field) ? {} : { [field]: field === 'domain' ? { lower: 1, upper: 0 } : j }) } as never,
          )(),
        )
        if (E.isLeft(r)) expect(net.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before)
        else expect(r.right.losses.every(Number.isFinite) && r.right.queries.predictRows === 0).toBe(true)
      }),
      { seed: 42, numRuns: 40 },
    )
    net.dispose()
  })

  it('the probe through runProbe: junk options, bad seeds and misbehaving oracles (a hang ends in Timeout)', async () => {
    const data = { x: Array.from({ length: 10 }, (_, i) => [0.5 + i / 4, (i * 7) % 6]), y: new Array(10).fill(1) }
    await fc.assert(
      fc.asyncProperty(junk, badSeed, fc.constantFrom(...Object.keys(misbehaving)), fc.constantFrom('options', 'data', 'perturbations', 'vae', 'regions', 'dataset', 'seed', 'oracle'), async (j, seed, oName, where) => {
        const c = counting()
        const opts = { data, generator: identity, perturbations: 3, regions: { maxComponents: 3, maxIter: 30 }, samplesPerRegion: 4 }
        const r = await settle(() =>
          runProbe(
            defuseProbe,
            where === 'oracle' ? misbehaving[oName]! : c.oracle,
            where === 'options' ? j : where === 'seed' || where === 'oracle' ? opts : { ...opts, [where]: j },
            makeContext({ seed: where === 'seed' ? (seed as number) : 1 }),
            { queryTimeoutMs: 200 },
          )(),
        )
        // Junk that happens to be valid: a missing field takes its default; {} is a valid vae or regions object.
        const valid = where !== 'oracle' && (j === undefined ? where !== 'data' && where !== 'options' : where === 'seed' ? false : typeof j === 'object' && j !== null && !Array.isArray(j) && Object.keys(j).length === 0 && (where === 'vae' || where === 'regions'))
        if (where !== 'oracle' && !valid) {
          if (E.isRight(r)) throw new Error(`accepted ${where}: ${String(j)}`)
          expect(BAD_OPTION.has(r.left._tag)).toBe(true)
          expect(c.calls()).toBe(0)
        } else if (E.isRight(r)) {
          expect(notJsonSafe(defuseProbe.report(r.right))).toBeUndefined()
        }
        if (oName === 'hangs' && where === 'oracle') expect(E.isRight(r) ? r.right.stoppedEarly?._tag : r.left._tag).toBe('Timeout')
      }),
      { seed: 42, numRuns: 150 },
    )
  })

  it('counts the cases', () => {
    expect(cases).toBeGreaterThan(1000)
  })
})
