/** Types of versions.mjs, for test/load/benchmarks-doc.test.ts. */
export declare function versions(): { node: string; fanwire: string | null; ws: string | null; 'uWebSockets.js': string | null; 'socket.io': string | null };
