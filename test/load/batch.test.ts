/**
 * The load client's reading of batch messages (batch=1, load/lib/decode.mjs):
 * a batch built by the gateway's own batchMessage is walked message by
 * message in place, each ending where the next begins, and agrees with the
 * full decoder. End to end against the gateway: smoke.test.ts (`-batch` servers).
 */
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { batchCount, decodeFanwireBatch, decodeFanwireValue, fanwireDecoder, newDecoded } from '../../load/lib/decode.mjs';
import { SEQ_OFFSET } from '../../load/lib/payload.mjs';
import { batchMessage } from '../../src/protocol/index.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** An events message of the load client's shape: `n` events stamped with time t and sequences from `seq`. */
function events(index: number, n: number, seq: number, t: number): Buffer {
  const list = Array.from({ length: n }, (_, j) => {
    const payload = Buffer.alloc(100, 0x61);
    payload.writeDoubleLE(t, 0);
    payload.writeUInt32LE(seq + j, SEQ_OFFSET);
    return { topic: 't', type: '', key: '', payload };
  });
  return packr.pack({ type: 'events', index, events: list });
}

describe('load client batch messages', () => {
  it.each([2, 17, 70_000])('walks a batch of %i events messages in place, in order', (count) => {
    const messages = Array.from({ length: count }, (_, i) => events(i + 1, 1 + (i % 3), i * 3, i + 0.5));
    const batch = batchMessage(messages, count, true);
    const header = batchCount(batch, 0, batch.length);
    expect(header?.[0]).toBe(count);
    const decode = fanwireDecoder(100, 1);
    const d = newDecoded();
    let p = header![1];
    const seen: number[] = [];
    for (let i = 0; i < count; i++) {
      decode(batch, p, batch.length, d, true);
      expect(d.next).toBeGreaterThan(p);
      if (i === count - 1 || i < 3) {
        expect(d).toMatchObject({ kind: 'events', index: i + 1, n: 1 + (i % 3) });
        expect([d.times[0], d.seqs[0]]).toEqual([i + 0.5, i * 3]);
      }
      seen.push(d.index);
      p = d.next;
    }
    expect(p).toBe(batch.length);
    expect(seen[seen.length - 1]).toBe(count);
  });

  it('refuses to read in place what it cannot, and the full decoder reads the same batch', () => {
    const odd = packr.pack({ type: 'events', index: 2, events: [{ topic: 't', type: 'x', key: '', payload: 'not bytes' }] });
    const batch = batchMessage([events(1, 1, 0, 1), odd, events(3, 1, 1, 3)], 3, true);
    const decode = fanwireDecoder(100, 1);
    const d = newDecoded();
    const [, first] = batchCount(batch, 0, batch.length)!;
    decode(batch, first, batch.length, d, true);
    expect(d).toMatchObject({ kind: 'events', index: 1 });
    decode(batch, d.next, batch.length, d, true);
    expect(d.next).toBe(-1);
    const all = decodeFanwireBatch(batch);
    expect(all).toHaveLength(3);
    expect(decodeFanwireValue(all[2], 100, newDecoded())).toMatchObject({ kind: 'events', index: 3, n: 1 });
    expect(decodeFanwireValue(all[1], 100, newDecoded()).kind).toBe('other');
  });

  it('does not take an events message or a hello for a batch', () => {
    const plain = events(5, 1, 0, 0);
    expect(batchCount(plain, 0, plain.length)).toBeNull();
    const hello = packr.pack({ type: 'hello', epoch: 'e', index: 1, gap: false, heartbeat: 10 });
    expect(batchCount(hello, 0, hello.length)).toBeNull();
  });
});
