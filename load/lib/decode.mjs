/**
 * Subscriber-side decoding of one message, per server kind, into a reused
 * `Decoded` record (no allocation per message on the fast paths).
 *
 * - raw peers: the message is the payload (see payload.mjs).
 * - fanwire: `{type: 'events', index, events: [{topic, type, key, payload}, ...]}`.
 *   Every event of a run encodes to the same length (one topic-name length,
 *   empty type, one key length, `bin` payload last), so the payloads sit at
 *   fixed distances and are read in place. Anything else (hello, heartbeat, an
 *   unexpected shape) goes through msgpackr. With `batch=1` several events
 *   messages come wrapped in `{type: 'batch', messages: [...]}`: `batchCount`
 *   reads the header, and the decoder walks the messages one by one in place
 *   (`within`), each ending where the next begins (`out.next`).
 * - socketio: engine.io v4 packets in text frames: `0{...}` open, `2` ping,
 *   `40{...}` namespace joined, `42["e",{"t":<ms>,"s":<seq>,"p":"..."}]` an
 *   event; the time and sequence are parsed from the bytes right after the
 *   fixed prefix, without JSON.parse.
 */
import { Packr, Unpackr } from 'msgpackr';
import { binHeader, keyName, MIN_PAYLOAD, SEQ_OFFSET, topicName } from './payload.mjs';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/**
 * @typedef {object} Decoded
 * @property {string} kind  'events' | 'hello' | 'heartbeat' | 'eio-open' | 'ping' | 'other'
 * @property {number} index fanwire item index (events, hello)
 * @property {number} n     number of events in `times` / `seqs`
 * @property {Float64Array} times scheduled send times (ms)
 * @property {Float64Array} seqs  per-topic sequence numbers
 * @property {string} epoch fanwire hello
 * @property {boolean} gap  fanwire hello
 * @property {boolean} conflated fanwire events: a conflated message (lag=conflate)
 * @property {number} to    fanwire gap message: last index skipped (`index` is the first)
 * @property {string} reason fanwire gap message
 * @property {unknown} value the decoded message (slow paths only)
 * @property {number} next  fanwire, read `within` a batch: where the message ended (-1: not read in place)
 */

/** Events messages that missed the fast path (each a full decode), for the record. */
export const slowPath = { events: 0 };

/** @returns {Decoded} */
export function newDecoded() {
  return { kind: '', index: 0, n: 0, times: new Float64Array(256), seqs: new Float64Array(256), epoch: '', gap: false, conflated: false, to: 0, reason: '', value: undefined, next: -1 };
}

function room(out, n) {
  if (out.times.length < n) {
    out.times = new Float64Array(n);
    out.seqs = new Float64Array(n);
  }
}

// {type: 'events', index: ...} as msgpackr (and any sane encoder) writes it:
// fixmap(3), "type", "events", "index", then the index as an integer.
const EVENTS_PREFIX = Buffer.from([0x83, 0xa4, ...Buffer.from('type'), 0xa6, ...Buffer.from('events'), 0xa5, ...Buffer.from('index')]);
const EVENTS_KEY = Buffer.from([0xa6, ...Buffer.from('events')]);

// {type: 'batch', messages: [...]}: fixmap(2), "type", "batch", "messages", then the array header.
const BATCH_PREFIX = Buffer.from([0x82, 0xa4, ...Buffer.from('type'), 0xa5, ...Buffer.from('batch'), 0xa8, ...Buffer.from('messages')]);

/**
 * When buf[start..end) is a fanwire batch message: how many messages it holds
 * and where the first begins, as [count, position]; else null.
 * @returns {[number, number] | null}
 */
export function batchCount(buf, start, end) {
  // One byte first: every other fanwire message is a map of another size
  // (events 0x83), and a native compare per message shows in the latency.
  if (buf[start] !== 0x82) return null;
  const p = start + BATCH_PREFIX.length;
  if (end - p < 1 || buf.compare(BATCH_PREFIX, 0, BATCH_PREFIX.length, start, p) !== 0) return null;
  const a = buf[p];
  if (a >= 0x90 && a <= 0x9f) return [a & 0x0f, p + 1];
  if (a === 0xdc && end - p >= 3) return [buf.readUInt16BE(p + 1), p + 3];
  if (a === 0xdd && end - p >= 5) return [buf.readUInt32BE(p + 1), p + 5];
  return null;
}

/**
 * A decoder for fanwire messages of one run.
 * @param {number} size payload bytes
 * @param {number} topics topic count (fixes the topic-name length)
 * @param {number} [keys] keys per topic (fixes the key length; 1: the empty key)
 * @returns {(buf: Buffer, start: number, end: number, out: Decoded, within?: boolean) => Decoded}
 *   `within`: the message starts at `start` inside a batch ending at `end`;
 *   read in place or not at all (`out.next` -1, the caller decodes the batch whole)
 */
export function fanwireDecoder(size, topics, keys = 1) {
  const eventLength = packr.pack({ topic: topicName(0, topics), type: '', key: keyName(0, keys), payload: Buffer.alloc(size) }).length;
  const bin = binHeader(size);
  const binAt = eventLength - size - bin.length; // within one event
  return (buf, start, end, out, within = false) => {
    out.next = -1;
    if (end - start > EVENTS_PREFIX.length + 10 && buf.compare(EVENTS_PREFIX, 0, EVENTS_PREFIX.length, start, start + EVENTS_PREFIX.length) === 0) {
      let p = start + EVENTS_PREFIX.length;
      const t = buf[p];
      let index = -1;
      if (t < 0x80) (index = t), (p += 1);
      else if (t === 0xcc) (index = buf[p + 1]), (p += 2);
      else if (t === 0xcd) (index = buf.readUInt16BE(p + 1)), (p += 3);
      else if (t === 0xce) (index = buf.readUInt32BE(p + 1)), (p += 5);
      if (index >= 0 && buf.compare(EVENTS_KEY, 0, EVENTS_KEY.length, p, p + EVENTS_KEY.length) === 0) {
        p += EVENTS_KEY.length;
        const a = buf[p];
        let n = -1;
        if (a >= 0x90 && a <= 0x9f) (n = a & 0x0f), (p += 1);
        else if (a === 0xdc) (n = buf.readUInt16BE(p + 1)), (p += 3);
        if (n > 0 && (within ? end - p >= n * eventLength : end - p === n * eventLength) && sameEvents(buf, p, n, eventLength, binAt, bin)) {
          room(out, n);
          for (let j = 0; j < n; j++) {
            const at = p + (j + 1) * eventLength - size;
            out.times[j] = buf.readDoubleLE(at);
            out.seqs[j] = buf.readUInt32LE(at + SEQ_OFFSET);
          }
          out.kind = 'events';
          out.index = index;
          out.n = n;
          out.conflated = false;
          out.next = p + n * eventLength;
          return out;
        }
      }
    }
    if (within) {
      out.kind = 'other';
      return out;
    }
    decodeFanwireSlow(buf.subarray(start, end), size, out);
    if (out.kind === 'events') slowPath.events++;
    return out;
  };
}

function sameEvents(buf, p, n, eventLength, binAt, bin) {
  for (let j = 0; j < n; j++) {
    const q = p + j * eventLength;
    if (buf[q] !== 0x84 || buf[q + binAt] !== bin[0]) return false;
  }
  return true;
}

/** Full MessagePack decode of a fanwire message; also used once per process to check the fast path. */
export function decodeFanwireSlow(bytes, size, out) {
  return decodeFanwireValue(unpackr.unpack(bytes), size, out);
}

/** The messages of a fanwire batch message, fully decoded (the slow path of a batch). */
export function decodeFanwireBatch(bytes) {
  const msg = unpackr.unpack(bytes);
  return msg?.type === 'batch' && Array.isArray(msg.messages) ? msg.messages : [];
}

/** Classifies one decoded fanwire message into `out`. */
export function decodeFanwireValue(msg, size, out) {
  out.next = -1;
  out.value = msg;
  out.kind = 'other';
  out.n = 0;
  out.conflated = false;
  if (msg?.type === 'hello') {
    out.kind = 'hello';
    out.index = msg.index;
    out.epoch = msg.epoch;
    out.gap = msg.gap === true;
  } else if (msg?.type === 'heartbeat') {
    out.kind = 'heartbeat';
  } else if (msg?.type === 'gap' && Number.isSafeInteger(msg.from) && Number.isSafeInteger(msg.to)) {
    out.kind = 'gap';
    out.index = msg.from;
    out.to = msg.to;
    out.reason = msg.reason;
  } else if (msg?.type === 'events' && Array.isArray(msg.events) && msg.events.every((e) => e?.payload instanceof Uint8Array && e.payload.length === size)) {
    room(out, msg.events.length);
    for (const [j, e] of msg.events.entries()) {
      const b = Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.length);
      out.times[j] = b.readDoubleLE(0);
      out.seqs[j] = b.readUInt32LE(SEQ_OFFSET);
    }
    out.kind = 'events';
    out.index = msg.index;
    out.n = msg.events.length;
    out.conflated = msg.conflated === true;
  }
  return out;
}

/** Raw peer message: the payload itself. */
export function decodeRaw(buf, start, end, out) {
  out.n = 0;
  out.kind = 'other';
  if (end - start < MIN_PAYLOAD) return out;
  out.kind = 'events';
  out.n = 1;
  out.times[0] = buf.readDoubleLE(start);
  out.seqs[0] = buf.readUInt32LE(start + SEQ_OFFSET);
  return out;
}

const SIO_EVENT = Buffer.from('42["e",{"t":');
const SIO_SEQ = Buffer.from(',"s":');

/** Reads the decimal number at buf[p..]: returns [value, position after it] or [NaN, p]. */
function readNumber(buf, p, end) {
  let int = 0;
  let digits = 0;
  while (p < end && buf[p] >= 0x30 && buf[p] <= 0x39) (int = int * 10 + (buf[p++] - 0x30)), digits++;
  if (digits === 0) return [NaN, p];
  if (buf[p] !== 0x2e) return [int, p];
  p++;
  let frac = 0;
  let scale = 1;
  while (p < end && buf[p] >= 0x30 && buf[p] <= 0x39) (frac = frac * 10 + (buf[p++] - 0x30)), (scale *= 10);
  return [int + frac / scale, p];
}

/** An engine.io / socket.io text frame. */
export function decodeSocketio(buf, start, end, out) {
  out.n = 0;
  if (end - start > SIO_EVENT.length && buf.compare(SIO_EVENT, 0, SIO_EVENT.length, start, start + SIO_EVENT.length) === 0) {
    const [t, p] = readNumber(buf, start + SIO_EVENT.length, end);
    if (!Number.isNaN(t) && buf.compare(SIO_SEQ, 0, SIO_SEQ.length, p, p + SIO_SEQ.length) === 0) {
      const [s] = readNumber(buf, p + SIO_SEQ.length, end);
      if (!Number.isNaN(s)) {
        out.kind = 'events';
        out.n = 1;
        out.times[0] = t;
        out.seqs[0] = s;
        return out;
      }
    }
  }
  decodeSocketioSlow(buf.toString('utf8', start, end), out);
  if (out.kind === 'events') slowPath.events++;
  return out;
}

/** The JSON.parse path: every packet type, and the once-per-process check of the fast path. */
export function decodeSocketioSlow(text, out) {
  out.n = 0;
  out.kind = 'other';
  out.value = text.slice(0, 300);
  if (text === '2') out.kind = 'ping';
  else if (text.startsWith('0{')) out.kind = 'eio-open';
  else if (text.startsWith('40')) out.kind = 'hello';
  else if (text.startsWith('42')) {
    const [name, e] = JSON.parse(text.slice(2));
    if (name === 'e' && typeof e?.t === 'number' && typeof e?.s === 'number') {
      out.kind = 'events';
      out.n = 1;
      out.times[0] = e.t;
      out.seqs[0] = e.s;
    }
  }
  return out;
}
