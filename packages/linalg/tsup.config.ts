import { sondeTsupConfig } from '../../tsup.shared.js'

export default sondeTsupConfig()
