export { fitDirichletProcessGmm, sampleComponent, digamma, type DpGmm, type DpGmmOptions, type GmmComponent } from './gmm.js'
