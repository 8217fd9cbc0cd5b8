/** Types of decode.mjs's fanwire part, for the unit tests (test/load/keys.test.ts, test/load/batch.test.ts). */
export interface Decoded {
  kind: string;
  index: number;
  n: number;
  times: Float64Array;
  seqs: Float64Array;
  next: number;
}
export declare const slowPath: { events: number };
export declare function newDecoded(): Decoded;
export declare function batchCount(buf: Buffer, start: number, end: number): [number, number] | null;
export declare function decodeFanwireBatch(bytes: Uint8Array): unknown[];
export declare function decodeFanwireValue(msg: unknown, size: number, out: Decoded): Decoded;
export declare function fanwireDecoder(size: number, topics: number, keys?: number): (buf: Buffer, start: number, end: number, out: Decoded, within?: boolean) => Decoded;
