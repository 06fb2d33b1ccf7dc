import { defineConfig } from 'tsup'

/** Every package builds the same way: ESM + .d.ts per entry point, nothing else bundled in. */
export const sondeTsupConfig = (entry: readonly string[] = ['src/index.ts']) =>
  defineConfig({
    entry: [...entry],
    format: ['esm'],
    // The fast tier (npm test) builds JavaScript only (SONDE_DTS=0): nothing in it reads .d.ts files, and the
    // declaration build is nearly all of a package's build time; the slow tier and publishing build them.
    dts: process.env.SONDE_DTS !== '0',
    clean: true,
    sourcemap: true,
    target: 'es2022',
  })
