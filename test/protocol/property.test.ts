/**
 * Property-based (fast-check): whatever bytes a producer sends, the decoder
 * and validator answer with a frame or a documented error, never an escaping
 * exception; and every frame they accept encodes for subscribers in both
 * formats. The failing seed is printed by fast-check for replay.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { isFanwireError } from '../../src/errors.js';
import { decodeFrame, encodeJson, encodeMsgpack, parsePublishFrame } from '../../src/protocol/index.js';

function outcome(bytes: Uint8Array, binary: boolean): 'frame' | string {
  try {
    const frame = parsePublishFrame(decodeFrame(bytes, binary), 10_000);
    encodeMsgpack({ type: 'events', index: 1, events: frame.events });
    encodeJson({ type: 'events', index: 1, events: frame.events });
    return 'frame';
  } catch (err) {
    if (!isFanwireError(err)) throw err;
    return err.code;
  }
}

const DOCUMENTED = ['frame', 'decode_failed', 'invalid_frame'];

describe('producer frames (property)', () => {
  it('any byte string, as MessagePack or as JSON text, yields a frame or decode_failed/invalid_frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (bytes, binary) => {
        expect(DOCUMENTED).toContain(outcome(bytes, binary));
      }),
      { numRuns: 5_000 },
    );
  });

  it('any JavaScript value packed as MessagePack yields a frame or a documented error', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4, withBigInt: true, withDate: true, withTypedArray: true, withMap: true, withSet: true }), (value) => {
        let bytes: Uint8Array;
        try {
          bytes = pack(value);
        } catch {
          return; // not packable: nothing a producer could send
        }
        expect(DOCUMENTED).toContain(outcome(bytes, true));
      }),
      { numRuns: 3_000 },
    );
  });

  it('well-formed events with arbitrary payloads are accepted whole, and batches all-or-nothing', () => {
    // The map key "__proto__" is refused by design (docs/protocol.md), so it is not a well-formed payload.
    const payload = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"'));
    const event = fc.record({ topic: fc.stringMatching(/^[a-z]{1,8}$/), payload });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 20 }), fc.nat(25), (events, poison) => {
        const good = parsePublishFrame(decodeFrame(pack({ events }), true));
        expect(good.events).toHaveLength(events.length);
        const bad = events.map((e, i) => (i === poison ? { ...e, topic: 'bad topic' } : e));
        const result = outcome(pack({ events: bad }), true);
        expect(result).toBe(poison < events.length ? 'invalid_frame' : 'frame');
      }),
      { numRuns: 1_000 },
    );
  });
});
