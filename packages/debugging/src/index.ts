export { fitDirichletProcessGmm, sampleComponent, digamma, type DpGmm, type DpGmmOptions, type GmmComponent } from './gmm.js'
export { trainVae, type Generator, type Vae, type VaeOptions } from './vae.js'
export {
  findMisclassifications,
  findMisclassificationRegions,
  regionSamples,
  labelRegions,
  majorityLabeller,
  correctModel,
  defuse,
  type IdentificationOptions,
  type Identification,
  type Region,
  type RegionOptions,
  type Regions,
  type LabelledRegion,
  type RegionLabeller,
  type CorrectionOptions,
  type CorrectionResult,
  type CorrectionReport,
  type LabelRegionsOptions,
  type DefuseOptions,
  type DefuseResult,
  type RegionReport,
} from './defuse.js'
export { defuseProbe, defuseReport, type DefuseProbeOptions, type DefuseProbeResult } from './probe.js'
