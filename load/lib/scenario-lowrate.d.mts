/** Types of scenario-lowrate.mjs's pure part, for the unit test (test/load/targets.test.ts). */
export declare const LOWRATE_SERVERS: string[];
export declare function lowestP99<T extends { server: string; error?: string | null; latency?: { p99Ms: number } }>(runs: T[]): Record<string, T>;
