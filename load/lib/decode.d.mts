/** Types of decode.mjs's fanwire part, for the unit test (test/load/keys.test.ts). */
export interface Decoded {
  kind: string;
  index: number;
  n: number;
  times: Float64Array;
  seqs: Float64Array;
}
export declare const slowPath: { events: number };
export declare function newDecoded(): Decoded;
export declare function fanwireDecoder(size: number, topics: number, keys?: number): (buf: Buffer, start: number, end: number, out: Decoded) => Decoded;
