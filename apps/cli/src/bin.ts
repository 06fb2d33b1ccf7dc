#!/usr/bin/env node
import { main } from './cli.js'

// Exit once stdout has drained: an HTTP client's idle keep-alive sockets must not hold the process open.
main(process.argv).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e: unknown) => {
    process.stderr.write(`sonde: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  },
)
