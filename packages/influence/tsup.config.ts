import { sondeTsupConfig } from '../../tsup.shared.js'

export default sondeTsupConfig(['src/index.ts', 'src/tfjs/index.ts'])
