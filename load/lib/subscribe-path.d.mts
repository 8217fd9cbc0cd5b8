/** Types of subscribe-path.mjs, for the unit test (test/load/keys.test.ts). */
export declare function subscribePath(mode: 'fanwire' | 'raw' | 'socketio', stream: number, topics: number, keys?: number, resume?: { index: number; epoch: string } | null, lag?: string): string;
