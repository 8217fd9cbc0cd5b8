/**
 * The benchmark's event payload, shared by the publisher and subscribers.
 *
 * Every event is `size` bytes: float64 LE scheduled send time (ms on the
 * shared clock, see clock.mjs), uint32 LE sequence number (0, 1, 2, ... per
 * run), then filler. Peers forward it as a raw binary WebSocket message;
 * fanwire gets it as the MessagePack `bin` payload of `{topic, payload}` and
 * delivers it as the last field of
 * `{type: 'events', index, events: [{topic, type, key, payload}]}`,
 * so subscribers find it at a fixed distance from the message's end and never
 * decode MessagePack per message (anything unexpected falls back to msgpackr).
 */
import { Packr, Unpackr } from 'msgpackr';

export const MIN_PAYLOAD = 12;
const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** @param {number} size */
function filler(size) {
  const buf = Buffer.alloc(size, 0x61);
  buf.fill(0, 0, MIN_PAYLOAD);
  return buf;
}

/** Builds encoders for one run: `encode(scheduledMs, seq)` returns a fresh Buffer. */
export function payloadEncoder(/** @type {'raw' | 'fanwire'} */ mode, /** @type {number} */ size, topic = 't') {
  if (size < MIN_PAYLOAD) throw new Error(`--payload must be at least ${MIN_PAYLOAD} bytes`);
  const template = mode === 'raw' ? filler(size) : packr.pack({ topic, payload: filler(size) });
  const at = template.length - size;
  if (mode === 'fanwire' && binHeaderLength(template, template.length, size) === 0) {
    throw new Error('msgpack encoder did not put the payload last as bin');
  }
  return (scheduledMs, seq) => {
    const buf = Buffer.from(template);
    buf.writeDoubleLE(scheduledMs, at);
    buf.writeUInt32LE(seq, at + 8);
    return buf;
  };
}

/** Length of the msgpack bin header just before the last `size` bytes of buf[..end), or 0 if absent. */
function binHeaderLength(buf, end, size) {
  const p = end - size;
  if (size < 256) return p >= 2 && buf[p - 2] === 0xc4 && buf[p - 1] === size ? 2 : 0;
  if (size < 65536) return p >= 3 && buf[p - 3] === 0xc5 && buf.readUInt16BE(p - 2) === size ? 3 : 0;
  return p >= 5 && buf[p - 5] === 0xc6 && buf.readUInt32BE(p - 4) === size ? 5 : 0;
}

// {type: 'events', index: ...} as msgpackr (and any sane encoder) writes it:
// fixmap(3), "type", "events", "index", then the index as an integer.
const EVENTS_PREFIX = Buffer.from([0x83, 0xa4, ...Buffer.from('type'), 0xa6, ...Buffer.from('events'), 0xa5, ...Buffer.from('index')]);

/**
 * What a fanwire subscriber got: kind 'events' (with index, scheduledMs, seq),
 * 'hello' (with index), 'heartbeat', or 'other' (with the decoded value).
 * `out` is reused to avoid an allocation per message.
 * @typedef {{kind: string, index: number, scheduledMs: number, seq: number, value: unknown}} Decoded
 */

/**
 * @param {Buffer} buf  the message is buf[start, end)
 * @param {number} size the payload size the publisher uses
 * @param {Decoded} out
 */
export function decodeFanwire(buf, start, end, size, out) {
  if (end - start > EVENTS_PREFIX.length + 9 + size && buf.compare(EVENTS_PREFIX, 0, EVENTS_PREFIX.length, start, start + EVENTS_PREFIX.length) === 0) {
    const p = start + EVENTS_PREFIX.length;
    const t = buf[p];
    let index = -1;
    if (t < 0x80) index = t;
    else if (t === 0xcc) index = buf[p + 1];
    else if (t === 0xcd) index = buf.readUInt16BE(p + 1);
    else if (t === 0xce) index = buf.readUInt32BE(p + 1);
    if (index >= 0 && binHeaderLength(buf, end, size) !== 0) {
      out.kind = 'events';
      out.index = index;
      out.scheduledMs = buf.readDoubleLE(end - size);
      out.seq = buf.readUInt32LE(end - size + 8);
      return out;
    }
  }
  return decodeSlow(buf.subarray(start, end), size, out);
}

/** Full MessagePack decode; also used once per process to check the fast path. */
export function decodeSlow(bytes, size, out) {
  const msg = unpackr.unpack(bytes);
  out.value = msg;
  out.kind = 'other';
  if (msg?.type === 'hello') {
    out.kind = 'hello';
    out.index = msg.index;
  } else if (msg?.type === 'heartbeat') {
    out.kind = 'heartbeat';
  } else if (msg?.type === 'events' && msg.events?.length === 1) {
    const payload = msg.events[0].payload;
    if (payload instanceof Uint8Array && payload.length === size) {
      const b = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
      out.kind = 'events';
      out.index = msg.index;
      out.scheduledMs = b.readDoubleLE(0);
      out.seq = b.readUInt32LE(8);
    }
  }
  return out;
}

/** Raw peer message: the payload itself. Returns false if it is too short. */
export function decodeRaw(buf, start, end, out) {
  if (end - start < MIN_PAYLOAD) return false;
  out.kind = 'events';
  out.scheduledMs = buf.readDoubleLE(start);
  out.seq = buf.readUInt32LE(start + 8);
  return true;
}
