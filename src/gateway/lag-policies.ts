/**
 * The laggard policy settings handed to cursors (fanout/lag.ts): one shared
 * LagOptions per (policy, skip target, wire format), built when the first
 * subscriber asking for it connects. `lag=drop` (the default) gets none, and
 * its cursors run exactly as they did before policies existed.
 *
 * Gap and conflated messages are per subscriber (a conflated message depends
 * on where that subscriber was), so they are encoded when written, through
 * the transport's `prepare`, never cached on items.
 */
import { performance } from 'node:perf_hooks';
import type { LagCounters, LagFrames, LagOptions } from '../fanout/index.js';
import { encode, isBinaryFormat, type Event, type Format, type SubscribeRequest } from '../protocol/index.js';
import type { GatewayConfig } from './config.js';

export class LagPolicies {
  private readonly shared = new Map<string, LagOptions<Event>>();
  private readonly frames = new Map<Format, LagFrames<Event>>();

  constructor(
    private readonly config: Readonly<GatewayConfig>,
    private readonly counters: LagCounters,
    private readonly prepare: (data: Uint8Array, binary: boolean) => Uint8Array,
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
        frames: this.framesFor(request.format),
        counters: this.counters,
        now: () => performance.now(),
      };
      this.shared.set(key, options);
    }
    return options;
  }

  private framesFor(format: Format): LagFrames<Event> {
    let frames = this.frames.get(format);
    if (frames === undefined) {
      const binary = isBinaryFormat(format);
      const prepare = this.prepare;
      frames = {
        gap: (from, to, reason) => prepare(encode({ type: 'gap', from, to, reason }, format), binary),
        conflated: (index, events) => prepare(encode({ type: 'events', index, events, conflated: true }, format), binary),
      };
      this.frames.set(format, frames);
    }
    return frames;
  }
}
