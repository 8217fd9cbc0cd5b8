import { describe, expect, it } from 'vitest';
import { BadQueryError, isFanwireError } from '../../src/errors.js';
import { MAX_TOPICS_PER_SUBSCRIPTION, parseSubscribeQuery } from '../../src/protocol/index.js';
import type { SubscribeRequest } from '../../src/protocol/index.js';

const parse = (query: string): SubscribeRequest => parseSubscribeQuery(new URLSearchParams(query));

/** The BadQueryError `query` is refused with; fails the test when the query is accepted. */
function refusal(query: string): BadQueryError {
  let accepted: SubscribeRequest;
  try {
    accepted = parse(query);
  } catch (err) {
    if (err instanceof BadQueryError) return err;
    throw err;
  }
  throw new Error(`expected bad_query for "${query}", got ${JSON.stringify(accepted)}`);
}

/** Asserts `query` is refused with bad_query and a message that names `parameter`. */
function expectRefused(query: string, parameter: string): BadQueryError {
  const err = refusal(query);
  expect(err.code).toBe('bad_query');
  expect(isFanwireError(err)).toBe(true);
  expect(err.message, `message for "${query}"`).toContain(parameter);
  return err;
}

const topicsQuery = (n: number): string => Array.from({ length: n }, (_, i) => `topic=t${i}`).join('&');

describe('parseSubscribeQuery', () => {
  describe('defaults', () => {
    it('subscribes an empty query to everything, live, in msgpack, not strict, dropped when it lags', () => {
      expect(parse('')).toEqual({ topics: null, index: null, epoch: null, format: 'msgpack', strict: false, lag: 'drop', skipTo: 'oldest', batch: false, snapshot: false });
    });
  });

  describe('topic', () => {
    it('matches a whole topic with T', () => {
      expect(parse('topic=orders').topics).toEqual([{ topic: 'orders', key: null }]);
    });

    it('matches one key of a topic with T:k', () => {
      expect(parse('topic=orders:o-17').topics).toEqual([{ topic: 'orders', key: 'o-17' }]);
    });

    it('takes everything after the first ":" as the key, colons included', () => {
      expect(parse('topic=orders:eu:o-17').topics).toEqual([{ topic: 'orders', key: 'eu:o-17' }]);
      expect(parse('topic=orders::').topics).toEqual([{ topic: 'orders', key: ':' }]);
      expect(parse(`topic=${encodeURIComponent('orders:a b*c')}`).topics).toEqual([{ topic: 'orders', key: 'a b*c' }]);
    });

    it('is repeatable and keeps every selector in order', () => {
      expect(parse('topic=orders&topic=audit:x&topic=orders:o-1').topics).toEqual([
        { topic: 'orders', key: null },
        { topic: 'audit', key: 'x' },
        { topic: 'orders', key: 'o-1' },
      ]);
    });

    it('means everything when "*" is given, wherever it appears', () => {
      expect(parse('topic=*').topics).toBeNull();
      expect(parse('topic=*&topic=orders').topics).toBeNull();
      expect(parse('topic=orders&topic=audit:k&topic=*').topics).toBeNull();
    });

    it(`accepts ${MAX_TOPICS_PER_SUBSCRIPTION} topics and refuses more`, () => {
      expect(MAX_TOPICS_PER_SUBSCRIPTION).toBe(64);
      expect(parse(topicsQuery(64)).topics).toHaveLength(64);
      expectRefused(topicsQuery(65), 'topics');
    });

    it('accepts topics and keys at their maximum lengths', () => {
      const topic = 't'.repeat(128);
      const key = 'k'.repeat(256);
      expect(parse(`topic=${topic}:${key}`).topics).toEqual([{ topic, key }]);
    });

    it.each([
      ['empty', 'topic='],
      ['only a key', 'topic=:k'],
      ['T: with an empty key', 'topic=orders:'],
      ['containing "*"', 'topic=ord*ers'],
      ['"*" with a key', 'topic=*:k'],
      ['containing a space', 'topic=new%20orders'],
      ['containing a "+" (a space in a query)', 'topic=new+orders'],
      ['containing a tab', 'topic=a%09b'],
      ['longer than 128 characters', `topic=${'t'.repeat(129)}`],
      ['with a key longer than 256 characters', `topic=orders:${'k'.repeat(257)}`],
      ['malformed after a good one', 'topic=orders&topic='],
    ])('refuses a topic that is %s, naming it', (_what, query) => {
      expectRefused(query, 'topic');
    });

    it('refuses a malformed topic given before "*"', () => {
      expectRefused('topic=&topic=*', 'topic');
    });

    it('refuses an empty or malformed topic given after "*"', () => {
      expectRefused('topic=*&topic=', 'topic');
      expectRefused('topic=*&topic=a%20b', 'topic');
    });
  });

  describe('index', () => {
    it('is absent for a live subscription', () => {
      expect(parse('topic=a').index).toBeNull();
    });

    it('accepts 0, small and large decimal integers', () => {
      expect(parse('index=0').index).toBe(0);
      expect(parse('index=1').index).toBe(1);
      expect(parse('index=1043').index).toBe(1043);
      expect(parse('index=007').index).toBe(7);
      expect(parse(`index=${Number.MAX_SAFE_INTEGER}`).index).toBe(Number.MAX_SAFE_INTEGER);
    });

    it.each([
      ['empty', 'index='],
      ['negative', 'index=-1'],
      ['with a plus sign', 'index=%2B5'],
      ['a fraction', 'index=1.5'],
      ['in exponent form', 'index=1e3'],
      ['hexadecimal', 'index=0x10'],
      ['with spaces', 'index=%201'],
      ['letters', 'index=abc'],
      ['non-ASCII digits', 'index=%D9%A1'],
      ['beyond 2^53', 'index=9007199254740992'],
      ['16 nines', `index=${'9'.repeat(16)}`],
      ['more than 16 digits', `index=${'1'.repeat(17)}`],
    ])('refuses an index that is %s, naming it', (_what, query) => {
      expectRefused(query, 'index');
    });
  });

  describe('epoch', () => {
    it('is null when absent and kept as given when present', () => {
      expect(parse('index=5').epoch).toBeNull();
      expect(parse('index=5&epoch=9f2c4e1a7b3d5c60').epoch).toBe('9f2c4e1a7b3d5c60');
    });

    it('refuses an empty or overlong epoch, naming it', () => {
      expectRefused('index=5&epoch=', 'epoch');
      expectRefused(`index=5&epoch=${'e'.repeat(65)}`, 'epoch');
    });
  });

  describe('format', () => {
    it('accepts msgpack and json', () => {
      expect(parse('format=msgpack').format).toBe('msgpack');
      expect(parse('format=json').format).toBe('json');
    });

    it.each(['xml', 'JSON', 'MsgPack', '', 'json '])('refuses format "%s", naming it', (value) => {
      expectRefused(`format=${encodeURIComponent(value)}`, 'format');
    });
  });

  describe('strict', () => {
    it('turns on with 1 or true when an index is given', () => {
      expect(parse('index=3&strict=1').strict).toBe(true);
      expect(parse('index=3&strict=true').strict).toBe(true);
    });

    it('stays off with 0 or false, with or without an index', () => {
      expect(parse('index=3&strict=0').strict).toBe(false);
      expect(parse('index=3&strict=false').strict).toBe(false);
      expect(parse('strict=0').strict).toBe(false);
      expect(parse('strict=false').strict).toBe(false);
    });

    it.each(['yes', 'TRUE', '2', '', 'on'])('refuses strict "%s", naming it', (value) => {
      expectRefused(`index=3&strict=${value}`, 'strict');
    });

    it('refuses strict without an index, naming both', () => {
      const err = expectRefused('strict=1', 'strict');
      expect(err.message).toContain('index');
      expectRefused('topic=a&strict=true&epoch=e1', 'strict');
    });
  });

  describe('batch', () => {
    it('turns on with 1 or true, off with 0, false or nothing', () => {
      expect(parse('batch=1').batch).toBe(true);
      expect(parse('batch=true').batch).toBe(true);
      expect(parse('batch=0').batch).toBe(false);
      expect(parse('batch=false').batch).toBe(false);
      expect(parse('topic=a').batch).toBe(false);
    });

    it.each(['yes', 'TRUE', '2', '', 'on'])('refuses batch "%s", naming it', (value) => {
      expectRefused(`batch=${value}`, 'batch');
    });

    it('refuses batch given twice', () => {
      expectRefused('batch=1&batch=1', 'batch');
    });
  });

  describe('lag', () => {
    it('is drop unless skip or conflate is asked for', () => {
      expect(parse('').lag).toBe('drop');
      expect(parse('lag=drop').lag).toBe('drop');
      expect(parse('lag=skip').lag).toBe('skip');
      expect(parse('lag=conflate').lag).toBe('conflate');
    });

    it.each(['', 'Skip', 'close', 'conflate ', '1'])('refuses lag "%s", naming it', (value) => {
      expectRefused(`lag=${encodeURIComponent(value)}`, 'lag');
    });
  });

  describe('skip_to', () => {
    it('is oldest unless tail is asked for, with lag skip or conflate', () => {
      expect(parse('lag=skip').skipTo).toBe('oldest');
      expect(parse('lag=skip&skip_to=oldest').skipTo).toBe('oldest');
      expect(parse('lag=skip&skip_to=tail').skipTo).toBe('tail');
      expect(parse('lag=conflate&skip_to=tail').skipTo).toBe('tail');
    });

    it.each(['', 'head', 'newest', 'TAIL'])('refuses skip_to "%s", naming it', (value) => {
      expectRefused(`lag=skip&skip_to=${encodeURIComponent(value)}`, 'skip_to');
    });

    it('refuses skip_to with lag=drop or without lag, naming both', () => {
      const err = expectRefused('skip_to=tail', 'skip_to');
      expect(err.message).toContain('lag');
      expectRefused('lag=drop&skip_to=oldest', 'skip_to');
    });
  });

  describe('snapshot', () => {
    it('reads snapshot=1, with or without a resume index', () => {
      expect(parse('snapshot=1')).toMatchObject({ snapshot: true, index: null });
      expect(parse('snapshot=1&index=7')).toMatchObject({ snapshot: true, index: 7, strict: false });
    });

    it('refuses snapshot=1 with strict=1: one heals a gap the other refuses', () => {
      expect(() => parse('snapshot=1&strict=1&index=3')).toThrow(BadQueryError);
    });
  });

  describe('unknown and repeated parameters', () => {
    it.each(['topics', 'Topic', 'since', 'from', 'format2', ''])('refuses the unknown parameter "%s", naming it', (name) => {
      expectRefused(`topic=a&${encodeURIComponent(name)}=1`, `"${name}"`);
    });

    it.each([
      ['index', 'index=1&index=2'],
      ['index', 'index=1&index=1'],
      ['epoch', 'index=1&epoch=a&epoch=b'],
      ['format', 'format=json&format=json'],
      ['strict', 'index=1&strict=1&strict=0'],
      ['lag', 'lag=skip&lag=skip'],
      ['skip_to', 'lag=skip&skip_to=tail&skip_to=tail'],
    ])('refuses "%s" given more than once, naming it', (name, query) => {
      expectRefused(query, name);
    });

    it('reads a full resume query', () => {
      expect(parse('topic=orders:o-2&index=1&format=json&epoch=9f2c4e1a7b3d5c60&strict=1&lag=skip&skip_to=tail')).toEqual({
        topics: [{ topic: 'orders', key: 'o-2' }],
        index: 1,
        epoch: '9f2c4e1a7b3d5c60',
        format: 'json',
        strict: true,
        lag: 'skip',
        skipTo: 'tail',
        batch: false,
        snapshot: false,
      });
    });
  });
});
