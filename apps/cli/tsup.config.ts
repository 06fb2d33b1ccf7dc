import { defineConfig } from 'tsup'

// The bin and the library entry; dependencies stay external (installed beside the CLI).
export default defineConfig({
  entry: ['src/bin.ts', 'src/index.ts'],
  format: ['esm'],
  // The tests build without declarations (SONDE_CLI_NO_DTS=1): they run the bin, and the .d.ts pass is slow.
  dts: process.env.SONDE_CLI_NO_DTS === '1' ? false : { entry: 'src/index.ts' },
  clean: true,
  sourcemap: true,
  target: 'es2022',
})
