/**
 * The buffer's shared wake-up, and how it settles while a backlog arrives
 * (EventBufferOptions.settleTurns). Turns are counted with setImmediate, the
 * same macrotask queue the waker uses: no timing decides anything here.
 */
import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../../src/buffer/index.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A reader parked at the tail that records, at each wake-up, the turn and the indexes it finds ready (and tells `onWake`). */
function reader(buffer: EventBuffer<number>, turn: () => number, onWake?: (ready: number[]) => void) {
  const wakes: Array<{ turn: number; ready: number[] }> = [];
  let at = buffer.tailItem();
  const self = {
    wakes,
    wake(): void {
      const ready: number[] = [];
      for (let next = at.link.next; next !== null; next = at.link.next) {
        ready.push(next.index);
        at = next;
      }
      wakes.push({ turn: turn(), ready });
      onWake?.(ready);
      at.link.waker.park(self);
    },
  };
  at.link.waker.park(self);
  return self;
}

/** Runs `each(turn)` at the start of turns 0..turns-1 (from an immediate), then lets `extra` turns pass. */
async function turns(count: number, each: (turn: number) => void, extra = 12): Promise<void> {
  for (let t = 0; t < count + extra; t++) {
    if (t < count) each(t);
    await nextTurn();
  }
}

describe('Waker settling (settleTurns)', () => {
  it('without settling, wakes readers on the turn after every append, each seeing what that turn appended', async () => {
    const buffer = new EventBuffer<number>({ maxSize: 100 });
    let turn = 0;
    const r = reader(buffer, () => turn);
    await turns(3, (t) => {
      turn = t;
      buffer.append([t]);
      buffer.append([t]);
    });
    expect(r.wakes.map((w) => w.ready)).toEqual([[1, 2], [3, 4], [5, 6]]);
  });

  it('wakes readers once for a backlog that arrives over several turns, several items a turn', async () => {
    const buffer = new EventBuffer<number>({ maxSize: 100, settleTurns: 8 });
    let turn = 0;
    const r = reader(buffer, () => turn);
    await turns(4, (t) => {
      turn = t;
      for (let i = 0; i < 3; i++) buffer.append([t]);
    });
    expect(r.wakes.map((w) => w.ready)).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]);
  });

  it('wakes readers at once when a turn brings a single item: a quiet stream pays no extra turn', async () => {
    const settled = new EventBuffer<number>({ maxSize: 100, settleTurns: 8 });
    const plain = new EventBuffer<number>({ maxSize: 100 });
    let turn = 0;
    const a = reader(settled, () => turn);
    const b = reader(plain, () => turn);
    await turns(3, (t) => {
      turn = t;
      settled.append([t]);
      plain.append([t]);
    });
    expect(a.wakes).toEqual(b.wakes);
    expect(a.wakes.map((w) => w.ready)).toEqual([[1], [2], [3]]);
  });

  it('puts a wake-up off at most settleTurns turns, however long the backlog keeps coming', async () => {
    const buffer = new EventBuffer<number>({ maxSize: 1_000, settleTurns: 2 });
    let turn = 0;
    const r = reader(buffer, () => turn);
    await turns(12, (t) => {
      turn = t;
      buffer.append([t]);
      buffer.append([t]);
    });
    // Appended on turn 0, looked at again on turns 1 and 2, fired on turn 3; and so on.
    expect(r.wakes.length).toBeGreaterThanOrEqual(3);
    const firstTurns = r.wakes.map((w) => w.ready[0]! >> 1);
    for (let i = 1; i < r.wakes.length; i++) expect(firstTurns[i]! - firstTurns[i - 1]!).toBeLessThanOrEqual(3);
    expect(r.wakes.flatMap((w) => w.ready)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  });

  it('closing the buffer wakes readers at once, settling or not', () => {
    const buffer = new EventBuffer<number>({ maxSize: 100, settleTurns: 8 });
    const r = reader(buffer, () => 0);
    buffer.append([1]);
    buffer.append([2]);
    buffer.appendError(new Error('closed'));
    expect(r.wakes).toHaveLength(1);
  });

  it('refuses a negative or fractional settleTurns', () => {
    expect(() => new EventBuffer<number>({ maxSize: 1, settleTurns: -1 })).toThrow(RangeError);
    expect(() => new EventBuffer<number>({ maxSize: 1, settleTurns: 1.5 })).toThrow(RangeError);
  });
});

describe('Waker sweeps (wakeChunk)', () => {
  /** Readers 0..n-1 parked in order; `log` records every wake-up as [reader, ready indexes]. */
  function readers(buffer: EventBuffer<number>, n: number) {
    const log: Array<[number, number[]]> = [];
    for (let id = 0; id < n; id++) reader(buffer, () => 0, (ready) => log.push([id, ready]));
    return { log, got: (id: number) => log.filter(([r]) => r === id).map(([, ready]) => ready) };
  }

  it('wakes a long list a chunk per turn, and an item appended between chunks reaches the readers not yet woken', async () => {
    const buffer = new EventBuffer<number>({ maxSize: 100, wakeChunk: 2 });
    const { got } = readers(buffer, 5);
    await turns(2, (t) => buffer.append([t]));
    // Item 1 woke readers 0 and 1; item 2 came before the sweep reached 2, 3 and 4.
    for (const id of [0, 1]) expect(got(id)[0]).toEqual([1]);
    for (const id of [2, 3, 4]) expect(got(id)[0]).toEqual([1, 2]);
    for (const id of [0, 1, 2, 3, 4]) expect(got(id).flat()).toEqual([1, 2]);
  });

  it('never runs two sweeps at once: readers already woken get what came meanwhile once the sweep ends', async () => {
    const buffer = new EventBuffer<number>({ maxSize: 100, wakeChunk: 2 });
    const { log, got } = readers(buffer, 5);
    await turns(2, (t) => buffer.append([t]));
    const firstOfLast = log.findIndex(([id]) => id === 4);
    const secondOfFirst = log.findIndex(([id], i) => id === 0 && i > log.findIndex(([r]) => r === 0));
    expect(secondOfFirst).toBeGreaterThan(firstOfLast);
    expect(got(0)).toEqual([[1], [2]]);
  });

  it('wakes up to wakeChunk readers in one turn, as without chunks', async () => {
    const buffer = new EventBuffer<number>({ maxSize: 100, wakeChunk: 5 });
    const { log } = readers(buffer, 5);
    buffer.append([1]);
    await nextTurn();
    expect(log.map(([id]) => id)).toEqual([0, 1, 2, 3, 4]);
  });

  it('ends a chunk early when the sweep budget runs out, checking every 16 readers, and wakes the rest on later turns', async () => {
    // A budget of 0 ms is spent by the first check: 16 readers per turn.
    const buffer = new EventBuffer<number>({ maxSize: 100, wakeChunk: 512, sweepBudget: () => 0 });
    const { log } = readers(buffer, 64);
    buffer.append([1]);
    const perTurn: number[] = [];
    for (let t = 0; t < 8; t++) {
      const before = log.length;
      await nextTurn();
      perTurn.push(log.length - before);
    }
    expect(perTurn.filter((n) => n > 0)).toEqual([16, 16, 16, 16]);
    expect(log.map(([id, ready]) => [id, ready])).toEqual(Array.from({ length: 64 }, (_, id) => [id, [1]]));
  });

  it('asks the budget once per chunk: once it is lifted, the rest of the sweep goes in one turn', async () => {
    let budget = 0;
    const buffer = new EventBuffer<number>({ maxSize: 100, wakeChunk: 512, sweepBudget: () => budget });
    const { log } = readers(buffer, 64);
    buffer.append([1]);
    await nextTurn();
    expect(log).toHaveLength(16);
    budget = Number.POSITIVE_INFINITY;
    await nextTurn();
    expect(log).toHaveLength(64);
  });

  it('exposes its sweep budget, which its filtered views are built with', () => {
    const budget = (): number => 0;
    expect(new EventBuffer<number>({ maxSize: 1, sweepBudget: budget }).sweepBudget).toBe(budget);
  });

  it('refuses a wakeChunk below 1 or fractional', () => {
    expect(() => new EventBuffer<number>({ maxSize: 1, wakeChunk: 0 })).toThrow(RangeError);
    expect(() => new EventBuffer<number>({ maxSize: 1, wakeChunk: 2.5 })).toThrow(RangeError);
    expect(() => new EventBuffer<number>({ maxSize: 1, wakeChunk: Number.NaN })).toThrow(RangeError);
    expect(new EventBuffer<number>({ maxSize: 1, wakeChunk: Number.POSITIVE_INFINITY }).wakeChunk).toBe(Number.POSITIVE_INFINITY);
  });
});
