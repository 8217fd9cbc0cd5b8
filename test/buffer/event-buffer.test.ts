import { describe, expect, it } from 'vitest';
import { fuzzSeed, seededRandom } from '../random.js';
import { BufferItem, EventBuffer } from '../../src/buffer/index.js';
import { DroppedError, ShuttingDownError } from '../../src/errors.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('EventBuffer', () => {
  describe('append', () => {
    it('assigns indexes starting at 1 and growing by one per append', () => {
      const buf = new EventBuffer<string>({ maxSize: 10 });
      expect(buf.newestIndex).toBe(0);
      expect(buf.append(['a']).index).toBe(1);
      expect(buf.append(['b', 'c']).index).toBe(2);
      expect(buf.newestIndex).toBe(2);
      expect(buf.oldestIndex).toBe(1);
      expect(buf.length).toBe(2);
    });

    it('links each item to the next so a reader can walk the chain without waiting', () => {
      const buf = new EventBuffer<number>({ maxSize: 10 });
      const start = buf.tailItem();
      for (let i = 1; i <= 5; i++) buf.append([i]);
      const seen: number[] = [];
      for (let item = start.nextNoBlock(); item !== null; item = item.nextNoBlock()) seen.push(item.events![0]!);
      expect(seen).toEqual([1, 2, 3, 4, 5]);
    });

    it('wakes every waiting reader once per macrotask, however many items were appended', async () => {
      const buf = new EventBuffer<number>({ maxSize: 100 });
      const tail = buf.tailItem();
      let wakes = 0;
      const readers = Array.from({ length: 50 }, () =>
        tail.next().then((item) => {
          wakes++;
          return item;
        }),
      );
      for (let i = 0; i < 20; i++) buf.append([i]);
      expect(wakes).toBe(0); // coalesced: nothing resolves inside the appending task
      const items = await Promise.all(readers);
      expect(wakes).toBe(50);
      expect(items.every((item) => item.index === 1)).toBe(true);
      // The woken readers find all 20 items ready without another wait.
      let item: BufferItem<number> | null = items[0]!;
      let count = 0;
      while (item !== null) {
        count++;
        item = item.nextNoBlock();
      }
      expect(count).toBe(20);
    });

    it('takes an explicit index above the newest, so a replicated log may skip sequences', () => {
      const buf = new EventBuffer<string>({ maxSize: 10 });
      expect(buf.append(['a'], 0, 3).index).toBe(3);
      expect(buf.append(['b'], 0, 7).index).toBe(7);
      expect(buf.append(['c']).index).toBe(8); // the default is still newest + 1
      expect([buf.oldestIndex, buf.newestIndex, buf.length]).toEqual([3, 8, 3]);
      const walked: number[] = [];
      for (let item: BufferItem<string> | null = buf.headItem(); item !== null; item = item.nextNoBlock()) walked.push(item.index);
      expect(walked).toEqual([3, 7, 8]);
    });

    it('refuses an index that is not above the newest with a RangeError, appending nothing', () => {
      const buf = new EventBuffer<string>({ maxSize: 10 });
      buf.append(['a'], 0, 5);
      for (const bad of [5, 4, 0, -1, 5.5, Number.NaN]) {
        expect(() => buf.append(['x'], 0, bad), `index ${bad}`).toThrow(RangeError);
      }
      expect([buf.newestIndex, buf.length]).toEqual([5, 1]);
    });

    it('finds the closest retained item across skipped indexes', () => {
      const buf = new EventBuffer<number>({ maxSize: 10 });
      for (const index of [2, 4, 9]) buf.append([index], 0, index);
      expect(buf.startAtClosest(3)).toMatchObject({ item: { index: 4 }, offset: 1 });
      expect(buf.startAtClosest(5)).toMatchObject({ item: { index: 9 }, offset: 4 });
      expect(buf.startAtClosest(1)).toMatchObject({ item: { index: 2 }, offset: 1 });
    });
  });

  describe('rebase', () => {
    it('re-anchors an empty buffer so oldest and newest name the log position it starts at', () => {
      const buf = new EventBuffer<string>({ maxSize: 10 });
      buf.rebase(41);
      expect([buf.newestIndex, buf.oldestIndex, buf.length]).toEqual([41, 42, 0]);
      expect(buf.append(['a']).index).toBe(42);
      expect([buf.oldestIndex, buf.newestIndex]).toEqual([42, 42]);
    });

    it('still delivers the first append to a reader that parked on the old anchor', async () => {
      const buf = new EventBuffer<string>({ maxSize: 10 });
      const parked = buf.tailItem().next();
      buf.rebase(100);
      buf.append(['a'], 0, 105);
      expect((await parked).index).toBe(105);
    });

    it('is refused with a RangeError once anything was appended, or after appendError', () => {
      const buf = new EventBuffer<string>({ maxSize: 1 });
      buf.append(['a']);
      buf.append(['b']); // evicts a: the buffer is not empty, and was appended to
      expect(() => buf.rebase(10)).toThrow(RangeError);
      const closed = new EventBuffer<string>({ maxSize: 1 });
      closed.appendError(new ShuttingDownError());
      expect(() => closed.rebase(10)).toThrow(RangeError);
      expect(() => new EventBuffer<string>({ maxSize: 1 }).rebase(-1)).toThrow(RangeError);
    });
  });

  describe('concurrent readers', () => {
    it('lets many readers each see every item exactly once and in order (fuzz, seed logged)', async () => {
      const random = seededRandom(fuzzSeed('event-buffer fuzz'));
      const buf = new EventBuffer<number>({ maxSize: 2_000 });
      const total = 1_000;
      const readers = 1_000;
      const start = buf.tailItem();

      const read = async (): Promise<number[]> => {
        const seen: number[] = [];
        let item = start;
        while (seen.length < total) {
          item = await item.next();
          seen.push(item.index);
        }
        return seen;
      };
      const results = Array.from({ length: readers }, read);

      for (let i = 0; i < total; ) {
        const burst = 1 + Math.floor(random() * 20);
        for (let j = 0; j < burst && i < total; j++, i++) buf.append([i]);
        await tick();
      }

      const expected = Array.from({ length: total }, (_, i) => i + 1);
      for (const seen of await Promise.all(results)) expect(seen).toEqual(expected);
    });
  });

  describe('max size', () => {
    it('evicts the oldest items past the max size and marks them dropped', () => {
      const evictions: Array<[string, number]> = [];
      const buf = new EventBuffer<number>({ maxSize: 3, onEvict: (cause, n) => evictions.push([cause, n]) });
      const items = [1, 2, 3, 4, 5].map((i) => buf.append([i]));
      expect(buf.length).toBe(3);
      expect(buf.oldestIndex).toBe(3);
      expect(buf.headItem().index).toBe(3);
      expect(items.map((item) => item.dropped)).toEqual([true, true, false, false, false]);
      expect(evictions).toEqual([
        ['size', 1],
        ['size', 1],
      ]);
    });

    it('never marks the sentinel dropped, so a reader waiting for the first item is not punished', async () => {
      const buf = new EventBuffer<number>({ maxSize: 1 });
      const waiting = buf.tailItem().next();
      buf.append([1]);
      buf.append([2]);
      await expect(waiting).resolves.toMatchObject({ index: 1 });
    });
  });

  describe('evictBefore', () => {
    it('evicts the items below an index, marked dropped, and keeps the newest as the anchor', () => {
      const buf = new EventBuffer<number>({ maxSize: 10 });
      const items = [1, 2, 3, 4].map((i) => buf.append([i]));
      expect(buf.evictBefore(3)).toBe(2);
      expect(buf.oldestIndex).toBe(3);
      expect(items.map((item) => item.dropped)).toEqual([true, true, false, false]);
      expect(buf.evictBefore(100)).toBe(2);
      expect(buf.length).toBe(0);
      expect(buf.tailItem().dropped).toBe(false);
      expect(buf.append([5]).index).toBe(5);
      expect(buf.headItem().index).toBe(5);
    });
  });

  describe('onAppend', () => {
    it('sees every appended item and the error item, in order, before readers wake', async () => {
      const seen: Array<number | string> = [];
      const buf = new EventBuffer<number>({ maxSize: 2, onAppend: (item) => seen.push(item.error ? 'error' : item.index) });
      const waiting = buf.tailItem().next().then(() => seen.push('woken'));
      buf.append([1]);
      buf.append([2]);
      buf.append([3]);
      buf.appendError(new Error('closed'));
      await waiting;
      expect(seen).toEqual([1, 2, 3, 'error', 'woken']);
    });
  });

  describe('slow reader', () => {
    it('rejects next() with DroppedError once the item the reader holds was evicted', async () => {
      const buf = new EventBuffer<number>({ maxSize: 5 });
      const first = buf.append([1]);
      for (let i = 2; i <= 10; i++) buf.append([i]);
      const err = await first.next().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DroppedError);
      expect(err).toMatchObject({ code: 'dropped', dropCause: 'lagged', lastIndex: 1 });
    });

    it('keeps serving a reader that stays within the buffer', async () => {
      const buf = new EventBuffer<number>({ maxSize: 5 });
      const first = buf.append([1]);
      for (let i = 2; i <= 5; i++) buf.append([i]);
      await expect(first.next()).resolves.toMatchObject({ index: 2 });
    });
  });

  describe('TTL', () => {
    it('prunes items older than the TTL from the head', () => {
      let now = 1_000;
      const evictions: Array<[string, number]> = [];
      const buf = new EventBuffer<number>({
        maxSize: 100,
        maxItemTtlMs: 60_000,
        now: () => now,
        onEvict: (cause, n) => evictions.push([cause, n]),
      });
      try {
        const old = [buf.append([1]), buf.append([2])];
        now += 30_000;
        buf.append([3]);
        now += 31_000; // items 1 and 2 are now 61 s old, item 3 is 31 s old
        buf.prune();
        expect(buf.oldestIndex).toBe(3);
        expect(buf.length).toBe(1);
        expect(old.map((item) => item.dropped)).toEqual([true, true]);
        expect(evictions).toEqual([['ttl', 2]]);
      } finally {
        buf.close();
      }
    });

    it('keeps the newest item as an unmarked anchor when everything expires', async () => {
      let now = 0;
      const buf = new EventBuffer<number>({ maxSize: 100, maxItemTtlMs: 1_000, now: () => now });
      try {
        const last = buf.append([1]);
        now += 5_000;
        buf.prune();
        expect(buf.length).toBe(0);
        expect(buf.oldestIndex).toBe(2);
        expect(last.dropped).toBe(false);
        const waiting = last.next();
        buf.append([2]);
        await expect(waiting).resolves.toMatchObject({ index: 2 });
        expect(buf.oldestIndex).toBe(2);
      } finally {
        buf.close();
      }
    });
  });

  describe('startAtClosest', () => {
    const buf = new EventBuffer<number>({ maxSize: 5 });
    for (let i = 1; i <= 8; i++) buf.append([i]); // retains 4..8
    const cases: Array<{ desc: string; req: number; index: number; offset: number }> = [
      { desc: 'requested index less than head receives head', req: 1, index: 4, offset: 3 },
      { desc: 'requested index equal to head receives head', req: 4, index: 4, offset: 0 },
      { desc: 'requested index inside the buffer receives that item', req: 6, index: 6, offset: 0 },
      { desc: 'requested index equal to tail receives tail', req: 8, index: 8, offset: 0 },
      { desc: 'requested index past the tail receives tail', req: 11, index: 8, offset: 3 },
    ];
    for (const c of cases) {
      it(c.desc, () => {
        const { item, offset } = buf.startAtClosest(c.req);
        expect([item.index, offset]).toEqual([c.index, c.offset]);
      });
    }

    it('gives the anchor of an empty buffer', () => {
      const empty = new EventBuffer<number>({ maxSize: 5 });
      expect(empty.startAtClosest(3)).toMatchObject({ item: { index: 0 }, offset: 3 });
    });
  });

  describe('appendError', () => {
    it('ends every reader with the error and refuses further appends', async () => {
      const buf = new EventBuffer<number>({ maxSize: 5 });
      const tail = buf.tailItem();
      const readers = [tail.next(), tail.next()];
      const err = new ShuttingDownError();
      buf.appendError(err);
      for (const r of readers) await expect(r).rejects.toBe(err);
      expect(() => buf.append([1])).toThrow(err);
      expect(buf.error).toBe(err);
    });

    it('lets readers behind the error drain what was appended before it', async () => {
      const buf = new EventBuffer<number>({ maxSize: 5 });
      const start = buf.tailItem();
      buf.append([1]);
      buf.appendError(new ShuttingDownError());
      const first = await start.next();
      expect(first.index).toBe(1);
      await expect(first.next()).rejects.toBeInstanceOf(ShuttingDownError);
    });
  });

  describe('BufferItem', () => {
    it('honours an AbortSignal while waiting', async () => {
      const buf = new EventBuffer<number>({ maxSize: 5 });
      const ac = new AbortController();
      const waiting = buf.tailItem().next(ac.signal);
      ac.abort(new Error('unsubscribed'));
      await expect(waiting).rejects.toThrow('unsubscribed');
    });

    it('nextLink gives the next item, or a position sharing the link without the events', async () => {
      const buf = new EventBuffer<number>({ maxSize: 5 });
      const one = buf.append([1]);
      const link = one.nextLink();
      expect(link.events).toBeNull();
      expect(link.link).toBe(one.link);
      const waiting = link.next();
      const two = buf.append([2]);
      expect(one.nextLink()).toBe(two);
      await expect(waiting).resolves.toBe(two);
    });

    it('before(item) makes a start position whose next is that item', async () => {
      const buf = new EventBuffer<number>({ maxSize: 5 });
      const one = buf.append([1]);
      await expect(BufferItem.before(one).next()).resolves.toBe(one);
    });
  });
});
