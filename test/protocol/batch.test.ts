import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { batchMessage, encodeJson, encodeMsgpack } from '../../src/protocol/index.js';
import type { BatchMessage, EventsMessage } from '../../src/protocol/index.js';

const events = (index: number, n = 1): EventsMessage => ({
  type: 'events',
  index,
  events: Array.from({ length: n }, (_, i) => ({ topic: 'orders', type: 'created', key: `o-${index}-${i}`, payload: { n: i, bytes: new Uint8Array([index & 0xff, i]) } })),
});

describe('batchMessage', () => {
  // Across the array-header sizes: fixarray (< 16), array16 (< 65536), array32.
  it.each([2, 15, 16, 300, 65_535, 65_536])('wraps %i msgpack events messages into one map any MessagePack decoder reads', (count) => {
    const messages = Array.from({ length: count }, (_, i) => events(i + 1));
    const batch = batchMessage(messages.map((m) => encodeMsgpack(m)), count, true);
    const decoded = unpack(batch) as BatchMessage;
    expect(decoded.type).toBe('batch');
    expect(decoded.messages).toHaveLength(count);
    // Each exactly as it decodes on its own (bin payloads come back as Buffers).
    expect(decoded.messages[0]).toEqual(unpack(encodeMsgpack(messages[0])));
    expect(decoded.messages[count - 1]).toEqual(unpack(encodeMsgpack(messages[count - 1])));
    expect(decoded.messages.map((m) => m.index)).toEqual(messages.map((m) => m.index));
  });

  it('wraps json events messages into one JSON object, byte for byte what JSON.stringify of the batch gives', () => {
    const messages = [events(7, 2), events(8), events(9, 3)];
    const batch = batchMessage(messages.map((m) => encodeJson(m)), 3, false);
    const parsed = JSON.parse(batch.toString('utf8')) as BatchMessage;
    expect(parsed).toEqual(JSON.parse(encodeJson({ type: 'batch', messages }).toString('utf8')));
    expect(batch.equals(encodeJson({ type: 'batch', messages }))).toBe(true);
  });

  it('uses only the first `count` messages and reads each through `unwrap`', () => {
    const framed = [1, 2, 3].map((i) => Buffer.concat([Buffer.from([0xee, 0xee]), encodeMsgpack(events(i))]));
    const batch = batchMessage(framed, 2, true, (held) => held.subarray(2));
    expect((unpack(batch) as BatchMessage).messages.map((m) => m.index)).toEqual([1, 2]);
  });

  it('refuses fewer than two messages: one goes out as a plain events message', () => {
    expect(() => batchMessage([encodeMsgpack(events(1))], 1, true)).toThrow(RangeError);
  });
});
