import { either as E, taskEither as TE } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import {
  capabilitiesOf,
  decoders as d,
  labelOnly,
  makeContext,
  makeRegistry,
  runProbe,
  toPromise,
  type GradientOracle,
  type Probe,
} from '../src/index.js'
import { linearModel } from './helpers.js'

const options = d.struct({
  samples: d.number({ integer: true, min: 1 }),
  sampler: d.withDefault(d.literal('uniform', 'gaussian'), 'uniform'),
  classes: d.optional(d.array(d.number({ integer: true, min: 0 }))),
  verbose: d.optional(d.boolean),
})

describe('decoders', () => {
  it('decodes good options and fills defaults', () => {
    expect(options({ samples: 10 })).toEqual(E.right({ samples: 10, sampler: 'uniform' }))
  })

  it('lists every bad path, including unknown keys', () => {
    const r = options({ samples: 0.5, sampler: 'grid', classes: [1, -2, 'x'], verbsoe: true })
    expect(E.isLeft(r)).toBe(true)
    if (E.isLeft(r)) {
      expect(r.left._tag).toBe('InvalidOptions')
      expect(r.left.issues.map((i) => i.path).sort()).toEqual(
        ['options.classes[1]', 'options.classes[2]', 'options.sampler', 'options.samples', 'options.verbsoe'].sort(),
      )
      expect(r.left.message).toContain('options.samples: is 0.5; expected an integer')
    }
  })

  it('refuses a non-object', () => {
    expect(E.isLeft(options(42))).toBe(true)
    expect(E.isLeft(d.number()(Number.NaN))).toBe(true)
  })
})

const gradientProbe: Probe<GradientOracle, { readonly scale: number }, number> = {
  id: 'test/gradient-norm',
  summary: 'the norm of the gradient of class 0 at the origin, times scale',
  requires: ['gradients'],
  options: d.struct({ scale: d.withDefault(d.number({ greaterThan: 0 }), 1) }),
  run: (oracle, opts) =>
    TE.map((g: { data: Float64Array }) => opts.scale * Math.hypot(...g.data))(
      oracle.gradient({ rows: 1, cols: oracle.info.inputDim, data: new Float64Array(oracle.info.inputDim) }, 0),
    ),
}

describe('probes and the registry', () => {
  it('refuses duplicate ids, naming both positions', () => {
    const r = makeRegistry([gradientProbe, { ...gradientProbe, summary: 'again' }])
    expect(E.isLeft(r) && r.left.message).toContain("probes[1] and probes[0] share the id 'test/gradient-norm'")
  })

  it('finds probes by id and runs them after checking capabilities and options', async () => {
    const reg = makeRegistry([gradientProbe])
    expect(E.isRight(reg)).toBe(true)
    if (E.isLeft(reg)) return
    const probe = reg.right.get('test/gradient-norm')!
    expect(reg.right.ids()).toEqual(['test/gradient-norm'])
    const { oracle, w } = linearModel(3, 2, 9)
    const value = await toPromise(runProbe(probe, oracle, { scale: 2 }, makeContext({ seed: 1 })))
    expect(value).toBeCloseTo(2 * Math.hypot(w[0]!, w[1]!, w[2]!), 12)
    const missing = await runProbe(probe, labelOnly(oracle), {}, makeContext({ seed: 1 }))()
    expect(E.isLeft(missing) && missing.left._tag).toBe('MissingCapability')
    const bad = await runProbe(probe, oracle, { scale: -1 }, makeContext({ seed: 1 }))()
    expect(E.isLeft(bad) && bad.left._tag).toBe('InvalidOptions')
    const controller = new AbortController()
    controller.abort()
    const aborted = await runProbe(probe, oracle, {}, makeContext({ seed: 1, signal: controller.signal }))()
    expect(E.isLeft(aborted) && aborted.left._tag).toBe('Aborted')
  })

  it('derives capabilities from info and methods', () => {
    const { oracle } = linearModel(2, 2, 1)
    expect(capabilitiesOf(oracle)).toEqual(['labels', 'scores', 'logits', 'gradients'])
    expect(capabilitiesOf(labelOnly(oracle))).toEqual(['labels'])
  })
})
