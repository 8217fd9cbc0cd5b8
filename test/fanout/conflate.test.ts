import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../../src/buffer/index.js';
import { ShuttingDownError } from '../../src/errors.js';
import { conflateRange, FilterRegistry } from '../../src/fanout/index.js';

interface Ev {
  topic: string;
  key: string;
  n: number;
  filterKeys?: string[];
}

const ev = (topic: string, key: string, n: number, filterKeys?: string[]): Ev => (filterKeys ? { topic, key, n, filterKeys } : { topic, key, n });

describe('conflateRange', () => {
  it('keeps the newest event of each (topic, key), ordered by when each was published', () => {
    const buffer = new EventBuffer<Ev>({ maxSize: 10 });
    const start = buffer.tailItem();
    buffer.append([ev('a', 'x', 1), ev('b', 'x', 2)]);
    buffer.append([ev('a', 'y', 3)]);
    buffer.append([ev('a', 'x', 4), ev('a', '', 5)]);
    buffer.append([ev('a', '', 6)]);
    const r = conflateRange(start, new FilterRegistry().acquire(null), 0);
    expect(r.events.map((e) => e.n)).toEqual([2, 3, 4, 6]);
    expect(r.matched).toBe(6);
    expect(r.last.index).toBe(4);
    expect(r.error).toBeNull();
  });

  it('sees only what the filter passes, keys and filterKeys included', () => {
    const buffer = new EventBuffer<Ev>({ maxSize: 10 });
    const start = buffer.tailItem();
    buffer.append([ev('a', 'x', 1), ev('a', 'z', 2, ['x']), ev('a', 'y', 3), ev('b', 'x', 4)]);
    const r = conflateRange(start, new FilterRegistry().acquire([{ topic: 'a', key: 'x' }]), 0);
    expect(r.events.map((e) => e.n)).toEqual([1, 2]);
    expect(r.matched).toBe(2);
  });

  it('leaves out items below startAt and stops before the error item', () => {
    const buffer = new EventBuffer<Ev>({ maxSize: 10 });
    const start = buffer.tailItem();
    for (let n = 1; n <= 4; n++) buffer.append([ev('a', 'x', n)]);
    expect(conflateRange(start, new FilterRegistry().acquire(null), 5).events).toEqual([]);
    const err = new ShuttingDownError();
    buffer.appendError(err);
    const r = conflateRange(start, new FilterRegistry().acquire(null), 3);
    expect(r.events.map((e) => e.n)).toEqual([4]);
    expect(r.matched).toBe(2);
    expect(r.last.index).toBe(4);
    expect(r.error).toBe(err);
  });
});
