/** Types of benchmarks-doc.mjs, for its test (test/load/benchmarks-doc.test.ts). */
export declare const BENCHMARKS_DOC: string;

/** The options a rendering takes: the record's path to name, and versions to print when the record names none. */
export interface RenderOptions {
  recordFile?: string;
  versions?: Record<string, string | null>;
}

export declare function commandOf(rec: object): string | null;
export declare function renderBenchmarks(rec: object, o?: RenderOptions): string;
export declare function writeBenchmarksDoc(rec: object, o?: RenderOptions, file?: string): string;
