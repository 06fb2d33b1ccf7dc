export { boundaryDistance, boundaryProbe, type BoundaryOptions, type BoundaryResult } from './boundary.js'
export { fromVendorClient, type VendorClient, type VendorOptions } from './vendor.js'
import { boundaryProbe } from './boundary.js'

/**
 * The probes this plugin adds. A host (the `sonde` CLI's `--plugin sonde-plugin-boundary`, or your code)
 * registers them beside the built-ins: `makeRegistry([...builtinProbes, ...probes])`.
 *
 * @example
 * import { builtinProbes } from 'sonde'
 * import { makeRegistry } from '@sonde/oracle'
 * import { probes } from 'sonde-plugin-boundary'
 *
 * const registry = makeRegistry([...builtinProbes, ...probes]) // Right: the built-ins and 'sonde-plugin-boundary/distance'
 */
export const probes = [boundaryProbe] as const
