/** Types of interleave.mjs's pure part, for the unit test (test/load/targets.test.ts). */
export declare function interleaveOrder<T>(items: T[]): T[];
export declare function bestRows<T extends { server: string }>(runs: T[], pick: (runs: T[]) => Record<string, T>): (T & { runs: number })[];
export declare function burstSides<S extends { spec: { name: string }; session: unknown; log: (line: string) => void; dead?: boolean }>(
  sides: S[],
  writes: ('frames' | 'one')[],
): { spec: S['spec']; session: S['session']; log: S['log']; write: 'frames' | 'one'; readonly dead: boolean | undefined }[];
