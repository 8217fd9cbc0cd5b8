/**
 * The load client's NATS protocol parser (load/lib/nats-parser.mjs), which
 * the nats-ws peer's subscribers read nats-server's WebSocket messages with.
 * nats-server packs records into frames as its buffer fills, so a frame may
 * hold several records and a record may span frames: the property is that
 * any split of a byte stream into pieces yields the same records, in order,
 * as the stream fed whole. The real server is exercised by smoke.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NatsParser } from '../../load/lib/nats-parser.mjs';

type Rec =
  | { op: 'MSG'; subject: string; sid: string; reply: string; payload: number[] }
  | { op: 'INFO'; json: string }
  | { op: 'PING' }
  | { op: 'PONG' }
  | { op: '+OK' }
  | { op: '-ERR'; text: string };

function encode(r: Rec): Buffer {
  switch (r.op) {
    case 'MSG':
      return Buffer.concat([Buffer.from(`MSG ${r.subject} ${r.sid} ${r.reply ? `${r.reply} ` : ''}${r.payload.length}\r\n`), Buffer.from(r.payload), Buffer.from('\r\n')]);
    case 'INFO':
      return Buffer.from(`INFO ${r.json}\r\n`);
    case '-ERR':
      return Buffer.from(`-ERR '${r.text}'\r\n`);
    default:
      return Buffer.from(`${r.op}\r\n`);
  }
}

/** Feeds `pieces` (each copied into one reused buffer with stale bytes after it, as the load client's shared read buffer is); returns what came out. */
function parse(pieces: Buffer[]): { records: Rec[]; errors: string[] } {
  const records: Rec[] = [];
  const errors: string[] = [];
  const parser: NatsParser = new NatsParser({
    onMsg: (buf, start, end) => {
      const f = parser.msgFields();
      expect(f.size).toBe(end - start);
      records.push({ op: 'MSG', subject: f.subject, sid: f.sid, reply: f.reply, payload: [...buf.subarray(start, end)] });
    },
    onInfo: (json) => records.push({ op: 'INFO', json }),
    onPing: () => records.push({ op: 'PING' }),
    onPong: () => records.push({ op: 'PONG' }),
    onOk: () => records.push({ op: '+OK' }),
    onErr: (text) => records.push({ op: '-ERR', text }),
    onError: (why) => errors.push(why),
  });
  const shared = Buffer.alloc(64 * 1024, 0x4d); // 'M': stale bytes that must never be read
  for (const piece of pieces) {
    const at = piece.length % 3; // pieces start anywhere in the buffer
    piece.copy(shared, at);
    parser.feed(shared, at, at + piece.length);
  }
  return { records, errors };
}

const token = fc.stringMatching(/^[A-Za-z0-9_.>*-]{1,12}$/);
const record: fc.Arbitrary<Rec> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('MSG' as const), subject: token, sid: fc.stringMatching(/^[0-9]{1,6}$/), reply: fc.oneof(fc.constant(''), token), payload: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('INFO' as const), json: fc.json({ maxDepth: 1 }).filter((j) => !j.includes('\n') && j.trim() === j) }) },
  { weight: 1, arbitrary: fc.constantFrom<Rec>({ op: 'PING' }, { op: 'PONG' }, { op: '+OK' }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('-ERR' as const), text: fc.stringMatching(/^[A-Za-z ]{0,30}$/) }) },
);

/** Cut points of a stream of `length` bytes: sorted, distinct, inside it. */
const cutsOf = (length: number) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 40 }).map((c) => c.filter((x) => x < length).sort((a, b) => a - b));

function split(stream: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...cuts, stream.length]) {
    out.push(Buffer.from(stream.subarray(from, c)));
    from = c;
  }
  return out;
}

describe('NatsParser', () => {
  it('reads MSG records with and without reply subjects, and the control operations, from one piece', () => {
    const recs: Rec[] = [
      { op: 'INFO', json: '{"server_id":"x","max_payload":1048576}' },
      { op: 'MSG', subject: 't', sid: '1', reply: '', payload: [...Buffer.from('hello\r\nworld')] },
      { op: 'MSG', subject: 't.3', sid: '22', reply: '_INBOX.abc', payload: [] },
      { op: 'PING' },
      { op: '-ERR', text: 'Slow Consumer' },
    ];
    const { records, errors } = parse([Buffer.concat(recs.map(encode))]);
    expect(errors).toEqual([]);
    expect(records).toEqual(recs);
  });

  it('gives the sid as a number for the subscriber to check', () => {
    const sids: number[] = [];
    const parser: NatsParser = new NatsParser({ onMsg: () => sids.push(parser.sid), onError: (why) => expect.fail(why) });
    const bytes = Buffer.from('MSG t 7 3\r\nabc\r\nMSG t x9 0\r\n\r\n');
    parser.feed(bytes, 0, bytes.length);
    expect(sids).toEqual([7, -1]);
  });

  it('any split of a stream of records into frames yields the same records as the whole stream', () => {
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 30 }).chain((recs) => {
          const stream = Buffer.concat(recs.map(encode));
          return fc.tuple(fc.constant(recs), fc.constant(stream), cutsOf(stream.length));
        }),
        ([recs, stream, cuts]) => {
          const whole = parse([stream]);
          expect(whole.errors).toEqual([]);
          expect(whole.records).toEqual(recs);
          const pieces = parse(split(stream, cuts));
          expect(pieces.errors).toEqual([]);
          expect(pieces.records).toEqual(recs);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('byte by byte yields the same records', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), (recs) => {
        const stream = Buffer.concat(recs.map(encode));
        const bytes = [...stream].map((b) => Buffer.from([b]));
        const out = parse(bytes);
        expect(out.errors).toEqual([]);
        expect(out.records).toEqual(recs);
      }),
      { numRuns: 100 },
    );
  });

  it('fails, and stops, on a payload not followed by CRLF or an unknown operation', () => {
    for (const bad of ['MSG t 1 3\r\nabcd\r\n', 'HELLO\r\n', 'MSG t 1 x\r\n']) {
      const { errors } = parse([Buffer.from(bad)]);
      expect(errors.length, bad).toBe(1);
    }
  });
});
