/**
 * Conflation of a range of the buffer: the newest event of each (topic, key)
 * that a filter passes, among the items after a position up to the newest
 * ready one.
 *
 * Runs only for a `lag=conflate` subscriber under pressure, once per pass,
 * never on the keeping-up path. Its state lives for one call and is one Map
 * entry per distinct (topic, key) in the range, so it is bounded by the keys,
 * not by the number of events. Events are the buffer's own (shared,
 * immutable) objects; nothing is copied.
 */
import type { BufferItem } from '../buffer/index.js';
import type { Filter, Routable } from './filter.js';

export interface ConflatedRange<E> {
  /** The last item walked: the cursor's position after the pass. */
  last: BufferItem<E>;
  /** The newest matching event of each (topic, key), in the order they were published. */
  events: E[];
  /** Matching events in the range, the ones kept included. */
  matched: number;
  /** The buffer's error, when the walk reached its error item (it stops before it). */
  error: Error | null;
}

/**
 * Walks from the item after `from` to the newest appended, skipping items
 * below `startAt` (a resume index not reached yet) as the cursor does.
 */
export function conflateRange<E extends Routable>(from: BufferItem<E>, filter: Filter, startAt: number): ConflatedRange<E> {
  // Re-inserting a key moves it to the end, so iteration order is the order
  // of each key's newest event. A topic has no ":", so "topic:key" is unique.
  const newest = new Map<string, E>();
  let matched = 0;
  let item = from;
  let next = item.link.next;
  let error: Error | null = null;
  while (next !== null) {
    if (next.error !== null) {
      error = next.error;
      break;
    }
    const events = next.events;
    if (events !== null && next.index >= startAt) {
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        if (!filter.matchesAll && !filter.match(event)) continue;
        matched++;
        const key = `${event.topic}:${event.key}`;
        newest.delete(key);
        newest.set(key, event);
      }
    }
    item = next;
    next = item.link.next;
  }
  return { last: item, events: [...newest.values()], matched, error };
}
