export { gradientMatchingCopy, matchingLoss, type GradientMatchingOptions, type GradientMatchingResult, type MatchTarget } from './matching.js'
