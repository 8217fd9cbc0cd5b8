/** Types of scenario-features.mjs's pure part, for the unit test (test/load/targets.test.ts). */
export declare function featureNames(transport: string, keys?: number): { on: string; off: string; filtered: string };
