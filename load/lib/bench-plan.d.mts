/** Types of bench-plan.mjs's pure part, for the unit test (test/load/bench-plan.test.ts). */
export declare const SCENARIOS: string[];
export declare const TRIO: string[];
export declare function fanoutGroups(scenarios: string[], servers: string[]): string[][];
