/**
 * The load client's topic:key streams (load/lib/payload.mjs, subscribe-path.mjs,
 * decode.mjs): which selector each subscriber asks for, what the publisher
 * stamps into each event, and that the subscriber's fast path reads an
 * events message carrying a key. The real gateway is exercised by
 * smoke.test.ts (`--keys`).
 */
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { fanwireDecoder, newDecoded, slowPath } from '../../load/lib/decode.mjs';
import { frameEncoder, keyName, publishedPerStream, SEQ_OFFSET, streamCount, streamSelector, TOPIC_OFFSET } from '../../load/lib/payload.mjs';
import { subscribePath } from '../../load/lib/subscribe-path.mjs';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

describe('load client streams (topic:key)', () => {
  it('names keys with one length per run, and none with a single key', () => {
    expect(keyName(0, 1)).toBe('');
    expect(keyName(7, 100)).toBe('k07');
    expect(keyName(99, 100)).toBe('k99');
    expect(streamCount(1, 100)).toBe(100);
    expect(streamCount(3, 1)).toBe(3);
  });

  it('subscriber n asks for topic=T:<key n % keys>, as docs/protocol.md spells it', () => {
    expect(subscribePath('fanwire', 7, 1, 100)).toBe('/v1/subscribe?topic=t:k07&format=msgpack');
    expect(subscribePath('fanwire', 107 % 100, 1, 100)).toBe('/v1/subscribe?topic=t:k07&format=msgpack');
    // Without keys the paths are what they were.
    expect(subscribePath('fanwire', 0, 1)).toBe('/v1/subscribe?topic=t&format=msgpack');
    expect(subscribePath('fanwire', 3, 10, 1, { index: 5, epoch: 'e' })).toBe('/v1/subscribe?topic=t3&format=msgpack&index=5&epoch=e');
    // Streams of two topics x two keys: topic first, then key.
    expect([0, 1, 2, 3].map((s) => streamSelector(s, 2, 2))).toEqual(['t0:k0', 't1:k0', 't0:k1', 't1:k1']);
    expect(() => subscribePath('raw', 1, 1, 100)).toThrow(/fanwire only/);
  });

  it('event k carries the key of stream k % keys and the sequence floor(k / keys)', () => {
    const encode = frameEncoder('fanwire', 100, 1, false, 100);
    for (const k of [0, 1, 99, 100, 250, 29_999]) {
      const e = unpackr.unpack(encode(k, 1, 42.5)) as { topic: string; key: string; payload: Uint8Array };
      const p = Buffer.from(e.payload);
      expect(e.topic).toBe('t');
      expect(e.key).toBe(keyName(k % 100, 100));
      expect(p.readDoubleLE(0)).toBe(42.5);
      expect(p.readUInt32LE(SEQ_OFFSET)).toBe(Math.floor(k / 100));
      expect(p.readUInt32LE(TOPIC_OFFSET)).toBe(k % 100);
    }
    // Batches: each event its own key.
    const batch = unpackr.unpack(frameEncoder('fanwire', 100, 1, true, 100)(98, 3, 1)) as { events: { key: string }[] };
    expect(batch.events.map((e) => e.key)).toEqual(['k98', 'k99', 'k00']);
    expect(() => frameEncoder('raw', 100, 1, false, 100)).toThrow(/fanwire only/);
  });

  it('counts what each stream is owed', () => {
    expect(publishedPerStream(30_250, 100).slice(0, 3)).toEqual([303, 303, 303]);
    expect(publishedPerStream(30_250, 100)[50]).toBe(302);
    expect(publishedPerStream(30_250, 100).reduce((a, b) => a + b, 0)).toBe(30_250);
  });

  it('reads an events message with keyed events on the fast path', () => {
    const packr = new Packr({ useRecords: false, variableMapSize: true });
    const payload = Buffer.alloc(100, 0x61);
    payload.writeDoubleLE(7.25, 0);
    payload.writeUInt32LE(3, SEQ_OFFSET);
    const msg = packr.pack({ type: 'events', index: 1234, events: [{ topic: 't', type: '', key: 'k42', payload }] });
    const before = slowPath.events;
    const d = fanwireDecoder(100, 1, 100)(msg, 0, msg.length, newDecoded());
    expect(slowPath.events).toBe(before);
    expect(d).toMatchObject({ kind: 'events', index: 1234, n: 1 });
    expect([d.times[0], d.seqs[0]]).toEqual([7.25, 3]);
  });
});
