import { taskEither as TE } from 'fp-ts'
import { decoders as d, errors, type Decoder, type Matrix, type Oracle, type Probe } from '@sonde/oracle'
import { copyClassifier, type CopyResult } from './copy.js'
import { mlpCopy, softmaxCopy, treeCopy } from './families.js'
import { adaptive, balanced, boundary, gaussian, jitter, uniformBox, type Sampler } from './samplers.js'

const fields = d.struct({
  samples: d.number({ integer: true, min: 1 }),
  sampler: d.withDefault(d.literal('uniformBox', 'gaussian', 'jitter', 'balanced', 'boundary', 'adaptive'), 'jitter'),
  copy: d.withDefault(d.literal('softmax', 'mlp', 'tree'), 'mlp'),
  sigma: d.optional(d.number({ greaterThan: 0 })),
  rounds: d.optional(d.number({ integer: true, min: 1 })),
  maxDepth: d.optional(d.number({ integer: true, min: 1 })),
  reference: d.optional(d.array(d.array(d.number()), { minLength: 1 })),
})

/** Options of {@link copyingProbe}, as decoded from JSON-like input. */
export type CopyingProbeOptions = typeof fields extends Decoder<infer A> ? A : never

const toMatrix = (rows: readonly (readonly number[])[]): Matrix => ({ rows: rows.length, cols: rows[0]!.length, data: Float64Array.from(rows.flat()) })

/**
 * Registry descriptor of {@link copyClassifier}, with samplers and families chosen by name.
 * Needs labels only.
 *
 * @example
 * await toPromise(runProbe(copyingProbe, blackBox, { samples: 5000, sampler: 'jitter', copy: 'tree', reference }, makeContext({ seed: 1 })))
 */
export const copyingProbe: Probe<Oracle, CopyingProbeOptions, CopyResult> = {
  id: 'sonde/copying',
  summary: 'copy a classifier from label queries into a model you control, and report the synthetic sample it was copied from',
  requires: ['labels'],
  options: fields,
  run: (oracle, o, ctx) => {
    if (o.reference !== undefined && o.reference.some((r) => r.length !== o.reference![0]!.length)) {
      return TE.left(errors.invalidOptions([{ path: 'options.reference', message: 'rows have different lengths' }]))
    }
    const j = jitter(o.sigma !== undefined ? { sigma: o.sigma } : {})
    const samplers: Record<CopyingProbeOptions['sampler'], Sampler> = {
      uniformBox: uniformBox(),
      gaussian: gaussian(),
      jitter: j,
      balanced: balanced(j),
      boundary: boundary(j),
      adaptive: adaptive(j),
    }
    const family = o.copy === 'softmax' ? softmaxCopy() : o.copy === 'tree' ? treeCopy(o.maxDepth !== undefined ? { maxDepth: o.maxDepth } : {}) : mlpCopy()
    return copyClassifier(oracle, {
        sampler: samplers[o.sampler],
        samples: o.samples,
        copy: family,
        seed: ctx.seed,
        ...(o.rounds !== undefined ? { rounds: o.rounds } : {}),
        ...(o.reference !== undefined ? { reference: toMatrix(o.reference) } : {}),
      })
  },
}

