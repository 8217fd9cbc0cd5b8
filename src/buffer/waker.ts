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

export class Waker {
  private promise: Promise<void> | null = null;
  private resolvePromise: (() => void) | null = null;
  private scheduled = false;
  /** Parked readers; swapped with `spare` on each firing, so waking allocates nothing. */
  private parked: Wakeable[] = [];
  private spare: Wakeable[] = [];

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
    if (this.scheduled || (this.promise === null && this.parked.length === 0)) return;
    this.scheduled = true;
    setImmediate(this.fire);
  }

  /** Wake every current waiter now, without waiting for the macrotask (used when the buffer closes). */
  notifyNow(): void {
    this.fire();
  }

  private readonly fire = (): void => {
    this.scheduled = false;
    const resolve = this.resolvePromise;
    this.promise = null;
    this.resolvePromise = null;
    if (resolve !== null) resolve();
    const woken = this.parked;
    if (woken.length === 0) return;
    // Readers that park again while being woken go to the other array.
    this.parked = this.spare;
    this.spare = woken;
    for (let i = 0; i < woken.length; i++) woken[i]!.wake();
    woken.length = 0;
  };
}
