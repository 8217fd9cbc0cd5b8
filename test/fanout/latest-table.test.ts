import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../../src/buffer/index.js';
import { FilterRegistry, LatestTable, Snapshots, type LatestEntry } from '../../src/fanout/index.js';

interface Ev {
  topic: string;
  key: string;
  n: number;
}

function setup(maxKeys = 1000, ttlMs = 0, bufferSize = 5) {
  let clock = 0;
  const forgotten: Array<[string, number]> = [];
  const table = new LatestTable<Ev>({ maxKeys, ttlMs, onForget: (cause, count) => forgotten.push([cause, count]) });
  const buffer = new EventBuffer<Ev>({ maxSize: bufferSize, now: () => clock, onAppend: (item) => table.record(item) });
  const append = (...events: Ev[]) => buffer.append(events, 10 * events.length);
  return { table, buffer, append, forgotten, tick: (ms: number) => (clock += ms), all: new FilterRegistry().acquire(null) };
}

const ev = (topic: string, key: string, n: number): Ev => ({ topic, key, n });
const view = (entries: readonly LatestEntry<Ev>[]) => entries.map((e) => `${e.event.topic}:${e.event.key}=${e.event.n}@${e.index}`);

describe('LatestTable', () => {
  it('keeps the newest event per (topic, key) with its item index, oldest update first, after the buffer evicted the item', () => {
    const { table, append, buffer, all } = setup();
    append(ev('t', 'a', 1), ev('t', 'b', 2));
    for (let i = 0; i < 10; i++) append(ev('u', '', i));
    append(ev('t', 'a', 3));
    expect(buffer.oldestIndex).toBeGreaterThan(1);
    expect(view(table.select(all, buffer.newestIndex + 1))).toEqual(['t:b=2@1', 'u:=9@11', 't:a=3@12']);
  });

  it('gives only what is below the snapshot point and what the filter passes', () => {
    const { table, append } = setup();
    append(ev('t', 'a', 1));
    append(ev('t', 'b', 2));
    append(ev('x', 'c', 3));
    const tOnly = new FilterRegistry().acquire([{ topic: 't', key: null }]);
    expect(view(table.select(tOnly, 3))).toEqual(['t:a=1@1', 't:b=2@2']);
    expect(view(table.select(tOnly, 2))).toEqual(['t:a=1@1']);
  });

  it('forgets the key updated longest ago past maxKeys, and keys not updated within the TTL, telling how many', () => {
    const { table, append, tick, forgotten, all } = setup(2, 100);
    append(ev('t', 'a', 1));
    tick(60);
    append(ev('t', 'b', 2));
    append(ev('t', 'a', 3));
    append(ev('t', 'c', 4));
    expect(view(table.select(all, 99))).toEqual(['t:a=3@3', 't:c=4@4']);
    tick(150);
    append(ev('t', 'c', 5));
    table.expire(210);
    expect(view(table.select(all, 99))).toEqual(['t:c=5@5']);
    expect(forgotten).toEqual([
      ['keys', 1],
      ['ttl', 1],
    ]);
  });

  it('tells (topic, key) pairs apart however the topic and key split the same characters', () => {
    const { table, append, all } = setup();
    append(ev('ab', 'c', 1), ev('a', 'bc', 2));
    expect(table.size).toBe(2);
    expect(view(table.select(all, 9))).toEqual(['ab:c=1@1', 'a:bc=2@1']);
  });

  it('is, folded with every event from the snapshot point on, the fold of everything published (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.record({ topic: fc.constantFrom('a', 'b'), key: fc.constantFrom('', 'x', 'y', 'z'), n: fc.integer() }), { minLength: 1, maxLength: 4 }), { maxLength: 40 }),
        fc.nat(),
        (items, cut) => {
          const { table, append, all } = setup(1000, 0, 3);
          const point = items.length === 0 ? 1 : (cut % items.length) + 1;
          const fold = new Map<string, number>();
          let snapshot: LatestEntry<Ev>[] = [];
          items.forEach((events, i) => {
            if (i + 1 === point) snapshot = table.select(all, point);
            append(...events);
          });
          if (point > items.length) snapshot = table.select(all, point);
          for (const e of snapshot) {
            expect(e.index).toBeLessThan(point);
            fold.set(`${e.event.topic}:${e.event.key}`, e.event.n);
          }
          for (const events of items.slice(point - 1)) for (const e of events) fold.set(`${e.topic}:${e.key}`, e.n);
          const everything = new Map<string, number>();
          for (const events of items) for (const e of events) everything.set(`${e.topic}:${e.key}`, e.n);
          expect(fold).toEqual(everything);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('Snapshots', () => {
  it('builds a snapshot once per filter, encoding and point, whatever the number of subscribers asking', () => {
    const { table, append, all } = setup();
    const built: string[] = [];
    const snapshots = new Snapshots<Ev>(
      table,
      [(entries, from, to, complete) => {
        const text = `${view(entries.slice(from, to)).join(',')}${complete ? '!' : ''}`;
        built.push(text);
        return Buffer.from(text);
      }],
      1_000,
    );
    append(ev('t', 'a', 1));
    const first = snapshots.messages(all, 0, 2);
    for (let i = 0; i < 50; i++) expect(snapshots.messages(all, 0, 2)).toBe(first);
    append(ev('t', 'b', 2));
    snapshots.messages(all, 0, 3);
    expect(snapshots.builds).toBe(2);
    expect(built).toEqual(['t:a=1@1!', 't:a=1@1,t:b=2@2!']);
  });

  it('cuts a snapshot into messages of about the chunk size, only the last complete, and an empty one into one complete message', () => {
    const { table, append, all } = setup();
    const snapshots = new Snapshots<Ev>(table, [(entries, from, to, complete) => Buffer.from(`${to - from}${complete ? '!' : ''}`)], 25);
    expect(snapshots.messages(all, 0, 1).map(String)).toEqual(['0!']);
    for (let i = 0; i < 7; i++) append(ev('t', `k${i}`, i)); // 10 bytes per event
    expect(snapshots.messages(all, 0, 8).map(String)).toEqual(['3', '3', '1!']);
  });
});
