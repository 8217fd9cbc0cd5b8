/**
 * The benchmark's events and the producer frames that carry them.
 *
 * Every event payload is `size` bytes: float64 LE scheduled send time (ms on
 * the shared clock, see clock.mjs), uint32 LE sequence number within its
 * topic (0, 1, 2, ... per run), uint32 LE topic number, then filler.
 *
 * Event k of a run goes to topic k % topics with sequence floor(k / topics),
 * so every subscriber (one topic each) can check that it got every event of
 * its topic, in order.
 *
 * How the payload travels:
 * - raw peers (uws-publish, ws-loop, socketio): the producer sends the
 *   payload itself as one binary message; the peer routes it by the topic
 *   number at offset 12.
 * - fanwire: the MessagePack frame `{topic, payload}` (payload as `bin`), or
 *   a batch `{events: [{topic, payload}, ...]}`. Topic names have one length
 *   per run (`t`, or `t0`..`t9`, `t00`..`t99`, ...), so every event of a run
 *   encodes to the same number of bytes and subscribers can find each
 *   payload without decoding MessagePack (see decode.mjs).
 */
import { Packr, Unpackr } from 'msgpackr';

export const MIN_PAYLOAD = 16;
export const SEQ_OFFSET = 8;
export const TOPIC_OFFSET = 12;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** The name of topic `i` of `topics` (all names of a run have the same length). */
export function topicName(i, topics) {
  return topics <= 1 ? 't' : `t${String(i).padStart(String(topics - 1).length, '0')}`;
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
 */
export function frameEncoder(mode, size, topics = 1, batch = false) {
  if (size < MIN_PAYLOAD) throw new Error(`--payload must be at least ${MIN_PAYLOAD} bytes`);
  const base = filler(size);
  if (mode === 'raw') {
    return (first, count, scheduledMs) => {
      if (count !== 1) throw new Error('raw peers take one event per frame');
      const buf = Buffer.from(base);
      stamp(buf, 0, scheduledMs, first, topics);
      return buf;
    };
  }
  // One event as MessagePack: fixmap(2) "topic" <name> "payload" <bin>; the same length for every topic.
  const events = Array.from({ length: topics }, (_, i) => packr.pack({ topic: topicName(i, topics), payload: base }));
  const eventLength = events[0].length;
  for (const [i, e] of events.entries()) {
    if (e.length !== eventLength || !e.subarray(eventLength - size - binHeader(size).length, eventLength - size).equals(binHeader(size))) {
      throw new Error(`msgpack encoder did not write event ${i} as {topic, payload: bin} of ${eventLength} bytes`);
    }
  }
  const batchHead = Buffer.from([0x81, 0xa6, ...Buffer.from('events')]);
  const encode = (first, count, scheduledMs) => {
    if (!batch && count === 1) {
      const topic = first % topics;
      const buf = Buffer.from(events[topic]);
      stamp(buf, eventLength - size, scheduledMs, first, topics);
      return buf;
    }
    const head = Buffer.concat([batchHead, arrayHeader(count)]);
    const buf = Buffer.allocUnsafe(head.length + count * eventLength);
    head.copy(buf, 0);
    for (let j = 0; j < count; j++) {
      const k = first + j;
      const at = head.length + j * eventLength;
      events[k % topics].copy(buf, at);
      stamp(buf, at + eventLength - size, scheduledMs, k, topics);
    }
    return buf;
  };
  // Check once that MessagePack reads back what we wrote.
  const probe = unpackr.unpack(encode(topics + 1, batch ? 3 : 1, 123.5));
  const first = batch ? probe.events[0] : probe;
  const p = Buffer.from(first.payload);
  if (first.topic !== topicName((topics + 1) % topics, topics) || p.readDoubleLE(0) !== 123.5 || p.readUInt32LE(SEQ_OFFSET) !== Math.floor((topics + 1) / topics)) {
    throw new Error(`frame encoder self-check failed: ${JSON.stringify(probe).slice(0, 200)}`);
  }
  return encode;
}

/** Writes event `k`'s time, sequence and topic into the payload at `buf[at..]`. */
function stamp(buf, at, scheduledMs, k, topics) {
  buf.writeDoubleLE(scheduledMs, at);
  buf.writeUInt32LE(Math.floor(k / topics), at + SEQ_OFFSET);
  buf.writeUInt32LE(k % topics, at + TOPIC_OFFSET);
}

/** How many of `sent` events (0..sent-1, round robin) went to topic `t`. */
export function eventsOfTopic(sent, t, topics) {
  return Math.floor(sent / topics) + (t < sent % topics ? 1 : 0);
}
