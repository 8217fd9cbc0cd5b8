/**
 * The buffer's one shared wake-up. Every reader parked at the tail awaits the
 * same promise, so a single resolution wakes all of them: O(1) work for the
 * writer however many readers there are (Nomad closes one channel for the same
 * reason).
 *
 * Resolution is deferred to the next macrotask (`setImmediate`) and coalesced:
 * a producer that appends 50 items in one tick wakes each reader once, and the
 * reader finds all 50 ready and writes them in one batch. Resolving per append
 * would wake every reader per item and defeat batching.
 */
export class Waker {
  private promise: Promise<void> | null = null;
  private resolvePromise: (() => void) | null = null;
  private scheduled = false;

  /** Resolves on the first macrotask after the next `notify()`. */
  wait(): Promise<void> {
    if (this.promise === null) {
      this.promise = new Promise<void>((resolve) => {
        this.resolvePromise = resolve;
      });
    }
    return this.promise;
  }

  /** Wake every current waiter soon. Cheap when nobody waits: readers check the chain before parking. */
  notify(): void {
    if (this.scheduled || this.promise === null) return;
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
  };
}
