/** Types of sustained.mjs, for the unit test (test/load/targets.test.ts). */
export declare const KEPT_UP_SHARE: number;
export declare function behindWhy(r: { error?: string | null; behindAtEnd?: number; deliveriesPerSec?: number; offeredPerSec?: number | null }): string | null;
export declare function bestSustained<T extends { server: string; error?: string | null; latency?: { p99Ms: number } }>(runs: T[]): Record<string, T>;
