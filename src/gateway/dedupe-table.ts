/**
 * DedupeTable: embedded mode's memory of idempotency keys, so a producer
 * that re-sends a frame (after a lost ack, a reconnect) does not append it
 * twice. Key -> the index it was appended at, for `windowMs`.
 *
 * Bounded two ways: entries older than the window are forgotten, and past
 * `maxKeys` the oldest is forgotten early (counted: a re-send of that key
 * would then be appended again). A Map keeps insertion order, and a key is
 * inserted once, so the oldest entry is always first: expiry and eviction
 * are both O(1) per key. (Cluster mode uses JetStream's own duplicate
 * window instead.)
 */

export interface DedupeTableOptions {
  windowMs: number;
  maxKeys: number;
  now?: () => number;
  /** Told when keys are forgotten before their window ended (past maxKeys). */
  onEvict?: (count: number) => void;
}

interface Entry {
  index: number;
  at: number;
}

export class DedupeTable {
  private readonly entries = new Map<string, Entry>();
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly onEvict: ((count: number) => void) | undefined;

  constructor(options: DedupeTableOptions) {
    this.windowMs = options.windowMs;
    this.maxKeys = options.maxKeys;
    this.now = options.now ?? Date.now;
    this.onEvict = options.onEvict;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The index `key` was appended at, if within the window. */
  get(key: string): number | undefined {
    this.expire();
    return this.entries.get(key)?.index;
  }

  /** Remembers that `key` was appended at `index`. */
  set(key: string, index: number): void {
    this.expire();
    this.entries.set(key, { index, at: this.now() });
    if (this.entries.size > this.maxKeys) {
      this.entries.delete(this.entries.keys().next().value!);
      this.onEvict?.(1);
    }
  }

  private expire(): void {
    const before = this.now() - this.windowMs;
    for (const [key, entry] of this.entries) {
      if (entry.at >= before) break;
      this.entries.delete(key);
    }
  }
}
