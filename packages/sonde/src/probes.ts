import { either as E } from 'fp-ts'
import { makeRegistry, type AnyProbe, type InvalidInput, type Registry } from '@sonde/oracle'
import { copyingProbe } from '@sonde/copying'
import { inverseClassificationProbe } from '@sonde/inverse-classification'
import { gradientMatchingProbe, linearExtractionProbe, reluExtractionProbe } from '@sonde/gradient-extraction'
import { influenceProbe } from '@sonde/influence'
import { defuseProbe } from '@sonde/debugging'
import { blackBoxCounterfactualProbe } from './counterfactual.js'
import { explanationLeakAuditProbe } from './leak.js'
import { auditProbe } from './audit.js'

/**
 * Every probe Sonde ships: one per family algorithm, and the compositions no single family can do
 * (`sonde/black-box-counterfactual`, `sonde/explanation-leak-audit`, `sonde/audit`). Each runs from
 * JSON-like options through `runProbe`.
 *
 * @example
 * import { builtinProbes } from 'sonde'
 *
 * const ids = builtinProbes.map((p) => p.id) // ['sonde/copying', 'sonde/inverse-classification', …]
 */
export const builtinProbes: readonly AnyProbe[] = [
  copyingProbe,
  inverseClassificationProbe,
  linearExtractionProbe,
  reluExtractionProbe,
  gradientMatchingProbe,
  influenceProbe,
  defuseProbe,
  blackBoxCounterfactualProbe,
  explanationLeakAuditProbe,
  auditProbe,
] as unknown as readonly AnyProbe[]

/**
 * A registry of the built-in probes plus any plugin's (duplicate ids are refused). Nothing global is
 * touched: each call builds a new registry.
 *
 * @example
 * import { either as E } from 'fp-ts'
 * import { defaultRegistry } from 'sonde'
 *
 * const registry = defaultRegistry() // or defaultRegistry(pluginProbes)
 * const auditProbe = E.isRight(registry) ? registry.right.get('sonde/audit') : undefined
 */
export const defaultRegistry = (plugins: readonly AnyProbe[] = []): E.Either<InvalidInput, Registry> => makeRegistry([...builtinProbes, ...plugins])
