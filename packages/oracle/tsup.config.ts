import { sondeTsupConfig } from '../../tsup.shared.js'

export default sondeTsupConfig(['src/index.ts', 'src/tfjs.ts', 'src/journal.ts', 'src/http.ts', 'src/testing/index.ts'])
