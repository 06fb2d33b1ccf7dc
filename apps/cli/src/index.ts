/**
 * `@sonde/cli`: the `sonde` command, and the pieces it is made of for hosts that want them (the HTML report of
 * a run, the exit codes).
 *
 * @example
 * import { main } from '@sonde/cli'
 *
 * const lines: string[] = []
 * const code = await main(['node', 'sonde', 'list'], { out: (t) => lines.push(t), err: (t) => lines.push(t), tty: false }) // 0; lines name every probe
 */
export { main, describeText } from './cli.js'
export { executeRun, type RunRequest, type RunIo } from './run.js'
export { exitCodes, type ExitCode, type RunStatus } from './exit-codes.js'
export { renderHtml } from './html.js'
export { chartSvg } from './svg.js'
export { encodePng } from './png.js'
export { rawOptions, typedValue } from './options.js'
export type { RunDocument } from './document.js'
