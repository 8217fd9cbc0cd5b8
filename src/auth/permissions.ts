/**
 * What a token allows, from its `topics` (read) and `publish` (write) claims:
 * lists of `*`, `T` (every key of topic T) or `T:key` patterns. Compiled
 * once per connection; checked at upgrade for subscriptions and once per
 * event for publishes (a set lookup, on the producer path only).
 */
export class Permission {
  private readonly all: boolean;
  private readonly topics = new Set<string>();
  private readonly keyed = new Set<string>();

  constructor(patterns: readonly string[]) {
    this.all = patterns.includes('*');
    for (const p of patterns) {
      if (p === '*') continue;
      if (p.includes(':')) this.keyed.add(p);
      else this.topics.add(p);
    }
  }

  get allowsEverything(): boolean {
    return this.all;
  }

  /** May events of `topic` with `key` (and these filterKeys) be read or written? */
  allows(topic: string, key: string | null): boolean {
    if (this.all || this.topics.has(topic)) return true;
    return key !== null && this.keyed.has(`${topic}:${key}`);
  }
}

/** Parses a claim: absent means nothing; a string or array of strings otherwise. */
export function patternsOf(claim: unknown): string[] | null {
  if (claim === undefined) return [];
  if (typeof claim === 'string') return [claim];
  if (Array.isArray(claim) && claim.every((p) => typeof p === 'string')) return claim as string[];
  return null;
}
