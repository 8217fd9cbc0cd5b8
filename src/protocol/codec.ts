/**
 * Bytes <-> values for both wire formats. MessagePack goes through msgpackr
 * configured for plain, portable MessagePack (no records, no msgpackr
 * extensions on output), so clients in any language can read what we send.
 *
 * Decoding accepts what msgpackr accepts; `validate.ts` then rejects anything
 * that is not plain data, so by the time a value is encoded for subscribers
 * it cannot fail to encode.
 */
import { Packr, Unpackr } from 'msgpackr';
import { DecodeFailedError, InvalidFrameError } from '../errors.js';
import type { Format } from './messages.js';
import { msgpackProblem } from './msgpack-check.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  // 'auto' (bigint only beyond 2^53) is supported at runtime but missing from msgpackr's types.
  int64AsType: 'auto' as 'bigint',
});

/** Rejects invalid UTF-8 instead of silently replacing it with U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one frame: MessagePack when `binary`, else UTF-8 JSON. Throws
 * DecodeFailedError for bytes that do not decode, InvalidFrameError for
 * MessagePack that uses extensions the protocol does not allow.
 */
export function decodeFrame(data: Uint8Array, binary: boolean): unknown {
  if (data.byteLength === 0) throw new DecodeFailedError('empty frame');
  if (binary) {
    const problem = msgpackProblem(data);
    if (problem !== null) throw new InvalidFrameError(`frame: ${problem}`);
  }
  try {
    if (binary) return unpackr.unpack(data);
    return JSON.parse(utf8.decode(data));
  } catch (err) {
    const what = binary ? 'MessagePack' : 'JSON';
    throw new DecodeFailedError(`frame is not valid ${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * JSON has no bytes or 64-bit integers: bytes become base64, integers beyond
 * 2^53 become decimal strings (dates already become ISO strings via toJSON).
 */
function jsonReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, jsonReplacer), 'utf8');
}

export function encodeMsgpack(value: unknown): Buffer {
  return packr.pack(value);
}

export function encode(value: unknown, format: Format): Buffer {
  return format === 'json' ? encodeJson(value) : encodeMsgpack(value);
}

/** Whether a message in this format travels as a binary (true) or text (false) WebSocket message. */
export function isBinaryFormat(format: Format): boolean {
  return format === 'msgpack';
}
