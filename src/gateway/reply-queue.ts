/**
 * ReplyQueue: the replies owed to one producer connection, written in the
 * order of its frames.
 *
 * In embedded mode every reply is ready at once and goes straight out (the
 * fast path: one length check, no allocation). In cluster mode an accepted
 * frame's reply waits for JetStream's ack while a later frame's validation
 * error is ready immediately; the error must still be written after the
 * ack, so ready replies queue behind pending ones:
 *
 *   [ ack 41 (waiting) ][ error (ready) ][ ack 43 (waiting) ]  --> written
 *     ^ head: nothing is written until it is ready, then every ready reply behind it
 *
 * A pending reply must resolve, never reject: the caller turns failures into
 * error replies before they reach the queue.
 */
interface Slot<R> {
  reply: R | undefined;
  binary: boolean;
  ready: boolean;
}

export class ReplyQueue<R> {
  private readonly slots: Slot<R>[] = [];
  private readonly write: (reply: R, binary: boolean) => void;
  private readonly onFlushed: () => void;

  /**
   * @param write sends one reply; called in frame order.
   * @param onFlushed called after replies that had waited were written (e.g. to resume reading).
   */
  constructor(write: (reply: R, binary: boolean) => void, onFlushed: () => void = () => {}) {
    this.write = write;
    this.onFlushed = onFlushed;
  }

  /** Replies owed and not written yet. */
  get waiting(): number {
    return this.slots.length;
  }

  push(reply: R | Promise<R>, binary: boolean): void {
    if (!(reply instanceof Promise)) {
      if (this.slots.length === 0) this.write(reply, binary);
      else this.slots.push({ reply, binary, ready: true });
      return;
    }
    const slot: Slot<R> = { reply: undefined, binary, ready: false };
    this.slots.push(slot);
    void reply.then((value) => {
      slot.reply = value;
      slot.ready = true;
      if (this.slots[0] === slot) this.flush();
    });
  }

  private flush(): void {
    const { slots } = this;
    while (slots.length > 0 && slots[0]!.ready) {
      const slot = slots.shift()!;
      this.write(slot.reply as R, slot.binary);
    }
    this.onFlushed();
  }
}
