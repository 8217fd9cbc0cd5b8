import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { fuzzSeed, seededRandom } from '../random.js';
import { DecodeFailedError, isFanwireError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import {
  decodeFrame,
  encode,
  encodeJson,
  encodeMsgpack,
  isBinaryFormat,
  parsePublishFrame,
} from '../../src/protocol/index.js';
import type { EventsMessage } from '../../src/protocol/index.js';

/** The DecodeFailedError decoding `data` throws; fails the test when it decodes. */
function decodeFailure(data: Uint8Array, binary: boolean): DecodeFailedError {
  let decoded: unknown;
  try {
    decoded = decodeFrame(data, binary);
  } catch (err) {
    if (err instanceof DecodeFailedError) return err;
    throw err;
  }
  throw new Error(`expected decode_failed, but decoded ${String(decoded)}`);
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

type Outcome = { accepted: true; payload: unknown } | { accepted: false; code: string };

/** What a producer sending `bytes` gets: its first event's payload as stored, or the error code. */
function producerOutcome(bytes: Uint8Array, binary: boolean): Outcome {
  try {
    return { accepted: true, payload: parsePublishFrame(decodeFrame(bytes, binary)).events[0]!.payload };
  } catch (err) {
    if (isFanwireError(err)) return { accepted: false, code: err.code };
    throw err;
  }
}

describe('decodeFrame', () => {
  it('decodes a MessagePack frame into plain maps, arrays and scalars', () => {
    const frame = { id: 3, events: [{ topic: 'orders', key: 'o-1', payload: { total: 12.5, tags: ['a'], ok: true, none: null } }] };
    const decoded = decodeFrame(pack(frame), true);
    expect(decoded).toEqual(frame);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });

  it('decodes a UTF-8 JSON frame', () => {
    const text = '{"topic":"commandes","key":"é-1","payload":{"total":12,"note":"日本"}}';
    expect(decodeFrame(utf8(text), false)).toEqual({ topic: 'commandes', key: 'é-1', payload: { total: 12, note: '日本' } });
  });

  it('decodes only the bytes of a view into a larger buffer', () => {
    const json = utf8('xx{"a":1}yy');
    expect(decodeFrame(new Uint8Array(json.buffer, json.byteOffset + 2, 7), false)).toEqual({ a: 1 });
    const msgpack = Buffer.concat([Buffer.from([0xc1, 0xc1]), pack({ a: 1 }), Buffer.from([0xc1])]);
    expect(decodeFrame(msgpack.subarray(2, msgpack.length - 1), true)).toEqual({ a: 1 });
  });

  it('decodes MessagePack integers beyond 2^53 as exact bigints and smaller ones as numbers', () => {
    expect(decodeFrame(Buffer.from([0xcf, 0, 0x20, 0, 0, 0, 0, 0, 1]), true)).toBe(2n ** 53n + 1n);
    expect(decodeFrame(Buffer.from([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), true)).toBe(2n ** 64n - 1n);
    expect(decodeFrame(Buffer.from([0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]), true)).toBe(-(2n ** 63n));
    expect(decodeFrame(Buffer.from([0xcf, 0, 0, 0, 0, 0, 0, 0, 5]), true)).toBe(5);
    expect(decodeFrame(Buffer.from([0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), true)).toBe(-2);
  });

  it('decodes MessagePack binary as bytes and timestamps as Dates', () => {
    const decoded = decodeFrame(Buffer.from([0x92, 0xc4, 0x02, 0x01, 0x02, 0xd6, 0xff, 0, 0, 0, 1]), true) as unknown[];
    expect(decoded[0]).toBeInstanceOf(Uint8Array);
    expect([...(decoded[0] as Uint8Array)]).toEqual([1, 2]);
    expect(decoded[1]).toEqual(new Date(1000));
  });

  it('decodes timestamps in all three MessagePack timestamp layouts', () => {
    // timestamp 32: seconds only
    expect(decodeFrame(Buffer.from([0xd6, 0xff, 0x65, 0x53, 0xf1, 0x00]), true)).toEqual(new Date(0x6553f100 * 1000));
    // timestamp 64: 30-bit nanoseconds (500 ms) and 34-bit seconds (1)
    expect(decodeFrame(Buffer.from([0xd7, 0xff, 0x77, 0x35, 0x94, 0x00, 0, 0, 0, 1]), true)).toEqual(new Date(1500));
    // timestamp 96: 32-bit nanoseconds (0) and signed 64-bit seconds (-1), before 1970
    const ts96 = Buffer.from([0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(decodeFrame(ts96, true)).toEqual(new Date(-1000));
  });

  it('rejects an empty frame in either format as decode_failed', () => {
    for (const binary of [true, false]) {
      const err = decodeFailure(new Uint8Array(0), binary);
      expect(err.code).toBe('decode_failed');
      expect(isFanwireError(err)).toBe(true);
    }
  });

  it('rejects every truncation of a MessagePack frame', () => {
    const whole = pack({ id: 'f', events: [{ topic: 'orders', payload: { bin: Buffer.from([1, 2, 3]), when: new Date(5), n: 2n ** 60n } }] });
    for (let length = 1; length < whole.length; length++) {
      const err = decodeFailure(whole.subarray(0, length), true);
      expect(err.code).toBe('decode_failed');
      expect(err.message).toMatch(/MessagePack/);
    }
  });

  it('rejects bytes after the end of a MessagePack value', () => {
    expect(decodeFailure(Buffer.concat([pack({ topic: 't', payload: 1 }), Buffer.from([0x00])]), true).code).toBe('decode_failed');
    expect(decodeFailure(Buffer.concat([pack({ topic: 't', payload: 1 }), pack({ topic: 't', payload: 2 })]), true).code).toBe('decode_failed');
  });

  it.each([
    ['an unterminated map', '{"topic":"t","payload":1'],
    ['a missing value', '{"topic":}'],
    ['single quotes', "{'topic':'t'}"],
    ['a trailing comma', '{"topic":"t",}'],
    ['NaN', '{"payload":NaN}'],
    ['two values', '{"a":1} {"b":2}'],
    ['trailing garbage', '{"a":1}x'],
    ['a bare word', 'undefined'],
    ['only whitespace', '   '],
  ])('rejects JSON with %s as decode_failed', (_what, text) => {
    const err = decodeFailure(utf8(text), false);
    expect(err.code).toBe('decode_failed');
    expect(err.message).toMatch(/JSON/);
    expect(err.cause).toBeInstanceOf(SyntaxError);
  });

  it('reads MessagePack bytes as MessagePack and text as JSON, never the other way round', () => {
    expect(decodeFailure(pack({ topic: 't', payload: 1 }), false).code).toBe('decode_failed');
    // "{}" read as MessagePack is the integer 123 followed by a stray byte
    expect(decodeFailure(utf8('{}'), true).code).toBe('decode_failed');
  });

  it('rejects a JSON frame that is not valid UTF-8 as decode_failed instead of altering it', () => {
    const bytes = Buffer.concat([utf8('{"topic":"t","payload":"'), Buffer.from([0xff, 0xfe]), utf8('"}')]);
    expect(decodeFailure(bytes, false).code).toBe('decode_failed');
    const overlong = Buffer.concat([utf8('{"topic":"t","payload":"'), Buffer.from([0xc0, 0xaf]), utf8('"}')]);
    expect(decodeFailure(overlong, false).code).toBe('decode_failed');
  });

  it('never renames a MessagePack payload key "__proto__": the frame is kept as sent or rejected', () => {
    // {"topic": "t", "payload": {"__proto__": 1}} written by hand
    const bytes = Buffer.from([
      0x82, 0xa5, ...utf8('topic'), 0xa1, ...utf8('t'),
      0xa7, ...utf8('payload'), 0x81, 0xa9, ...utf8('__proto__'), 0x01,
    ]);
    const outcome = producerOutcome(bytes, true);
    if (outcome.accepted) expect(Object.keys(outcome.payload as object)).toEqual(['__proto__']);
    else expect(outcome.code).toBe('invalid_frame');
  });

  it('never renames a payload key "__proto__" written as a MessagePack str8', () => {
    const bytes = Buffer.from([
      0x82, 0xa5, ...utf8('topic'), 0xa1, ...utf8('t'),
      0xa7, ...utf8('payload'), 0x81, 0xd9, 0x09, ...utf8('__proto__'), 0x01,
    ]);
    const outcome = producerOutcome(bytes, true);
    if (outcome.accepted) expect(Object.keys(outcome.payload as object)).toEqual(['__proto__']);
    else expect(outcome.code).toBe('invalid_frame');
  });

  it('accepts the string "__proto__" as a payload value and binary holding its bytes, as JSON does', () => {
    const asJson = producerOutcome(utf8('{"topic":"t","payload":"__proto__"}'), false);
    expect(asJson).toEqual({ accepted: true, payload: '__proto__' });
    const value = producerOutcome(encodeMsgpack({ topic: 't', payload: '__proto__' }), true);
    expect(value).toEqual({ accepted: true, payload: '__proto__' });
    const blob = Buffer.from([0xa9, ...utf8('__proto__')]);
    const binary = producerOutcome(encodeMsgpack({ topic: 't', payload: blob }), true);
    expect(binary.accepted).toBe(true);
  });
});

describe('encodeJson', () => {
  it('writes binary as base64 strings, big integers as decimal strings and timestamps as ISO strings', () => {
    const message: EventsMessage = {
      type: 'events',
      index: 7,
      events: [
        {
          topic: 't',
          type: '',
          key: '',
          payload: {
            buffer: Buffer.from('hello'),
            bytes: new Uint8Array([0xff, 0x00, 0x10]),
            big: 2n ** 64n - 1n,
            negative: -(2n ** 63n),
            when: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 10)),
            list: [Buffer.from([1]), 2n ** 53n + 1n, new Date(0)],
          },
        },
      ],
    };
    expect(encodeJson(message).toString('utf8')).toBe(
      '{"type":"events","index":7,"events":[{"topic":"t","type":"","key":"","payload":{' +
        '"buffer":"aGVsbG8=","bytes":"/wAQ","big":"18446744073709551615","negative":"-9223372036854775808",' +
        '"when":"2024-05-06T07:08:09.010Z","list":["AQ==","9007199254740993","1970-01-01T00:00:00.000Z"]}}]}',
    );
  });

  it('writes binary at the top level and inside a view of a larger buffer as base64 of just those bytes', () => {
    expect(encodeJson(Buffer.from([1, 2, 3])).toString()).toBe('"AQID"');
    const pool = Buffer.from([9, 9, 1, 2, 3, 9]);
    expect(encodeJson({ b: pool.subarray(2, 5) }).toString()).toBe('{"b":"AQID"}');
  });

  it('keeps integers up to 2^53 as JSON numbers', () => {
    expect(encodeJson({ n: Number.MAX_SAFE_INTEGER, m: -1, f: 0.25 }).toString()).toBe('{"n":9007199254740991,"m":-1,"f":0.25}');
  });

  it('produces UTF-8 text that a JSON client parses back', () => {
    const value = { topic: '注文', payload: { text: 'héllo 😀', nested: [null, true, { a: 'b' }] } };
    const bytes = encodeJson(value);
    expect(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))).toEqual(value);
  });
});

describe('encodeMsgpack', () => {
  it('writes plain MessagePack with no msgpackr records, even for repeated shapes', () => {
    expect([...encodeMsgpack({ a: 1 })]).toEqual([0x81, 0xa1, 0x61, 0x01]);
    expect([...encodeMsgpack([{ a: 1 }, { a: 2 }])]).toEqual([0x92, 0x81, 0xa1, 0x61, 0x01, 0x81, 0xa1, 0x61, 0x02]);
    const many = Array.from({ length: 40 }, (_, i) => ({ topic: 't', key: `k${i}` }));
    const bytes = encodeMsgpack(many);
    expect(bytes[0]).toBe(0xdc); // array16
    expect(bytes.includes(Buffer.from([0xd4, 0x72]))).toBe(false); // no record definitions
    expect(unpack(bytes)).toEqual(many);
  });

  it('writes an events message that msgpackr\'s plain unpack reads back exactly', () => {
    const message: EventsMessage = {
      type: 'events',
      index: 42,
      events: [
        { topic: 'orders', type: 'created', key: 'o-17', filterKeys: ['c-1'], payload: { total: 12, items: [1, 2] } },
        { topic: 'orders', type: 'paid', key: 'o-17', payload: null },
      ],
    };
    expect(unpack(encodeMsgpack(message))).toEqual(message);
  });

  it('writes binary as MessagePack bin and timestamps as the timestamp extension (-1)', () => {
    expect([...encodeMsgpack(Buffer.from([1, 2]))]).toEqual([0xc4, 0x02, 0x01, 0x02]);
    expect([...encodeMsgpack(new Uint8Array([3]))]).toEqual([0xc4, 0x01, 0x03]);
    expect([...encodeMsgpack(new Date(1000))]).toEqual([0xd6, 0xff, 0, 0, 0, 1]);
    expect([...encodeMsgpack(new Date(1500))]).toEqual([0xd7, 0xff, 0x77, 0x35, 0x94, 0x00, 0, 0, 0, 1]);
  });

  it('writes 64-bit integers at both ends of the range', () => {
    expect([...encodeMsgpack(2n ** 64n - 1n)]).toEqual([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect([...encodeMsgpack(-(2n ** 63n))]).toEqual([0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('round-trips binary, timestamps and 64-bit integers through decodeFrame', () => {
    const payload = {
      buffer: Buffer.from([0, 1, 254, 255]),
      bytes: new Uint8Array([7, 8]),
      empty: Buffer.alloc(0),
      epoch: new Date(0),
      millis: new Date(1_700_000_000_123),
      before1970: new Date(-86_400_000 * 365),
      farFuture: new Date(Date.UTC(2600, 0, 1)),
      big: 2n ** 64n - 1n,
      small: -(2n ** 63n),
    };
    const frame = parsePublishFrame(decodeFrame(encodeMsgpack({ topic: 't', payload }), true));
    const back = frame.events[0]!.payload as Record<string, unknown>;
    for (const name of ['buffer', 'bytes', 'empty'] as const) {
      expect(back[name]).toBeInstanceOf(Uint8Array);
      expect([...(back[name] as Uint8Array)]).toEqual([...payload[name]]);
    }
    for (const name of ['epoch', 'millis', 'before1970', 'farFuture'] as const) {
      expect(back[name]).toBeInstanceOf(Date);
      expect((back[name] as Date).getTime()).toBe(payload[name].getTime());
    }
    expect(back.big).toBe(payload.big);
    expect(back.small).toBe(payload.small);
  });
});

describe('encode', () => {
  it('picks MessagePack for msgpack subscribers (binary frames) and JSON for json subscribers (text frames)', () => {
    expect([...encode({ type: 'heartbeat' }, 'msgpack')]).toEqual([...encodeMsgpack({ type: 'heartbeat' })]);
    expect(encode({ type: 'heartbeat' }, 'json').toString()).toBe('{"type":"heartbeat"}');
    expect(isBinaryFormat('msgpack')).toBe(true);
    expect(isBinaryFormat('json')).toBe(false);
  });
});

describe('arbitrary producer bytes (property, seed logged)', () => {
  it('either yield a frame or fail with decode_failed or invalid_frame, and never anything else', () => {
    const seed = fuzzSeed('codec fuzz');
    const random = seededRandom(seed);
    const int = (n: number): number => Math.floor(random() * n);

    const valid = {
      id: 'b-1',
      events: [
        { topic: 'orders', type: 'created', key: 'o-1', filterKeys: ['c-1'], payload: { total: 12, tags: ['a', 'b'] } },
        { topic: 'audit', payload: { bin: Buffer.from([1, 2, 3]), when: new Date(1_700_000_000_000), big: 2n ** 60n, f: 1.5, none: null } },
      ],
    };
    const seeds = [encodeMsgpack(valid), encodeJson(valid)];

    const randomBytes = (): Uint8Array => {
      const out = new Uint8Array(int(65));
      for (let i = 0; i < out.length; i++) out[i] = int(256);
      return out;
    };
    const mutate = (source: Uint8Array): Uint8Array => {
      let bytes = [...source];
      const edits = 1 + int(4);
      for (let e = 0; e < edits; e++) {
        const at = int(bytes.length + 1);
        switch (int(6)) {
          case 0: // flip one bit
            if (at < bytes.length) bytes[at] = bytes[at]! ^ (1 << int(8));
            break;
          case 1: // overwrite a byte
            if (at < bytes.length) bytes[at] = int(256);
            break;
          case 2: // insert a byte
            bytes.splice(at, 0, int(256));
            break;
          case 3: // delete a run
            bytes.splice(at, 1 + int(4));
            break;
          case 4: // truncate
            bytes = bytes.slice(0, at);
            break;
          default: // duplicate a slice somewhere else
            bytes.splice(int(bytes.length + 1), 0, ...bytes.slice(at, at + 1 + int(8)));
        }
      }
      return Uint8Array.from(bytes);
    };

    const outcomes: Record<'frame' | ErrorCode, number> = Object.create(null) as Record<'frame' | ErrorCode, number>;
    const tally = (key: 'frame' | ErrorCode): void => {
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    };

    for (let i = 0; i < 2000; i++) {
      const input = i < 1000 ? randomBytes() : mutate(seeds[i % 2]!);
      for (const binary of [true, false]) {
        const where = `seed=${seed} input #${i} binary=${binary} bytes=${Buffer.from(input).toString('hex')}`;
        let frame;
        try {
          frame = parsePublishFrame(decodeFrame(input, binary));
        } catch (err) {
          if (isFanwireError(err) && (err.code === 'decode_failed' || err.code === 'invalid_frame')) {
            tally(err.code);
            continue;
          }
          throw new Error(`${where}: unexpected ${String(err)}`, { cause: err });
        }
        tally('frame');
        expect(frame.events.length, where).toBeGreaterThan(0);
        // What validation lets through must encode for subscribers of either format.
        expect(() => encodeMsgpack({ type: 'events', index: 1, events: frame.events }), where).not.toThrow();
        expect(() => encodeJson({ type: 'events', index: 1, events: frame.events }), where).not.toThrow();
      }
    }

    console.log(`codec fuzz outcomes: ${JSON.stringify(outcomes)}`);
    expect(outcomes.decode_failed).toBeGreaterThan(0);
    expect(outcomes.invalid_frame).toBeGreaterThan(0);
    expect(outcomes.frame).toBeGreaterThan(0);
  });
});
