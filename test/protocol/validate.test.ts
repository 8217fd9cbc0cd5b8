import { describe, expect, it } from 'vitest';
import { InvalidFrameError, isFanwireError } from '../../src/errors.js';
import { decodeFrame, frameIdOf, parsePublishFrame } from '../../src/protocol/index.js';

/** The InvalidFrameError `value` is rejected with; fails the test when it is accepted or fails otherwise. */
function rejection(value: unknown): InvalidFrameError {
  let accepted: unknown;
  try {
    accepted = parsePublishFrame(value);
  } catch (err) {
    if (err instanceof InvalidFrameError) return err;
    throw err;
  }
  throw new Error(`expected invalid_frame, but the frame was accepted as ${String(JSON.stringify(accepted, bigintSafe))}`);
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}

/** Asserts `value` is rejected with invalid_frame and a message of the form `<path>: <problem>`. */
function expectRejectedAt(value: unknown, path: string): InvalidFrameError {
  const err = rejection(value);
  expect(err.code).toBe('invalid_frame');
  expect(isFanwireError(err)).toBe(true);
  expect(err.message.startsWith(`${path}: `), `message "${err.message}" should name "${path}"`).toBe(true);
  return err;
}

/** A frame with one valid event in front of `event`, so `event` sits at `events[1]`. */
function batchWithSecond(event: unknown): unknown {
  return { events: [{ topic: 'ok', payload: 1 }, event] };
}

/** `depth` maps nested inside each other, `leaf` in the innermost. */
function nestedMaps(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

function nestedArrays(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** MessagePack for `{topic: "t", payload: <payloadBytes>}`, written by hand so any byte sequence can be the payload. */
function msgpackEventWithPayload(payloadBytes: number[]): Buffer {
  return Buffer.from([
    0x82,
    0xa5, ...Buffer.from('topic'),
    0xa1, ...Buffer.from('t'),
    0xa7, ...Buffer.from('payload'),
    ...payloadBytes,
  ]);
}

/** What decoding and validating MessagePack `bytes` comes to: "accepted" or the error code. */
function msgpackOutcome(bytes: Uint8Array): string {
  try {
    parsePublishFrame(decodeFrame(bytes, true));
    return 'accepted';
  } catch (err) {
    if (isFanwireError(err)) return err.code;
    throw err;
  }
}

describe('parsePublishFrame', () => {
  describe('accepted frames', () => {
    it('accepts a single event and delivers it with type and key defaulting to ""', () => {
      const frame = parsePublishFrame({ topic: 'orders', payload: { total: 12 } });
      expect(frame).toEqual({ id: undefined, events: [{ topic: 'orders', type: '', key: '', payload: { total: 12 } }] });
      expect(Object.keys(frame.events[0]!).sort()).toEqual(['key', 'payload', 'topic', 'type']);
    });

    it('keeps the type, key and id a producer gives', () => {
      const frame = parsePublishFrame({ id: 'f-1', topic: 'orders', type: 'created', key: 'o-1', payload: null });
      expect(frame).toEqual({
        id: 'f-1',
        events: [{ topic: 'orders', type: 'created', key: 'o-1', payload: null }],
      });
    });

    it('accepts a batch as one frame holding its events in published order', () => {
      const frame = parsePublishFrame(
        JSON.parse('{"id":"b1","events":[{"topic":"orders","key":"o-2","payload":1},{"topic":"audit","payload":"x"}]}'),
      );
      expect(frame).toEqual({
        id: 'b1',
        events: [
          { topic: 'orders', type: '', key: 'o-2', payload: 1 },
          { topic: 'audit', type: '', key: '', payload: 'x' },
        ],
      });
    });

    it('accepts a batch without an id', () => {
      const frame = parsePublishFrame({ events: [{ topic: 'a', payload: 1 }] });
      expect(frame.id).toBeUndefined();
      expect(frame.events).toHaveLength(1);
    });

    it('keeps filterKeys only when the list is non-empty', () => {
      const withKeys = parsePublishFrame({ topic: 'orders', filterKeys: ['customer-9', 'region-eu'], payload: 1 });
      expect(withKeys.events[0]!.filterKeys).toEqual(['customer-9', 'region-eu']);

      const empty = parsePublishFrame({ topic: 'orders', filterKeys: [], payload: 1 });
      expect(Object.hasOwn(empty.events[0]!, 'filterKeys')).toBe(false);

      const absent = parsePublishFrame({ topic: 'orders', payload: 1 });
      expect(Object.hasOwn(absent.events[0]!, 'filterKeys')).toBe(false);
    });

    it('applies the same defaults to every event of a batch', () => {
      const frame = parsePublishFrame({
        events: [
          { topic: 'a', filterKeys: [], payload: 1 },
          { topic: 'b', type: 't', key: 'k', filterKeys: ['x'], payload: 2 },
        ],
      });
      expect(frame.events).toEqual([
        { topic: 'a', type: '', key: '', payload: 1 },
        { topic: 'b', type: 't', key: 'k', filterKeys: ['x'], payload: 2 },
      ]);
    });

    it('accepts fields at exactly their maximum lengths', () => {
      const frame = parsePublishFrame({
        id: 'i'.repeat(128),
        topic: 't'.repeat(128),
        type: 'y'.repeat(128),
        key: 'k'.repeat(256),
        filterKeys: Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(256, 'f')),
        payload: 1,
      });
      expect(frame.id).toBe('i'.repeat(128));
      expect(frame.events[0]!.topic).toHaveLength(128);
      expect(frame.events[0]!.type).toHaveLength(128);
      expect(frame.events[0]!.key).toHaveLength(256);
      expect(frame.events[0]!.filterKeys).toHaveLength(64);
    });

    it('accepts topics made of any characters other than ":", "*" and whitespace', () => {
      for (const topic of ['orders.eu-1', 'a/b/c', 'ümlaut', '注文', 'x_y#z']) {
        expect(parsePublishFrame({ topic, payload: 1 }).events[0]!.topic).toBe(topic);
      }
    });

    it('accepts every kind of plain payload data', () => {
      const payload = {
        map: { nested: { deeper: 'x' } },
        list: [1, 'two', [3], { four: 4 }],
        string: 'text',
        integer: -42,
        float: 1.5,
        yes: true,
        no: false,
        nothing: null,
        binary: Buffer.from([1, 2, 3]),
        bytes: new Uint8Array([4, 5]),
        when: new Date('2024-05-06T07:08:09.010Z'),
        max: 2n ** 64n - 1n,
        min: -(2n ** 63n),
      };
      expect(parsePublishFrame({ topic: 't', payload }).events[0]!.payload).toBe(payload);
    });

    it('accepts null, a scalar or binary as the whole payload', () => {
      for (const payload of [null, 0, '', false, Buffer.alloc(0), new Date(0)]) {
        expect(parsePublishFrame({ topic: 't', payload }).events[0]!.payload).toBe(payload);
      }
    });

    it('accepts a map without a prototype (as some decoders build them)', () => {
      const frame = Object.assign(Object.create(null) as Record<string, unknown>, { topic: 't', payload: 1 });
      expect(parsePublishFrame(frame).events[0]!.topic).toBe('t');
    });
  });

  describe('rules of the Events table', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['topic is missing', { payload: 1 }, 'topic'],
      ['topic is not a string', { topic: 7, payload: 1 }, 'topic'],
      ['topic is null', { topic: null, payload: 1 }, 'topic'],
      ['topic is empty', { topic: '', payload: 1 }, 'topic'],
      ['topic is longer than 128 characters', { topic: 't'.repeat(129), payload: 1 }, 'topic'],
      ['topic contains ":"', { topic: 'orders:eu', payload: 1 }, 'topic'],
      ['topic contains "*"', { topic: 'orders*', payload: 1 }, 'topic'],
      ['topic contains a space', { topic: 'new orders', payload: 1 }, 'topic'],
      ['topic contains a tab', { topic: 'a\tb', payload: 1 }, 'topic'],
      ['topic contains a newline', { topic: 'a\n', payload: 1 }, 'topic'],
      ['topic contains a non-breaking space', { topic: 'a\u00a0b', payload: 1 }, 'topic'],
      ['type is not a string', { topic: 't', type: 1, payload: 1 }, 'type'],
      ['type is null', { topic: 't', type: null, payload: 1 }, 'type'],
      ['type is longer than 128 characters', { topic: 't', type: 'y'.repeat(129), payload: 1 }, 'type'],
      ['key is not a string', { topic: 't', key: ['k'], payload: 1 }, 'key'],
      ['key is longer than 256 characters', { topic: 't', key: 'k'.repeat(257), payload: 1 }, 'key'],
      ['filterKeys is not an array', { topic: 't', filterKeys: 'k', payload: 1 }, 'filterKeys'],
      ['filterKeys is a map', { topic: 't', filterKeys: { 0: 'k' }, payload: 1 }, 'filterKeys'],
      ['filterKeys has more than 64 entries', { topic: 't', filterKeys: Array.from({ length: 65 }, (_, i) => `k${i}`), payload: 1 }, 'filterKeys'],
      ['filterKeys holds a non-string', { topic: 't', filterKeys: ['a', 2], payload: 1 }, 'filterKeys'],
      ['filterKeys holds null', { topic: 't', filterKeys: [null], payload: 1 }, 'filterKeys'],
      ['filterKeys holds a key longer than 256 characters', { topic: 't', filterKeys: ['k'.repeat(257)], payload: 1 }, 'filterKeys'],
      ['payload is missing', { topic: 't' }, 'payload'],
      ['payload is undefined', { topic: 't', payload: undefined }, 'payload'],
      ['has an unknown field', { topic: 't', payload: 1, extra: true }, 'extra'],
      ['has a misspelled field', { topic: 't', payload: 1, filterkeys: ['a'] }, 'filterkeys'],
    ];

    it.each(cases)('rejects an event whose %s, naming the field', (_what, event, path) => {
      expectRejectedAt(event, path);
    });

    it.each(cases)('rejects a batch whose second event %s, naming events[1] and the field', (_what, event, path) => {
      expectRejectedAt(batchWithSecond(event), `events[1].${path}`);
    });

    it('answers a frame without payload exactly as the example session shows', () => {
      expect(rejection(JSON.parse('{"topic":"orders"}')).message).toBe('payload: required');
    });

    it('rejects a topic whose every character is whitespace', () => {
      expectRejectedAt({ topic: '   ', payload: 1 }, 'topic');
    });

    it('counts string limits in UTF-8 bytes, as documented, so every client language counts alike', () => {
      const fits = '😀'.repeat(32); // 32 characters, 128 bytes
      expect(parsePublishFrame({ topic: fits, payload: 1 }).events[0]!.topic).toBe(fits);
      const over = '😀'.repeat(33); // 33 characters, 132 bytes
      expect(() => parsePublishFrame({ topic: over, payload: 1 })).toThrow('topic: must be 1-128 bytes');
      expect(() => parsePublishFrame({ topic: 't', key: 'é'.repeat(129), payload: 1 })).toThrow('key: must be at most 256 bytes');
    });
  });

  describe('rules of the Producers section', () => {
    it.each([
      ['null', null],
      ['a number', 1],
      ['a string', '{"topic":"t","payload":1}'],
      ['a boolean', true],
      ['an array of events', [{ topic: 't', payload: 1 }]],
      ['binary', Buffer.from('{}')],
      ['a timestamp', new Date(0)],
      ['a Map', new Map([['topic', 't']])],
    ])('rejects a frame that is %s rather than a map', (_what, value) => {
      const err = rejection(value);
      expect(err.code).toBe('invalid_frame');
      expect(err.message).toBe('frame must be a map');
    });

    it('rejects an unknown top-level field of a single-event frame', () => {
      expectRejectedAt({ topic: 't', payload: 1, extra: 1 }, 'extra');
    });

    it('rejects an unknown top-level field of a batch', () => {
      expectRejectedAt({ events: [{ topic: 't', payload: 1 }], extra: 1 }, 'extra');
    });

    it.each(['topic', 'type', 'key', 'filterKeys', 'payload'])(
      'rejects an event field "%s" given beside "events" instead of in each event',
      (name) => {
        const frame: Record<string, unknown> = { events: [{ topic: 't', payload: 1 }] };
        frame[name] = name === 'filterKeys' ? ['k'] : 'x';
        const err = expectRejectedAt(frame, name);
        expect(err.message).toContain('beside "events"');
      },
    );

    it('rejects a batch whose events is not an array', () => {
      expectRejectedAt({ events: { topic: 't', payload: 1 } }, 'events');
      expectRejectedAt({ events: null }, 'events');
    });

    it('rejects an empty batch', () => {
      const err = expectRejectedAt({ id: 'b', events: [] }, 'events');
      expect(err.message).toContain('at least one');
    });

    it('rejects a batch holding something other than a map, naming its position', () => {
      expectRejectedAt({ events: [{ topic: 't', payload: 1 }, 'x'] }, 'events[1]');
      expectRejectedAt({ events: [null] }, 'events[0]');
    });

    it('rejects a batch nested inside a batch', () => {
      expectRejectedAt({ events: [{ events: [{ topic: 't', payload: 1 }] }] }, 'events[0].events');
    });

    it('rejects a batch whole when only its last event is invalid', () => {
      const events = Array.from({ length: 99 }, (_, i) => ({ topic: 'ok', key: `k${i}`, payload: i }));
      const frame = { id: 'b', events: [...events, { topic: 'bad topic', payload: 99 }] };
      expectRejectedAt(frame, 'events[99].topic');
    });

    it('names the first invalid event of a batch', () => {
      const frame = { events: [{ topic: 'ok', payload: 1 }, { topic: 'ok' }, { topic: '', payload: 1 }] };
      expectRejectedAt(frame, 'events[1].payload');
    });

    describe('id', () => {
      it('accepts a string id of up to 128 characters, including the empty string', () => {
        expect(parsePublishFrame({ id: 'x'.repeat(128), topic: 't', payload: 1 }).id).toBe('x'.repeat(128));
        expect(parsePublishFrame({ id: '', topic: 't', payload: 1 }).id).toBe('');
      });

      it('accepts an integer id, zero and negative included', () => {
        for (const id of [0, 7, -3, Number.MAX_SAFE_INTEGER]) {
          expect(parsePublishFrame({ id, topic: 't', payload: 1 }).id).toBe(id);
          expect(parsePublishFrame({ id, events: [{ topic: 't', payload: 1 }] }).id).toBe(id);
        }
      });

      it.each([
        ['a string longer than 128 characters', 'x'.repeat(129)],
        ['a fraction', 1.5],
        ['NaN', Number.NaN],
        ['infinite', Number.POSITIVE_INFINITY],
        ['null', null],
        ['a boolean', true],
        ['a map', { id: 1 }],
        ['an array', ['a']],
      ])('rejects an id that is %s', (_what, id) => {
        expectRejectedAt({ id, topic: 't', payload: 1 }, 'id');
        expectRejectedAt({ id, events: [{ topic: 't', payload: 1 }] }, 'id');
      });
    });
  });

  describe('payload rules', () => {
    it('rejects NaN decoded from a MessagePack float64 (JSON cannot express it)', () => {
      const frame = decodeFrame(msgpackEventWithPayload([0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), true);
      expect(Number.isNaN((frame as { payload: number }).payload)).toBe(true);
      const err = expectRejectedAt(frame, 'payload');
      expect(err.message).toContain('finite');
    });

    it('rejects infinities decoded from MessagePack float32 and float64', () => {
      const plusInf32 = decodeFrame(msgpackEventWithPayload([0xca, 0x7f, 0x80, 0, 0]), true);
      const minusInf64 = decodeFrame(msgpackEventWithPayload([0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0]), true);
      expectRejectedAt(plusInf32, 'payload');
      expectRejectedAt(minusInf64, 'payload');
    });

    it('names the path of a non-finite number deep inside the payload', () => {
      expectRejectedAt({ topic: 't', payload: { a: [1, { b: Number.NaN }] } }, 'payload.a[1].b');
      expectRejectedAt(batchWithSecond({ topic: 't', payload: [Number.POSITIVE_INFINITY] }), 'events[1].payload[0]');
    });

    it('rejects integers outside the 64-bit range and accepts both ends of it', () => {
      expectRejectedAt({ topic: 't', payload: 2n ** 64n }, 'payload');
      expectRejectedAt({ topic: 't', payload: { n: -(2n ** 63n) - 1n } }, 'payload.n');
      expect(parsePublishFrame({ topic: 't', payload: [2n ** 64n - 1n, -(2n ** 63n)] }).events).toHaveLength(1);
    });

    it('rejects undefined anywhere in the payload', () => {
      expectRejectedAt({ topic: 't', payload: { a: undefined } }, 'payload.a');
      expectRejectedAt({ topic: 't', payload: [1, undefined] }, 'payload[1]');
    });

    it.each([
      ['a Set', new Set([1])],
      ['a Map', new Map([['a', 1]])],
      ['a RegExp', /x/g],
      ['an Error', new Error('x')],
      ['an Int16Array', new Int16Array(2)],
      ['a Float64Array', new Float64Array([1.5])],
      ['a Uint8ClampedArray', new Uint8ClampedArray(2)],
      ['a Uint8Array subclass', new (class Bytes extends Uint8Array {})(2)],
      ['an ArrayBuffer', new ArrayBuffer(2)],
      ['a DataView', new DataView(new ArrayBuffer(2))],
      ['a class instance', new (class Point { x = 1 })()],
      ['an invalid Date', new Date(Number.NaN)],
      ['a function', () => 1],
      ['a symbol', Symbol('s')],
    ])('rejects %s in the payload, naming where it is', (_what, value) => {
      expectRejectedAt({ topic: 't', payload: value }, 'payload');
      expectRejectedAt({ topic: 't', payload: { list: [0, value] } }, 'payload.list[1]');
    });

    it('accepts the MessagePack timestamp extension (-1) in all three sizes', () => {
      const layouts = [
        [0xd6, 0xff, 0, 0, 0, 1],
        [0xd7, 0xff, 0x77, 0x35, 0x94, 0x00, 0, 0, 0, 1],
        [0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
      ];
      const times = layouts.map((bytes) => {
        const payload = parsePublishFrame(decodeFrame(msgpackEventWithPayload(bytes), true)).events[0]!.payload;
        expect(payload).toBeInstanceOf(Date);
        return (payload as Date).getTime();
      });
      expect(times).toEqual([1000, 1500, 2000]);
    });

    // Extension types other than the timestamp: msgpackr's own (which it would
    // otherwise decode into bigints, typed arrays, Sets, records, clones...) and
    // unknown ones. All are valid MessagePack, so the answer is invalid_frame.
    const extensions: Array<[string, number[]]> = [
      ['0 (msgpackr undefined)', [0xd4, 0x00, 0x00]],
      ['5 (unknown)', [0xd4, 0x05, 0x00]],
      ['-2 (reserved)', [0xd4, 0xfe, 0x00]],
      ['0x42 (msgpackr bigint) holding 5', [0xd7, 0x42, 0, 0, 0, 0, 0, 0, 0, 5]],
      ['0x42 (msgpackr bigint) holding 2^64', [0xd8, 0x42, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]],
      ['0x74 (msgpackr typed array) holding a Uint8Array', [0xd5, 0x74, 0x01, 0x09]],
      ['0x74 (msgpackr typed array) holding a Float64Array', [0xc7, 0x09, 0x74, 0x08, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]],
      ['0x73 (msgpackr Set)', [0xd4, 0x73, 0x00, 0x91, 0x01]],
      ['0x78 (msgpackr RegExp)', [0xd4, 0x78, 0x00, 0x92, 0xa1, 0x78, 0xa1, 0x67]],
      ['0x65 (msgpackr Error)', [0xd4, 0x65, 0x00, 0x92, 0xa5, ...Buffer.from('Error'), 0xa1, 0x78]],
      ['0x69 (msgpackr structured-clone id) wrapping an empty map', [0xd6, 0x69, 0, 0, 0, 1, 0x80]],
      ['0x72 (msgpackr record definition) for {a: 1}', [0xd4, 0x72, 0x40, 0x91, 0xa1, 0x61, 0x01]],
      ['-1 with a size that is no timestamp layout', [0xd5, 0xff, 0, 1]],
    ];
    it.each(extensions)('rejects a payload using MessagePack extension type %s as invalid_frame', (_what, bytes) => {
      expect(msgpackOutcome(msgpackEventWithPayload(bytes))).toBe('invalid_frame');
    });

    it('says "frame:" and names the extension type when MessagePack uses a forbidden extension', () => {
      const bigintExt = [0xd7, 0x42, 0, 0, 0, 0, 0, 0, 0, 5];
      let message = '';
      try {
        parsePublishFrame(decodeFrame(msgpackEventWithPayload(bigintExt), true));
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toBe('frame: MessagePack extension type 66 is not supported (only the timestamp extension, -1)');
    });

    it('rejects a MessagePack extension nested deep in a batch', () => {
      const bytes = Buffer.from([
        0x81, 0xa6, ...Buffer.from('events'), 0x92,
        0x82, 0xa5, ...Buffer.from('topic'), 0xa1, 0x74, 0xa7, ...Buffer.from('payload'), 0x01,
        0x82, 0xa5, ...Buffer.from('topic'), 0xa1, 0x74, 0xa7, ...Buffer.from('payload'),
        0x81, 0xa1, 0x61, 0x91, 0xd7, 0x42, 0, 0, 0, 0, 0, 0, 0, 5,
      ]);
      expect(msgpackOutcome(bytes)).toBe('invalid_frame');
    });

    it('accepts Dates and Buffers as timestamps and binary', () => {
      const when = new Date(1_700_000_000_123);
      const bytes = Buffer.from('héllo');
      const frame = parsePublishFrame({ topic: 't', payload: { when, bytes, list: [when, bytes] } });
      expect(frame.events[0]!.payload).toEqual({ when, bytes, list: [when, bytes] });
    });

    it('accepts maps nested 64 levels deep and rejects 65', () => {
      expect(parsePublishFrame({ topic: 't', payload: nestedMaps(64, 1) }).events).toHaveLength(1);
      const err = expectRejectedAt({ topic: 't', payload: nestedMaps(65, 1) }, `payload${'.a'.repeat(64)}`);
      expect(err.message).toContain('64');
    });

    it('counts arrays as nesting levels too', () => {
      expect(parsePublishFrame({ topic: 't', payload: nestedArrays(64, 'x') }).events).toHaveLength(1);
      expectRejectedAt({ topic: 't', payload: nestedArrays(65, 'x') }, `payload${'[0]'.repeat(64)}`);
      expectRejectedAt({ topic: 't', payload: nestedMaps(30, nestedArrays(35, null)) }, `payload${'.a'.repeat(30)}${'[0]'.repeat(34)}`);
    });

    it('rejects a self-referencing payload instead of recursing forever', () => {
      const loop: Record<string, unknown> = {};
      loop.self = loop;
      expectRejectedAt({ topic: 't', payload: loop }, `payload${'.self'.repeat(64)}`);
    });

    it('accepts binary and timestamps inside maps nested 64 levels deep', () => {
      expect(parsePublishFrame({ topic: 't', payload: nestedMaps(64, Buffer.from('x')) }).events).toHaveLength(1);
      expect(parsePublishFrame({ topic: 't', payload: nestedMaps(64, new Date(0)) }).events).toHaveLength(1);
    });
  });
});

describe('frameIdOf', () => {
  it('finds the id of a frame that is otherwise invalid, so the error reply can carry it', () => {
    expect(frameIdOf({ id: 'f-9', topic: '' })).toBe('f-9');
    expect(frameIdOf({ id: 12, events: [] })).toBe(12);
  });

  it('gives no id for frames without a well-formed one', () => {
    expect(frameIdOf({ topic: 't', payload: 1 })).toBeUndefined();
    expect(frameIdOf({ id: 'x'.repeat(129) })).toBeUndefined();
    expect(frameIdOf({ id: 1.5 })).toBeUndefined();
    expect(frameIdOf({ id: null })).toBeUndefined();
    expect(frameIdOf({ id: ['a'] })).toBeUndefined();
  });

  it('gives no id for a value that is not a map', () => {
    expect(frameIdOf(null)).toBeUndefined();
    expect(frameIdOf('id')).toBeUndefined();
    expect(frameIdOf([{ id: 'a' }])).toBeUndefined();
  });
});
