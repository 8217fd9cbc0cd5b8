/**
 * The `batch` message (docs/protocol.md, `batch=1`): several events messages,
 * already encoded, wrapped into one WebSocket message without decoding or
 * re-encoding them. Both formats allow it by concatenation: in MessagePack a
 * map header, three short strings and an array header go in front of the
 * messages as they are; in JSON the messages are joined with commas inside a
 * fixed prefix and suffix.
 *
 * Built once per range of items, filter and format (the frame cache shares
 * it), never per subscriber.
 */

// {type: "batch", messages: [ ... as msgpackr and any sane encoder writes it:
// fixmap(2), fixstr "type", fixstr "batch", fixstr "messages"; the array header follows.
const MSGPACK_HEAD = Buffer.from([0x82, 0xa4, ...Buffer.from('type'), 0xa5, ...Buffer.from('batch'), 0xa8, ...Buffer.from('messages')]);
const JSON_HEAD = Buffer.from('{"type":"batch","messages":[');
const JSON_TAIL = Buffer.from(']}');
const COMMA = 0x2c;

/** The messages of the batch being built, unwrapped (a scratch list: batches are built one at a time). */
const parts: Uint8Array[] = [];

/**
 * One batch message holding `messages[0..count)`, each a complete encoded
 * events message of the same format (`binary`: MessagePack, else JSON).
 * `unwrap` gives a message's bytes from what the caller holds (for example
 * the payload of a prepared WebSocket frame); the identity by default.
 */
export function batchMessage<M = Uint8Array>(
  messages: readonly M[],
  count: number,
  binary: boolean,
  unwrap: (held: M) => Uint8Array = identity as (held: M) => Uint8Array,
): Buffer {
  if (count < 2) throw new RangeError(`a batch holds at least 2 messages, got ${count}`);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const part = unwrap(messages[i]!);
    parts[i] = part;
    bytes += part.byteLength;
  }
  let out: Buffer;
  let at: number;
  if (binary) {
    const arrayHeader = count < 16 ? 1 : count < 65_536 ? 3 : 5;
    out = Buffer.allocUnsafe(MSGPACK_HEAD.length + arrayHeader + bytes);
    MSGPACK_HEAD.copy(out, 0);
    at = MSGPACK_HEAD.length;
    if (count < 16) out[at] = 0x90 | count;
    else if (count < 65_536) {
      out[at] = 0xdc;
      out.writeUInt16BE(count, at + 1);
    } else {
      out[at] = 0xdd;
      out.writeUInt32BE(count, at + 1);
    }
    at += arrayHeader;
    for (let i = 0; i < count; i++) {
      out.set(parts[i]!, at);
      at += parts[i]!.byteLength;
    }
  } else {
    out = Buffer.allocUnsafe(JSON_HEAD.length + bytes + (count - 1) + JSON_TAIL.length);
    JSON_HEAD.copy(out, 0);
    at = JSON_HEAD.length;
    for (let i = 0; i < count; i++) {
      if (i > 0) out[at++] = COMMA;
      out.set(parts[i]!, at);
      at += parts[i]!.byteLength;
    }
    JSON_TAIL.copy(out, at);
  }
  parts.length = 0;
  return out;
}

function identity(bytes: unknown): Uint8Array {
  return bytes as Uint8Array;
}
