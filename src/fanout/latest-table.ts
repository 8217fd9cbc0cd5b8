/**
 * The latest table: for every (topic, key) published, the newest event and
 * the index of the item it came in. Kept apart from the buffer: an evicted
 * item's events stay here until a newer event for the same (topic, key)
 * replaces them. It is what a `snapshot=1` subscriber is sent first
 * (snapshot.ts); events without a key share their topic's key "".
 *
 * Bounded by `maxKeys`: past it, the key updated longest ago is forgotten
 * first (a Map keeps insertion order and an update re-inserts its key at the
 * end, so the oldest update is always first). With `ttlMs`, a key not
 * updated for that long is forgotten too. Fed once per appended item
 * (O(events)); read once per (filter, snapshot point), never per subscriber.
 */
import type { BufferItem } from '../buffer/index.js';
import type { Filter, Routable } from './filter.js';

export interface LatestEntry<E> {
  readonly event: E;
  /** Index of the item the event came in. */
  readonly index: number;
  /** About how many bytes the event took in its producer frame: what a snapshot message will hold. */
  readonly bytes: number;
  /** When it was recorded (the buffer's clock), for `ttlMs`. */
  readonly at: number;
}

export interface LatestTableOptions {
  /** Keys kept at most; the key updated longest ago is forgotten first. */
  maxKeys: number;
  /** Forget a key not updated for this long; 0: never. */
  ttlMs?: number;
  /** Told how many keys were forgotten and why (for a metric). */
  onForget?: (cause: 'keys' | 'ttl', count: number) => void;
}

export class LatestTable<E extends Routable> {
  private readonly entries = new Map<string, LatestEntry<E>>();
  private readonly maxKeys: number;
  private readonly ttlMs: number;
  private readonly onForget: ((cause: 'keys' | 'ttl', count: number) => void) | undefined;

  constructor(options: LatestTableOptions) {
    if (!(options.maxKeys >= 1)) throw new RangeError(`maxKeys must be at least 1, got ${options.maxKeys}`);
    this.maxKeys = options.maxKeys;
    this.ttlMs = options.ttlMs ?? 0;
    this.onForget = options.onForget;
  }

  /** Keys held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Takes the events of an appended item (an error or position-only item has none). */
  record(item: BufferItem<E>): void {
    const events = item.events;
    if (events === null || events.length === 0) return;
    const entries = this.entries;
    const bytes = Math.ceil(item.bytes / events.length);
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      // Length-prefixed, so no topic and key can spell another pair's id.
      const id = `${event.topic.length}:${event.topic}${event.key}`;
      // Re-inserted, so the Map's order stays "updated longest ago first".
      entries.delete(id);
      entries.set(id, { event, index: item.index, bytes, at: item.createdAt });
    }
    const over = entries.size - this.maxKeys;
    if (over > 0) {
      let left = over;
      for (const id of entries.keys()) {
        entries.delete(id);
        if (--left === 0) break;
      }
      this.onForget?.('keys', over);
    }
  }

  /** Forgets every key not updated since `now - ttlMs` (no-op without a TTL). */
  expire(now: number): void {
    if (this.ttlMs <= 0) return;
    const before = now - this.ttlMs;
    let count = 0;
    for (const [id, entry] of this.entries) {
      if (entry.at >= before) break;
      this.entries.delete(id);
      count++;
    }
    if (count > 0) this.onForget?.('ttl', count);
  }

  /**
   * The newest entry of every key `filter` passes whose item is below
   * `below` (a snapshot point: what a stream starting there will not send
   * again), oldest update first.
   */
  select(filter: Filter, below: number): LatestEntry<E>[] {
    const out: LatestEntry<E>[] = [];
    for (const entry of this.entries.values()) {
      if (entry.index < below && filter.match(entry.event)) out.push(entry);
    }
    return out;
  }
}
