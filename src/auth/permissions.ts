/**
 * What a token allows, from its `topics` (read) and `publish` (write) claims:
 * lists of `*`, `T` (every key of topic T) or `T:key` patterns. Compiled
 * once per connection into a flag, a set of whole topics and a map from
 * topic to keys, so every check below is a few hash lookups and builds no
 * string (the publish check runs once per event on the producer path).
 *
 * Read and write are separate questions, asked by separate methods:
 *
 * - `allowsRead(T, k)`: may a subscription ask for the selector `T:k` (or `T`
 *   when k is null)? `*`, `T` or `T:k`. Checked once, at upgrade.
 * - `allowsPublish(event)`: may a producer append this event? A subscriber
 *   of `T:k` receives an event of topic T whose `key` is k OR whose
 *   `filterKeys` hold k (fanout/filter.ts), so the token must cover every one
 *   of those selectors: `*`, or `T`, or a non-empty key with `T:key` and
 *   `T:f` for every f in filterKeys. Checking the key alone let a producer
 *   limited to `orders:acme` reach `orders:globex` subscribers through
 *   `filterKeys: ["globex"]`.
 */

/** What the publish check looks at; the protocol's Event satisfies it. */
export interface Publishable {
  readonly topic: string;
  /** '' when the event has no key. */
  readonly key: string;
  readonly filterKeys?: readonly string[];
}

export class Permission {
  private readonly all: boolean;
  /** Topics granted whole (`T`). */
  private readonly topics = new Set<string>();
  /** topic -> keys granted one by one (`T:key`; the key is everything after the first ":"). */
  private readonly keys = new Map<string, Set<string>>();

  constructor(patterns: readonly string[]) {
    this.all = patterns.includes('*');
    for (const p of patterns) {
      if (p === '*') continue;
      const colon = p.indexOf(':');
      if (colon === -1) {
        this.topics.add(p);
        continue;
      }
      const topic = p.slice(0, colon);
      let keys = this.keys.get(topic);
      if (keys === undefined) this.keys.set(topic, (keys = new Set()));
      keys.add(p.slice(colon + 1));
    }
  }

  /** The token holds `*`: a subscription for everything needs it. */
  get allowsEverything(): boolean {
    return this.all;
  }

  /** May a subscription ask for topic `topic`, key `key` (null: every key of the topic)? */
  allowsRead(topic: string, key: string | null): boolean {
    if (this.all || this.topics.has(topic)) return true;
    return key !== null && this.keys.get(topic)?.has(key) === true;
  }

  /**
   * May a producer append `event`? Only when the token covers every selector
   * a subscriber could match it by: its key and each of its filterKeys.
   */
  allowsPublish(event: Publishable): boolean {
    if (this.all || this.topics.has(event.topic)) return true;
    if (event.key === '') return false; // a keyless event reaches only `T` and `*` subscribers
    const keys = this.keys.get(event.topic);
    if (keys === undefined || !keys.has(event.key)) return false;
    const extra = event.filterKeys;
    if (extra !== undefined) for (let i = 0; i < extra.length; i++) if (!keys.has(extra[i]!)) return false;
    return true;
  }

  /**
   * The first selector of `event` the token does not cover, as text for the
   * error (`orders:globex`, or the topic for a keyless event). Only for an
   * event `allowsPublish` refused; it builds strings, so it stays off the
   * accepting path.
   */
  refusedSelector(event: Publishable): string {
    if (event.key === '') return event.topic;
    const keys = this.keys.get(event.topic);
    if (keys === undefined || !keys.has(event.key)) return `${event.topic}:${event.key}`;
    for (const f of event.filterKeys ?? []) if (!keys.has(f)) return `${event.topic}:${f}`;
    return event.topic; // not reached for an event allowsPublish refused
  }
}

/** Parses a claim: absent means nothing; a string or array of strings otherwise. */
export function patternsOf(claim: unknown): string[] | null {
  if (claim === undefined) return [];
  if (typeof claim === 'string') return [claim];
  if (Array.isArray(claim) && claim.every((p) => typeof p === 'string')) return claim as string[];
  return null;
}
