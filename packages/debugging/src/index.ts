export { fitDirichletProcessGmm, sampleComponent, digamma, type DpGmm, type DpGmmOptions, type GmmComponent } from './gmm.js'
export { trainVae, type Generator, type Vae, type VaeOptions } from './vae.js'
