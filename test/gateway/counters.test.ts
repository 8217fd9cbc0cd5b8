/**
 * GatewayCounters: what GET /v1/stats and /metrics report is what these
 * methods counted. The shapes asserted here are the ones operators'
 * dashboards and alerts read.
 */
import { describe, expect, it } from 'vitest';
import { GatewayCounters } from '../../src/gateway/counters.js';

describe('GatewayCounters', () => {
  it('starts with every drop reason at zero, so each is reported before it first happens', () => {
    const c = new GatewayCounters();
    expect(c.dropped).toEqual({ lagged: 0, backpressure: 0, shutdown: 0, error: 0 });
    expect(c.publishErrors).toEqual({});
    expect(c.limitRejections).toEqual({});
    expect(c.upgradesRefused).toEqual({});
    expect(c.publishErrorsTotal).toBe(0);
  });

  it('counts refused upgrades by error code', () => {
    const c = new GatewayCounters();
    c.upgradeRefused('unauthorized');
    c.upgradeRefused('limit_exceeded');
    c.upgradeRefused('unauthorized');
    expect(c.upgradesRefused).toEqual({ unauthorized: 2, limit_exceeded: 1 });
  });

  it('counts limit rejections by the limit that refused', () => {
    const c = new GatewayCounters();
    c.limitReached('max-subscribers-per-address');
    c.limitReached('handshake-timeout');
    c.limitReached('max-subscribers-per-address');
    expect(c.limitRejections).toEqual({ 'max-subscribers-per-address': 2, 'handshake-timeout': 1 });
  });

  it('counts rejected frames by code and totals them across codes', () => {
    const c = new GatewayCounters();
    c.publishRefused('invalid_frame');
    c.publishRefused('forbidden');
    c.publishRefused('invalid_frame');
    expect(c.publishErrors).toEqual({ invalid_frame: 2, forbidden: 1 });
    expect(c.publishErrorsTotal).toBe(3);
  });

  it('counts an accepted frame once and each of its events', () => {
    const c = new GatewayCounters();
    c.published(3);
    c.published(1);
    expect(c.framesPublished).toBe(2);
    expect(c.eventsPublished).toBe(4);
  });

  it('adds a closed subscription\'s deliveries to the totals and counts it closed', () => {
    const c = new GatewayCounters();
    c.subscriptionOpened();
    c.subscriptionOpened();
    c.subscriptionClosed({ framesWritten: 5, eventsWritten: 7, bytesWritten: 300 });
    c.subscriptionClosed({ framesWritten: 1, eventsWritten: 1, bytesWritten: 20 });
    expect({ opened: c.subscriptionsOpened, closed: c.subscriptionsClosed }).toEqual({ opened: 2, closed: 2 });
    expect({ frames: c.framesDelivered, events: c.eventsDelivered, bytes: c.bytesDelivered }).toEqual({ frames: 6, events: 8, bytes: 320 });
  });

  it('counts dropped subscribers by reason', () => {
    const c = new GatewayCounters();
    c.subscriberDropped('lagged');
    c.subscriberDropped('shutdown');
    c.subscriberDropped('shutdown');
    expect(c.dropped).toEqual({ lagged: 1, backpressure: 0, shutdown: 2, error: 0 });
  });

  it('counts evicted items apart by cause: buffer size or age', () => {
    const c = new GatewayCounters();
    c.evicted('size', 10);
    c.evicted('ttl', 2);
    c.evicted('size', 1);
    expect({ size: c.evictedSize, ttl: c.evictedTtl }).toEqual({ size: 11, ttl: 2 });
  });
});
