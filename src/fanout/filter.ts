/**
 * Topic/key filters, compiled once when a subscriber connects, and interned:
 * every subscriber asking for the same selection shares one Filter, whose
 * numeric `id` keys the frame cache. That is what makes "encode once per item
 * and filter" possible: 10k subscribers over 100 distinct filters cost 100
 * encodes per item, not 10k.
 */

/** What a filter looks at; the protocol's Event satisfies it. */
export interface Routable {
  readonly topic: string;
  readonly key: string;
  readonly filterKeys?: readonly string[];
}

export interface Selector {
  topic: string;
  /** null: every key of the topic. */
  key: string | null;
}

export class Filter {
  /** Unique for the process lifetime; never reused, so cached frames can't be mistaken. */
  readonly id: number;
  /** Canonical text of the selection ("*" for everything). */
  readonly signature: string;
  readonly matchesAll: boolean;
  /** topic -> null (all keys) or the set of keys; empty when it matches everything. */
  readonly topics: ReadonlyMap<string, ReadonlySet<string> | null>;
  refs = 0;

  constructor(id: number, signature: string, topics: Map<string, Set<string> | null> | null) {
    this.id = id;
    this.signature = signature;
    this.matchesAll = topics === null;
    this.topics = topics ?? new Map();
  }

  /** The selection as the subscriber wrote it: ["*"] or ["T", "T:key", ...]. */
  get selectors(): string[] {
    return this.matchesAll ? ['*'] : (JSON.parse(this.signature) as string[]);
  }

  match(event: Routable): boolean {
    if (this.matchesAll) return true;
    const keys = this.topics.get(event.topic);
    if (keys === undefined) return false;
    if (keys === null) return true;
    if (keys.has(event.key)) return true;
    const extra = event.filterKeys;
    if (extra !== undefined) for (let i = 0; i < extra.length; i++) if (keys.has(extra[i]!)) return true;
    return false;
  }

  /**
   * The events this filter passes: the same array when all match, null when
   * none does, a new array only for a true subset (counting first, as Nomad's
   * subscription filter does, so the common cases allocate nothing).
   */
  select<E extends Routable>(events: readonly E[]): readonly E[] | null {
    if (this.matchesAll) return events;
    let matched = 0;
    for (let i = 0; i < events.length; i++) if (this.match(events[i]!)) matched++;
    if (matched === events.length) return events;
    if (matched === 0) return null;
    const out: E[] = [];
    for (let i = 0; i < events.length; i++) if (this.match(events[i]!)) out.push(events[i]!);
    return out;
  }
}

/** Interns filters by signature and forgets them when the last subscriber lets go. */
export class FilterRegistry {
  private readonly bySignature = new Map<string, Filter>();
  private nextId = 1;

  /** The shared filter for `selectors` (null or empty: everything), with its refcount taken. */
  acquire(selectors: readonly Selector[] | null): Filter {
    const { signature, topics } = compile(selectors);
    let filter = this.bySignature.get(signature);
    if (filter === undefined) {
      filter = new Filter(this.nextId++, signature, topics);
      this.bySignature.set(signature, filter);
    }
    filter.refs++;
    return filter;
  }

  release(filter: Filter): void {
    if (--filter.refs <= 0 && this.bySignature.get(filter.signature) === filter) {
      this.bySignature.delete(filter.signature);
    }
  }

  /** Number of distinct filters in use. */
  get size(): number {
    return this.bySignature.size;
  }
}

function compile(selectors: readonly Selector[] | null): {
  signature: string;
  topics: Map<string, Set<string> | null> | null;
} {
  if (selectors === null || selectors.length === 0) return { signature: '*', topics: null };
  const topics = new Map<string, Set<string> | null>();
  for (const { topic, key } of selectors) {
    const keys = topics.get(topic);
    if (keys === null) continue; // already the whole topic
    if (key === null) topics.set(topic, null);
    else if (keys === undefined) topics.set(topic, new Set([key]));
    else keys.add(key);
  }
  const parts: string[] = [];
  for (const topic of [...topics.keys()].sort()) {
    const keys = topics.get(topic);
    if (keys === null || keys === undefined) parts.push(topic);
    else for (const key of [...keys].sort()) parts.push(`${topic}:${key}`);
  }
  return { signature: JSON.stringify(parts), topics };
}
