/**
 * Sonde: probe machine-learning classifiers from the outside. Each family is a namespace; the probes and
 * the compositions that span families are exported at the top.
 *
 * @example
 * import { builtinProbes, oracle } from 'sonde'
 *
 * const x = oracle.fromRows([[0, 1], [2, 3]]) // each family is a namespace: oracle, models, copying, inverse, …
 * const ids = builtinProbes.map((p) => p.id) // ['sonde/copying', 'sonde/inverse-classification', …]
 */
export * as oracle from '@sonde/oracle'
export * as models from '@sonde/models'
export * as datasets from '@sonde/datasets'
export * as copying from '@sonde/copying'
export * as inverse from '@sonde/inverse-classification'
export * as extraction from '@sonde/gradient-extraction'
export * as influence from '@sonde/influence'
export * as debugging from '@sonde/debugging'
export { builtinProbes, defaultRegistry } from './probes.js'
export {
  blackBoxCounterfactual,
  blackBoxCounterfactualProbe,
  blackBoxCounterfactualReport,
  type BlackBoxCounterfactualOptions,
  type BlackBoxCounterfactualResult,
} from './counterfactual.js'
export { explanationLeakAudit, explanationLeakAuditProbe, explanationLeakReport, type ExplanationLeakOptions, type ExplanationLeakResult, type LeakVerdict } from './leak.js'
export { audit, auditProbe, auditReport, type AuditOptions, type AuditResult, type AuditSection } from './audit.js'
export { makeContext, runProbe, describeProbe, reportOf, toPromise, type Probe, type ProbeReport, type QueryUsage } from '@sonde/oracle'
