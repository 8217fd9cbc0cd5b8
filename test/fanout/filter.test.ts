import { describe, expect, it } from 'vitest';
import { FilterRegistry } from '../../src/fanout/index.js';
import type { Routable, Selector } from '../../src/fanout/index.js';

const ev = (topic: string, key = '', filterKeys?: string[]): Routable =>
  filterKeys === undefined ? { topic, key } : { topic, key, filterKeys };

const whole = (topic: string): Selector => ({ topic, key: null });
const keyed = (topic: string, key: string): Selector => ({ topic, key });

describe('FilterRegistry', () => {
  describe('interning', () => {
    it('shares one filter among subscribers asking for the same selection', () => {
      const registry = new FilterRegistry();
      const a = registry.acquire([whole('orders'), keyed('audit', 'x')]);
      const b = registry.acquire([whole('orders'), keyed('audit', 'x')]);
      expect(b).toBe(a);
      expect(b.id).toBe(a.id);
      expect(a.refs).toBe(2);
      expect(registry.size).toBe(1);
    });

    it('treats the same selection in any order, with duplicates, as the same filter', () => {
      const registry = new FilterRegistry();
      const a = registry.acquire([keyed('orders', 'o-1'), whole('audit'), keyed('orders', 'o-2')]);
      const b = registry.acquire([keyed('orders', 'o-2'), keyed('orders', 'o-1'), whole('audit'), keyed('orders', 'o-1')]);
      expect(b).toBe(a);
      expect(registry.size).toBe(1);
    });

    it('treats a whole topic plus some of its keys as the whole topic, in either order', () => {
      const registry = new FilterRegistry();
      const a = registry.acquire([whole('orders')]);
      const b = registry.acquire([keyed('orders', 'k'), whole('orders')]);
      const c = registry.acquire([whole('orders'), keyed('orders', 'k')]);
      expect(b).toBe(a);
      expect(c).toBe(a);
    });

    it('treats no selection, an empty selection and "everything" as one filter matching all', () => {
      const registry = new FilterRegistry();
      const a = registry.acquire(null);
      const b = registry.acquire([]);
      expect(b).toBe(a);
      expect(a.matchesAll).toBe(true);
      expect(a.signature).toBe('*');
    });

    it('gives different selections different filters and ids', () => {
      const registry = new FilterRegistry();
      const filters = [
        registry.acquire(null),
        registry.acquire([whole('orders')]),
        registry.acquire([keyed('orders', 'o-1')]),
        registry.acquire([keyed('orders', 'o-2')]),
        registry.acquire([keyed('orders', 'o-1'), keyed('orders', 'o-2')]),
        registry.acquire([whole('orders'), whole('audit')]),
      ];
      expect(new Set(filters.map((f) => f.id)).size).toBe(filters.length);
      expect(new Set(filters.map((f) => f.signature)).size).toBe(filters.length);
      expect(registry.size).toBe(filters.length);
    });

    it('keeps a filter while any subscriber holds it', () => {
      const registry = new FilterRegistry();
      const a = registry.acquire([whole('orders')]);
      registry.acquire([whole('orders')]);
      registry.release(a);
      expect(registry.size).toBe(1);
      expect(registry.acquire([whole('orders')])).toBe(a);
    });

    it('forgets a filter once released by its last subscriber, and a new acquire gets a new id', () => {
      const registry = new FilterRegistry();
      const a = registry.acquire([whole('orders')]);
      registry.release(a);
      expect(registry.size).toBe(0);
      const b = registry.acquire([whole('orders')]);
      expect(b).not.toBe(a);
      expect(b.id).not.toBe(a.id);
      expect(b.signature).toBe(a.signature);
      expect(registry.size).toBe(1);
    });

    it('never reuses an id, so frames cached under an old filter cannot be served to a new one', () => {
      const registry = new FilterRegistry();
      const seen = new Set<number>();
      for (let i = 0; i < 50; i++) {
        const f = registry.acquire([keyed('t', `${i % 3}`)]);
        expect(seen.has(f.id)).toBe(false);
        seen.add(f.id);
        registry.release(f);
      }
    });

    it('ignores a late release of a forgotten filter instead of dropping its successor', () => {
      const registry = new FilterRegistry();
      const old = registry.acquire([whole('orders')]);
      registry.release(old);
      const current = registry.acquire([whole('orders')]);
      registry.release(old);
      expect(registry.size).toBe(1);
      expect(registry.acquire([whole('orders')])).toBe(current);
    });

    it.each([
      ['a key with a comma vs two keys', [keyed('t', 'a,b')], [keyed('t', 'a'), keyed('t', 'b')]],
      ['a key with a newline vs two keys', [keyed('t', 'a\nt:b')], [keyed('t', 'a'), keyed('t', 'b')]],
      ['a key with a quote and comma vs two keys', [keyed('t', 'a","t:b')], [keyed('t', 'a'), keyed('t', 'b')]],
      ['a key holding another selector vs a second topic', [keyed('t', 'a,u')], [keyed('t', 'a'), whole('u')]],
      ['an empty-looking key vs the whole topic', [keyed('t', '')], [whole('t')]],
    ] as Array<[string, Selector[], Selector[]]>)('keeps selections apart: %s', (_what, left, right) => {
      const registry = new FilterRegistry();
      const a = registry.acquire(left);
      const b = registry.acquire(right);
      expect(a.signature).not.toBe(b.signature);
      expect(b).not.toBe(a);
      expect(b.id).not.toBe(a.id);
      expect(registry.size).toBe(2);
    });
  });

  describe('match', () => {
    const registry = new FilterRegistry();

    it('matches every event of a whole topic, whatever its key', () => {
      const f = registry.acquire([whole('orders')]);
      expect(f.match(ev('orders'))).toBe(true);
      expect(f.match(ev('orders', 'o-1'))).toBe(true);
      expect(f.match(ev('orders', 'o-1', ['c-1']))).toBe(true);
      expect(f.match(ev('audit'))).toBe(false);
      expect(f.match(ev('orders2'))).toBe(false);
      expect(f.match(ev('order'))).toBe(false);
    });

    it('matches topic:key on the event key', () => {
      const f = registry.acquire([keyed('orders', 'o-2')]);
      expect(f.match(ev('orders', 'o-2'))).toBe(true);
      expect(f.match(ev('orders', 'o-1'))).toBe(false);
      expect(f.match(ev('orders'))).toBe(false);
      expect(f.match(ev('audit', 'o-2'))).toBe(false);
    });

    it('matches topic:key on any of the event filterKeys', () => {
      const f = registry.acquire([keyed('orders', 'customer-9')]);
      expect(f.match(ev('orders', 'o-1', ['customer-9']))).toBe(true);
      expect(f.match(ev('orders', 'o-1', ['region-eu', 'customer-9']))).toBe(true);
      expect(f.match(ev('orders', 'o-1', ['customer-1']))).toBe(false);
      expect(f.match(ev('orders', 'o-1', []))).toBe(false);
      expect(f.match(ev('audit', 'o-1', ['customer-9']))).toBe(false);
    });

    it('matches keys exactly, colons included', () => {
      const f = registry.acquire([keyed('orders', 'eu:o-1')]);
      expect(f.match(ev('orders', 'eu:o-1'))).toBe(true);
      expect(f.match(ev('orders', 'eu'))).toBe(false);
      expect(f.match(ev('orders', 'EU:o-1'))).toBe(false);
    });

    it('matches any of several selectors', () => {
      const f = registry.acquire([keyed('orders', 'o-1'), keyed('orders', 'o-2'), whole('audit')]);
      expect(f.match(ev('orders', 'o-1'))).toBe(true);
      expect(f.match(ev('orders', 'o-2'))).toBe(true);
      expect(f.match(ev('orders', 'o-3'))).toBe(false);
      expect(f.match(ev('audit', 'anything'))).toBe(true);
    });

    it('matches everything when the selection is everything', () => {
      const f = registry.acquire(null);
      expect(f.match(ev('orders'))).toBe(true);
      expect(f.match(ev('x', 'y', ['z']))).toBe(true);
    });
  });

  describe('select', () => {
    const registry = new FilterRegistry();
    const events = [ev('orders', 'o-1'), ev('audit', 'a-1'), ev('orders', 'o-2', ['c-9']), ev('audit', 'a-2')];

    it('returns the very same array when every event matches', () => {
      expect(registry.acquire(null).select(events)).toBe(events);
      const orders = [events[0]!, events[2]!];
      expect(registry.acquire([whole('orders')]).select(orders)).toBe(orders);
    });

    it('returns null when no event matches', () => {
      expect(registry.acquire([whole('billing')]).select(events)).toBeNull();
      expect(registry.acquire([keyed('orders', 'o-3')]).select(events)).toBeNull();
    });

    it('returns only the matching events, in their published order', () => {
      const selected = registry.acquire([whole('audit'), keyed('orders', 'c-9')]).select(events);
      expect(selected).toEqual([events[1], events[2], events[3]]);
      expect(selected![0]).toBe(events[1]);
      expect(selected).not.toBe(events);
    });

    it('leaves the given array untouched', () => {
      const copy = [...events];
      registry.acquire([whole('orders')]).select(events);
      expect(events).toEqual(copy);
    });
  });
});
