import { defineConfig } from 'tsup'

// The bin and the library entry; dependencies stay external (installed beside the CLI).
export default defineConfig({
  entry: ['src/bin.ts', 'src/index.ts'],
  format: ['esm'],
  // As every package (tsup.shared.ts): the fast tier builds without declarations (SONDE_DTS=0).
  dts: process.env.SONDE_DTS === '0' || process.env.SONDE_CLI_NO_DTS === '1' ? false : { entry: 'src/index.ts' },
  clean: true,
  sourcemap: true,
  target: 'es2022',
})
