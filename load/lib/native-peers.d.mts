/** Types of native-peers.mjs's lookups, for the smoke test (test/load/smoke.test.ts). */
export declare function natsServerBinary(): string | null;
export declare function nginxBinary(): string | null;
export declare function nchanModule(): string | null;
export declare function natsSkip(): string | undefined;
export declare function nchanSkip(): string | undefined;
