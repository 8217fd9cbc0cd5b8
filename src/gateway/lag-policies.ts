/**
 * The laggard policy settings handed to cursors (fanout/lag.ts): one shared
 * LagOptions per (policy, skip target, wire format), built when the first
 * subscriber asking for it connects. `lag=drop` (the default) gets none, and
 * its cursors run exactly as they did before policies existed. The gap and
 * conflated messages they write come from wire-messages.ts.
 */
import { performance } from 'node:perf_hooks';
import type { LagCounters, LagOptions } from '../fanout/index.js';
import type { Event, SubscribeRequest } from '../protocol/index.js';
import type { GatewayConfig } from './config.js';
import type { WireMessages } from './wire-messages.js';

export class LagPolicies {
  private readonly shared = new Map<string, LagOptions<Event>>();

  constructor(
    private readonly config: Readonly<GatewayConfig>,
    private readonly counters: LagCounters,
    private readonly messages: WireMessages,
  ) {}

  /** The cursor's `lag` option for a subscription: null for drop. */
  optionsFor(request: SubscribeRequest): LagOptions<Event> | null {
    if (request.lag === 'drop') return null;
    const key = `${request.lag}/${request.skipTo}/${request.format}`;
    let options = this.shared.get(key);
    if (options === undefined) {
      const { config } = this;
      options = {
        policy: request.lag,
        skipTo: request.skipTo,
        graceMs: config.conflateGraceMs,
        // Past the buffer's size the item is evicted before the lag could be noticed.
        maxLagItems: Math.min(config.conflateLag, Math.floor(config.bufferSize / 2)),
        fallback: config.conflateFallback,
        frames: this.messages.lag(request.format),
        counters: this.counters,
        now: () => performance.now(),
      };
      this.shared.set(key, options);
    }
    return options;
  }
}
