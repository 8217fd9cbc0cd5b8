/**
 * One drain waiter per connection (never one per server: a second
 * backpressured socket would overwrite the first one's waiter). Repeated
 * waits share one promise until the transport says the socket drained or
 * closed. Waking is only a hint: the cursor re-checks the buffered amount,
 * since a drain event can come while the buffer is still above its mark.
 */
export class DrainWaiter {
  private promise: Promise<void> | null = null;
  private resolvePromise: (() => void) | null = null;

  wait(): Promise<void> {
    if (this.promise === null) {
      this.promise = new Promise<void>((resolve) => {
        this.resolvePromise = resolve;
      });
    }
    return this.promise;
  }

  /** Called on the socket's drain and on close. */
  release(): void {
    const resolve = this.resolvePromise;
    this.promise = null;
    this.resolvePromise = null;
    resolve?.();
  }
}
