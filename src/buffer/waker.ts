/**
 * The buffer's one shared wake-up. Every reader parked at the tail is woken
 * by the same event, so one resolution wakes all of them: O(1) work for the
 * writer per append however many readers there are (Nomad closes one
 * channel for the same reason).
 *
 * Resolution is deferred to the next macrotask (`setImmediate`) and coalesced:
 * a producer that appends 50 items in one tick wakes each reader once, and the
 * reader finds all 50 ready and writes them in one batch. Resolving per append
 * would wake every reader per item and defeat batching.
 *
 * Optionally the firing settles first (`settleTurns`): when the turn that
 * scheduled it appended several items, a producer is likely delivering a
 * backlog over several socket reads (a read holds at most 64-512 KiB), so the
 * firing looks again one event-loop turn later, up to `settleTurns` times,
 * and readers wake once for the whole backlog: one write per subscriber
 * instead of one per read. A turn that brought a single item (or none)
 * fires at once, so a quiet stream pays nothing.
 *
 * A long list of readers is woken in chunks (`chunk` per event-loop turn,
 * fewer when `budget` says the turn must end sooner),
 * with the turn's I/O in between: an item appended meanwhile reaches the
 * readers this sweep has yet to wake, and the readers it already woke get it
 * in one more sweep once this one ends (never two sweeps at once, so each
 * reader still writes once per sweep). Woken in one go, an item that arrived
 * early in a sweep waited for the whole sweep and then for its own: at 10k
 * subscribers under sustained load that doubled the tail latency.
 *
 * Two ways to wait, woken by the same firing: `wait()`, a promise shared by
 * every caller (for `BufferItem.next()` and other occasional readers), and
 * `park(reader)`, which calls `reader.wake()`. The second is what the
 * fan-out's cursors use: a parked reader costs one slot in an array, where
 * a reader awaiting a promise costs an async frame and a reaction per wait.
 */

/** A reader parked with `park`; `wake` must not throw. */
export interface Wakeable {
  wake(): void;
}

/**
 * How long (ms) a chunk of a sweep may take right now; Infinity: only the
 * chunk's count bounds it. Asked once per chunk. The gateway shortens chunks
 * while connections arrive, because Node accepts one connection per
 * event-loop turn (libuv 1.45+): with long turns a reconnect storm fills
 * the listen queue while the sweep writes to the clients already back.
 */
export type SweepBudget = () => number;

const NO_BUDGET: SweepBudget = () => Number.POSITIVE_INFINITY;

/** Readers woken between two reads of the clock under a budget: a reader's wake is a socket write or two. */
const CLOCK_EVERY = 16;

export class Waker {
  private promise: Promise<void> | null = null;
  private resolvePromise: (() => void) | null = null;
  private scheduled = false;
  /** Parked readers; swapped with `spare` on each firing, so waking allocates nothing. */
  private parked: Wakeable[] = [];
  private spare: Wakeable[] | null = [];
  /** Readers woken per event-loop turn; a longer list goes on after the turn's I/O (see the header). */
  private readonly chunk: number;
  /** A chunked wake-up is under way. */
  private sweeping = false;
  /** Something was appended during the sweep: wake the readers it already woke once it ends. */
  private fireAfterSweep = false;
  /** Turns a firing may be put off while each brings several items; 0: fire on the next macrotask. */
  private readonly settleTurns: number;
  /** Turns put off so far for the pending firing. */
  private settled = 0;
  /** `notify` calls since the firing was scheduled (that one included) or last put off. */
  private notified = 0;

  /** See SweepBudget. */
  private readonly budget: SweepBudget;

  constructor(settleTurns = 0, chunk = Number.POSITIVE_INFINITY, budget: SweepBudget = NO_BUDGET) {
    this.settleTurns = settleTurns;
    this.chunk = chunk;
    this.budget = budget;
  }

  /** Resolves on the first macrotask after the next `notify()`. */
  wait(): Promise<void> {
    if (this.promise === null) {
      this.promise = new Promise<void>((resolve) => {
        this.resolvePromise = resolve;
      });
    }
    return this.promise;
  }

  /** Calls `reader.wake()` once, on the first macrotask after the next `notify()`. */
  park(reader: Wakeable): void {
    this.parked.push(reader);
  }

  /** Wake every current waiter soon. Cheap when nobody waits: readers check the chain before parking. */
  notify(): void {
    if (this.scheduled) {
      this.notified++;
      return;
    }
    if (this.promise === null && this.parked.length === 0) return;
    this.scheduled = true;
    this.notified = 1;
    setImmediate(this.fire);
  }

  /** Wake every current waiter now, without waiting for the macrotask (used when the buffer closes). */
  notifyNow(): void {
    this.wakeAll();
  }

  private readonly fire = (): void => {
    if (this.notified > 1 && this.settled < this.settleTurns) {
      // setImmediate from inside an immediate runs on the next turn, after its I/O.
      this.notified = 0;
      this.settled++;
      setImmediate(this.fire);
      return;
    }
    if (this.sweeping) {
      // The sweep under way hands what was appended to the readers it has
      // yet to reach; the ones it already woke get it when it ends.
      this.fireAfterSweep = true;
      return;
    }
    this.wakeAll();
  };

  private wakeAll(): void {
    this.notified = 0;
    this.settled = 0;
    this.scheduled = false;
    const resolve = this.resolvePromise;
    this.promise = null;
    this.resolvePromise = null;
    if (resolve !== null) resolve();
    const woken = this.parked;
    if (woken.length === 0) return;
    // Readers that park again while being woken go to the other array.
    this.parked = this.spare ?? [];
    this.spare = null;
    if (woken.length <= this.chunk && (woken.length <= CLOCK_EVERY || this.budget() === Number.POSITIVE_INFINITY)) {
      for (let i = 0; i < woken.length; i++) woken[i]!.wake();
      this.finished(woken);
      return;
    }
    this.sweeping = true;
    this.sweep(woken, 0);
  }

  /** Wakes readers from `from` on, a chunk per turn, with the turn's I/O (and appends) between chunks. */
  sweep(woken: Wakeable[], from: number): void {
    let end = Math.min(woken.length, from + this.chunk);
    const budget = this.budget();
    if (budget === Number.POSITIVE_INFINITY) {
      for (let i = from; i < end; i++) woken[i]!.wake();
    } else {
      const deadline = performance.now() + budget;
      let i = from;
      while (i < end) {
        woken[i++]!.wake();
        if ((i - from) % CLOCK_EVERY === 0 && performance.now() >= deadline) break;
      }
      end = i;
    }
    if (end < woken.length) {
      setImmediate(continueSweep, this, woken, end);
      return;
    }
    this.sweeping = false;
    this.finished(woken);
    if (this.fireAfterSweep) {
      this.fireAfterSweep = false;
      this.wakeAll();
    }
  }

  private finished(woken: Wakeable[]): void {
    woken.length = 0;
    if (this.spare === null && woken !== this.parked) this.spare = woken;
  }
}

function continueSweep(waker: Waker, woken: Wakeable[], from: number): void {
  waker.sweep(woken, from);
}
