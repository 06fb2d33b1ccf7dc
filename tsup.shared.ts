import { defineConfig } from 'tsup'

/** Every package builds the same way: ESM + .d.ts per entry point, nothing else bundled in. */
export const sondeTsupConfig = (entry: readonly string[] = ['src/index.ts']) =>
  defineConfig({
    entry: [...entry],
    format: ['esm'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
  })
