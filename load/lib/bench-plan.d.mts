/** Types of bench-plan.mjs's pure part, for the unit test (test/load/bench-plan.test.ts). */
export declare const SCENARIOS: string[];
export declare const TRIO: string[];
export declare const DEFAULT_SERVERS: string[];
export declare const TARGETS_PRESET: { scenarios: string[]; servers: string[]; budgetSeconds: number };
export declare function fanoutGroups(scenarios: string[], servers: string[], preset?: string | null): string[][];
export declare function parseBenchOptions(argv: string[]): {
  help?: boolean;
  scenarios: string[];
  servers: string[];
  quick: boolean;
  preset: string | null;
  /** Whether the run renders docs/benchmarks.md: not with --quick or --no-docs. */
  docs: boolean;
  plan: { budgetSeconds: number; features: { keys: number; subscribers: number }; sustained: { rate: number; subscribers: number } };
};
