/**
 * The benchmark's events and the producer frames that carry them.
 *
 * Every event payload is `size` bytes: float64 LE scheduled send time (ms on
 * the shared clock, see clock.mjs), uint32 LE sequence number within its
 * stream (0, 1, 2, ... per run), uint32 LE stream number, then filler.
 *
 * A stream is one (topic, key) pair: a run has `topics` x `keys` streams
 * (one key, the empty one, unless `keys` > 1). Stream s is topic s % topics
 * with key floor(s / topics). Event k goes to stream k % streams with
 * sequence floor(k / streams), and subscriber n takes stream n % streams, so
 * every subscriber can check that it got every event of its stream, in
 * order. With one key a stream is a topic, as before keys existed.
 *
 * How the payload travels:
 * - raw peers (uws-publish, ws-loop, socketio): the producer sends the
 *   payload itself as one binary message; the peer routes it by the stream
 *   number at offset 12 (peers have no keys: their streams are topics).
 * - fanwire: the MessagePack frame `{topic, key?, payload}` (payload as
 *   `bin`), or a batch `{events: [...]}`. Topic names have one length per
 *   run (`t`, or `t0`..`t9`, `t00`..`t99`, ...), and so do key names (`k0`..,
 *   `k00`..), so every event of a run encodes to the same number of bytes
 *   and subscribers can find each payload without decoding MessagePack (see
 *   decode.mjs).
 */
import { Packr, Unpackr } from 'msgpackr';

export const MIN_PAYLOAD = 16;
export const SEQ_OFFSET = 8;
/** Where the stream number sits (the topic number when the run has one key). */
export const TOPIC_OFFSET = 12;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** The name of topic `i` of `topics` (all names of a run have the same length). */
export function topicName(i, topics) {
  return topics <= 1 ? 't' : `t${String(i).padStart(String(topics - 1).length, '0')}`;
}

/** The key of key number `i` of `keys`: '' with one key, else `k0`.. (one length per run). */
export function keyName(i, keys) {
  return keys <= 1 ? '' : `k${String(i).padStart(String(keys - 1).length, '0')}`;
}

/** Streams of a run: one per (topic, key) pair. */
export const streamCount = (topics = 1, keys = 1) => topics * keys;

/** Topic and key of stream `s`. */
export function streamOf(s, topics = 1, keys = 1) {
  const topic = topicName(s % topics, topics);
  const key = keyName(Math.floor(s / topics) % keys, keys);
  return { topic, key };
}

/** The `topic` selector a fanwire subscriber of stream `s` asks for: `T`, or `T:key` (docs/protocol.md). */
export function streamSelector(s, topics = 1, keys = 1) {
  const { topic, key } = streamOf(s, topics, keys);
  return key ? `${topic}:${key}` : topic;
}

/** The payload bytes of one event (fresh Buffer). */
function filler(size) {
  const buf = Buffer.alloc(size, 0x61);
  buf.fill(0, 0, MIN_PAYLOAD);
  return buf;
}

/** MessagePack `bin` header for `size` bytes. */
export function binHeader(size) {
  if (size < 256) return Buffer.from([0xc4, size]);
  if (size < 65536) return Buffer.from([0xc5, size >> 8, size & 0xff]);
  const h = Buffer.alloc(5);
  h[0] = 0xc6;
  h.writeUInt32BE(size, 1);
  return h;
}

/** MessagePack array header for `n` items. */
function arrayHeader(n) {
  if (n < 16) return Buffer.from([0x90 | n]);
  if (n < 65536) return Buffer.from([0xdc, n >> 8, n & 0xff]);
  const h = Buffer.alloc(5);
  h[0] = 0xdd;
  h.writeUInt32BE(n, 1);
  return h;
}

/**
 * Builds the producer's frame encoder for one run.
 *
 * `encode(first, count, scheduledMs)` returns one frame (a fresh Buffer)
 * carrying events first .. first+count-1, all stamped with `scheduledMs`.
 * For raw peers `count` must be 1 (they forward frames unchanged, so a frame
 * is one event).
 *
 * @param {'raw' | 'fanwire'} mode
 * @param {number} size payload bytes
 * @param {number} topics
 * @param {boolean} batch fanwire only: always use the `{events: [...]}` form
 * @param {number} keys fanwire only: keys per topic (1: no key)
 */
export function frameEncoder(mode, size, topics = 1, batch = false, keys = 1) {
  if (size < MIN_PAYLOAD) throw new Error(`--payload must be at least ${MIN_PAYLOAD} bytes`);
  if (mode === 'raw' && keys > 1) throw new Error('keys are fanwire only (the peers route by topic)');
  const base = filler(size);
  const streams = streamCount(topics, keys);
  if (mode === 'raw') {
    return (first, count, scheduledMs) => {
      if (count !== 1) throw new Error('raw peers take one event per frame');
      const buf = Buffer.from(base);
      stamp(buf, 0, scheduledMs, first, streams);
      return buf;
    };
  }
  // One event as MessagePack: fixmap "topic" <name> ("key" <key>) "payload" <bin>; the same length for every stream.
  const events = Array.from({ length: streams }, (_, s) => {
    const { topic, key } = streamOf(s, topics, keys);
    return packr.pack(key ? { topic, key, payload: base } : { topic, payload: base });
  });
  const eventLength = events[0].length;
  for (const [i, e] of events.entries()) {
    if (e.length !== eventLength || !e.subarray(eventLength - size - binHeader(size).length, eventLength - size).equals(binHeader(size))) {
      throw new Error(`msgpack encoder did not write event ${i} as {topic, payload: bin} of ${eventLength} bytes`);
    }
  }
  const batchHead = Buffer.from([0x81, 0xa6, ...Buffer.from('events')]);
  const encode = (first, count, scheduledMs) => {
    if (!batch && count === 1) {
      const buf = Buffer.from(events[first % streams]);
      stamp(buf, eventLength - size, scheduledMs, first, streams);
      return buf;
    }
    const head = Buffer.concat([batchHead, arrayHeader(count)]);
    const buf = Buffer.allocUnsafe(head.length + count * eventLength);
    head.copy(buf, 0);
    for (let j = 0; j < count; j++) {
      const k = first + j;
      const at = head.length + j * eventLength;
      events[k % streams].copy(buf, at);
      stamp(buf, at + eventLength - size, scheduledMs, k, streams);
    }
    return buf;
  };
  // Check once that MessagePack reads back what we wrote.
  const probe = unpackr.unpack(encode(streams + 1, batch ? 3 : 1, 123.5));
  const first = batch ? probe.events[0] : probe;
  const p = Buffer.from(first.payload);
  const want = streamOf((streams + 1) % streams, topics, keys);
  if (first.topic !== want.topic || (first.key ?? '') !== want.key || p.readDoubleLE(0) !== 123.5 || p.readUInt32LE(SEQ_OFFSET) !== Math.floor((streams + 1) / streams)) {
    throw new Error(`frame encoder self-check failed: ${JSON.stringify(probe).slice(0, 200)}`);
  }
  return encode;
}

/** Writes event `k`'s time, sequence and stream into the payload at `buf[at..]`. */
function stamp(buf, at, scheduledMs, k, streams) {
  buf.writeDoubleLE(scheduledMs, at);
  buf.writeUInt32LE(Math.floor(k / streams), at + SEQ_OFFSET);
  buf.writeUInt32LE(k % streams, at + TOPIC_OFFSET);
}

/** How many of `sent` events (0..sent-1, round robin) went to stream `s` of `streams`. */
export function eventsOfStream(sent, s, streams) {
  return Math.floor(sent / streams) + (s < sent % streams ? 1 : 0);
}

/** Events per stream, given `sent` in all: what each stream's subscribers are owed. */
export const publishedPerStream = (sent, streams) => Array.from({ length: streams }, (_, s) => eventsOfStream(sent, s, streams));
