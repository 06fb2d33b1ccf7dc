import { either as E } from 'fp-ts'
import { decoders as d, errors, type Decoder, type Matrix, type Oracle, type Probe } from '@sonde/oracle'
import { defuse, type DefuseOptions, type DefuseResult } from './defuse.js'
import type { Generator } from './vae.js'

const generator: Decoder<Generator> = (u, path = 'generator') => {
  const g = u as Partial<Generator> | undefined
  return typeof g === 'object' && g !== null && typeof g.encode === 'function' && typeof g.decode === 'function' && Number.isInteger(g.latentDim) && g.latentDim! >= 1
    ? E.right(g as Generator)
    : E.left(errors.invalidOptions([{ path, message: 'expected a Generator: { latentDim, encode(x), decode(z) }' }]))
}

const examples: Decoder<{ x: Matrix; y: Int32Array }> = (u, path = 'data') => {
  const v = u as { x?: Matrix; y?: Int32Array } | undefined
  const ok = typeof v === 'object' && v !== null && v.x !== undefined && v.x.data instanceof Float64Array && v.x.data.length === v.x.rows * v.x.cols && v.y instanceof Int32Array && v.y.length === v.x.rows
  return ok ? E.right(v as { x: Matrix; y: Int32Array }) : E.left(errors.invalidOptions([{ path, message: 'expected { x: Matrix, y: Int32Array } with one label per row' }]))
}

const options = d.struct({
  generator,
  data: examples,
  perturbations: d.optional(d.number({ integer: true, min: 1 })),
  keepPerSource: d.optional(d.number({ integer: true, min: 1 })),
  scale: d.optional(d.number({ greaterThan: 0 })),
  batchSize: d.optional(d.number({ integer: true, min: 1 })),
  samplesPerRegion: d.optional(d.number({ integer: true, min: 1 })),
  maxComponents: d.optional(d.number({ integer: true, min: 1 })),
  weightThreshold: d.optional(d.number({ min: 0 })),
})

/** Options of {@link defuseProbe}: the generator and the labelled source data are values, not JSON. */
export type DefuseProbeOptions = typeof options extends Decoder<infer A> ? A : never

/**
 * Registry descriptor of {@link defuse}: labels-only queries, so any oracle; the seed comes from
 * the probe context.
 *
 * @example
 * const r = await toPromise(runProbe(defuseProbe, blackBox, { generator: vae, data: { x, y } }, makeContext({ seed: 1 })))
 */
export const defuseProbe: Probe<Oracle, DefuseProbeOptions, DefuseResult> = {
  id: 'sonde/debugging/defuse',
  summary: "find a classifier's systematic errors beyond the test set: misclassification regions in a generator's latent space (labels only)",
  requires: ['labels'],
  options,
  run: (oracle, o, ctx) => {
    const { generator: g, data, maxComponents, weightThreshold, ...rest } = o
    const defuseOptions: DefuseOptions = {
      ...rest,
      seed: ctx.seed,
      regions: { ...(maxComponents !== undefined ? { maxComponents } : {}), ...(weightThreshold !== undefined ? { weightThreshold } : {}) },
    }
    return defuse(oracle, g, data, defuseOptions)
  },
}
