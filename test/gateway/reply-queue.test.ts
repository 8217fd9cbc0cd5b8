import { describe, expect, it } from 'vitest';
import { ReplyQueue } from '../../src/gateway/reply-queue.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ReplyQueue', () => {
  it('writes a ready reply at once when nothing is waiting', () => {
    const written: string[] = [];
    const queue = new ReplyQueue<string>((reply) => written.push(reply));
    queue.push('a', true);
    expect(written).toEqual(['a']);
    expect(queue.waiting).toBe(0);
  });

  it('holds ready replies behind a pending one and writes them all, in order, when it resolves', async () => {
    const written: Array<[string, boolean]> = [];
    const queue = new ReplyQueue<string>((reply, binary) => written.push([reply, binary]));
    const first = deferred<string>();
    const third = deferred<string>();
    queue.push(first.promise, true);
    queue.push('second', false);
    queue.push(third.promise, true);
    queue.push('fourth', true);
    third.resolve('third'); // resolves first, but must wait for the head
    await tick();
    expect(written).toEqual([]);
    expect(queue.waiting).toBe(4);
    first.resolve('first');
    await tick();
    expect(written).toEqual([
      ['first', true],
      ['second', false],
      ['third', true],
      ['fourth', true],
    ]);
    expect(queue.waiting).toBe(0);
  });

  it('tells onFlushed after replies that waited were written, so reading can resume', async () => {
    const events: string[] = [];
    const queue = new ReplyQueue<string>((reply) => events.push(`write ${reply}`), () => events.push(`flushed, ${queue.waiting} owed`));
    const pending = deferred<string>();
    queue.push(pending.promise, true);
    queue.push('b', true);
    await tick();
    expect(events).toEqual([]);
    pending.resolve('a');
    await tick();
    expect(events).toEqual(['write a', 'write b', 'flushed, 0 owed']);
  });
});
