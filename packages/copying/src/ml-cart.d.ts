// Minimal types for ml-cart 2.x (the package ships none).
declare module 'ml-cart' {
  export interface TreeNodeLike {
    readonly left?: TreeNodeLike
    readonly right?: TreeNodeLike
  }
  export class DecisionTreeClassifier {
    constructor(options?: { gainFunction?: 'gini'; maxDepth?: number; minNumSamples?: number; gainThreshold?: number })
    root: TreeNodeLike
    train(x: number[][], y: number[]): void
    predict(x: number[][]): number[]
  }
}
