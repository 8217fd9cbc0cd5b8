/**
 * GET /metrics and GET /v1/subscribers on a real gateway with real clients,
 * read back the way Prometheus and an operator would read them.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Pub, Sub, TRANSPORTS, startTestGateway, until, type TestGateway } from '../helpers.js';

/** Parses the text exposition into "name{labels}" -> value. */
function parse(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(url: string): Promise<{ status: number; type: string; body: string; values: Map<string, number> }> {
  const res = await fetch(url);
  const body = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', body, values: parse(body) };
}

const hasPromtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasPromtool) {
  if (process.env.CI) throw new Error('promtool (Debian package prometheus) is required under CI=true');
  console.warn('\n*** SKIPPING promtool checks: promtool not found (apt-get install prometheus) ***\n');
}

for (const transport of TRANSPORTS) {
  describe(`metrics (${transport})`, () => {
    let gw: TestGateway | null = null;
    const subs: Sub[] = [];
    afterEach(async () => {
      await Promise.all(subs.splice(0).map((s) => s.close()));
      await gw?.stop();
      gw = null;
    });

    it('counts publishes, errors by code, deliveries and subscriptions, and observes lag and latency per write', async () => {
      gw = await startTestGateway({ transport, metricsTopics: ['orders'] });
      const pub = await Pub.open(gw.ws);
      subs.push(await Sub.open(gw.ws), await Sub.open(gw.ws, 'topic=orders', 'json'));
      await pub.send({ topic: 'orders', payload: 1 });
      await pub.send({ events: [{ topic: 'orders', payload: 2 }, { topic: 'audit', payload: 3 }] });
      await pub.send({ topic: 'audit', payload: 4 });
      await pub.send({ topic: 'bad:topic', payload: 5 });
      await pub.send('not json');
      for (const s of subs) await s.waitForIndex(2);
      await subs[0]!.waitForIndex(3);
      await pub.close();

      const { status, type, values: m } = await scrape(`${gw.http}/metrics`);
      expect(status).toBe(200);
      expect(type).toContain('text/plain');
      expect(m.get(`fanwire_subscribers{transport="${transport}"}`)).toBe(2);
      expect(m.get('fanwire_subscriptions_opened_total')).toBe(2);
      expect(m.get('fanwire_events_published_total')).toBe(4);
      expect(m.get('fanwire_publish_frames_total')).toBe(3);
      expect(m.get('fanwire_publish_errors_total{code="invalid_frame"}')).toBe(1);
      expect(m.get('fanwire_publish_errors_total{code="decode_failed"}')).toBe(1);
      // All-topics subscriber: items 1, 2 (2 events), 3; orders subscriber: 1, 2 (1 event).
      expect(m.get('fanwire_events_delivered_total')).toBe(4 + 2);
      expect(m.get('fanwire_frames_sent_total')).toBe(3 + 2);
      expect(m.get('fanwire_bytes_sent_total')).toBeGreaterThan(0);
      expect(m.get('fanwire_buffer_items')).toBe(3);
      expect(m.get('fanwire_buffer_oldest_index')).toBe(1);
      expect(m.get('fanwire_buffer_newest_index')).toBe(3);
      expect(m.get('fanwire_buffer_retained_bytes')).toBeGreaterThan(0);
      // One observation per write; the subscribers were caught up each time.
      const writes = m.get('fanwire_subscriber_lag_events_count')!;
      expect(writes).toBeGreaterThanOrEqual(2);
      expect(writes).toBeLessThanOrEqual(5);
      expect(m.get('fanwire_subscriber_lag_events_bucket{le="+Inf"}')).toBe(writes);
      const latency = [...m].filter(([k]) => k.startsWith('fanwire_delivery_latency_seconds_count'));
      expect(latency.map(([k]) => k).sort()).toEqual([
        'fanwire_delivery_latency_seconds_count{topic="orders"}',
        'fanwire_delivery_latency_seconds_count{topic="other"}',
      ]);
      expect(latency.reduce((n, [, v]) => n + v, 0)).toBe(writes);
      expect(m.get('fanwire_subscriber_lag_max_events')).toBe(0);
      expect(m.has('process_resident_memory_bytes')).toBe(true);
      expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
    });

    it('reports the furthest-behind subscribers by rank and at GET /v1/subscribers, without a label per subscriber', async () => {
      gw = await startTestGateway({ transport, bufferSize: 1000, highWaterBytes: 1024, dropAfterBytes: 1024 * 1024 * 1024 });
      const pub = await Pub.open(gw.ws);
      const slow = await Sub.open(gw.ws, 'topic=t');
      const quick = await Sub.open(gw.ws, 'topic=t&topic=u:k', 'json');
      subs.push(slow, quick);
      slow.ws.pause();
      const payload = 'x'.repeat(64 * 1024);
      let sent = 0;
      // Publish until the slow one's cursor is held back by its full socket.
      while (sent < 2000) {
        await pub.send({ topic: 't', payload });
        sent++;
        if (sent % 20 === 0 && (gw.gateway.stats() as { backpressured: number }).backpressured === 1) break;
      }
      await quick.waitForIndex(sent);
      const behind = sent - (await until(() => {
        const row = gw!.gateway.laggards(1)[0];
        return row !== undefined && row.lagEvents > 0 ? row.nextIndex - 1 : undefined;
      }, 'a laggard'));

      const { values: m } = await scrape(`${gw.http}/metrics`);
      expect(m.get('fanwire_subscriber_lag_max_events')).toBe(behind);
      expect(m.get('fanwire_top_laggard_lag_events{rank="1"}')).toBe(behind);
      expect(m.get('fanwire_top_laggard_lag_events{rank="2"}')).toBe(0);
      expect(m.get('fanwire_subscribers_backpressured')).toBe(1);
      const series = [...m.keys()].filter((k) => k.startsWith('fanwire_top_laggard_lag_events'));
      expect(series).toHaveLength(10);

      const res = await fetch(`${gw.http}/v1/subscribers?sort=lag&limit=50`);
      const report = (await res.json()) as { total: number; subscribers: Array<Record<string, unknown>> };
      expect(report.total).toBe(2);
      expect(report.subscribers[0]).toMatchObject({ topics: ['t'], format: 'msgpack', lagEvents: behind, backpressured: true, transport });
      expect(report.subscribers[0]!.lagSeconds as number).toBeGreaterThan(0);
      expect(report.subscribers[0]!.bufferedBytes as number).toBeGreaterThan(0);
      expect(report.subscribers[0]!.remoteAddress).toMatch(/127\.0\.0\.1/);
      expect(report.subscribers[1]).toMatchObject({ topics: ['t', 'u:k'], format: 'json', lagEvents: 0, nextIndex: sent + 1 });
      expect((await fetch(`${gw.http}/v1/subscribers?limit=0`)).status).toBe(400);
      expect((await fetch(`${gw.http}/v1/subscribers?sort=name`)).status).toBe(400);
      slow.ws.resume();
      await pub.close();
    });

    it('serves /metrics on --metrics-port instead of the main port, and not at all with --metrics off', async () => {
      gw = await startTestGateway({ transport, metricsPort: 0 });
      const port = gw.gateway.metricsPort!;
      expect((await scrape(`http://127.0.0.1:${port}/metrics`)).values.get('fanwire_buffer_newest_index')).toBe(0);
      expect((await fetch(`${gw.http}/metrics`)).status).toBe(404);
      await gw.stop();
      gw = await startTestGateway({ transport, metrics: false });
      const off = await fetch(`${gw.http}/metrics`);
      expect(off.status).toBe(404);
      expect(await off.json()).toMatchObject({ code: 'not_found' });
    });

    it('names what runs in fanwire_build_info: version, transport, Node', async () => {
      gw = await startTestGateway({ transport });
      const { values } = await scrape(`${gw.http}/metrics`);
      const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
      const info = [...values].filter(([name]) => name.startsWith('fanwire_build_info{'));
      expect(info).toEqual([[`fanwire_build_info{version="${version}",transport="${transport}",node="${process.version}"}`, 1]]);
    });

    it.skipIf(!hasPromtool)('passes promtool check metrics on a live body', async () => {
      gw = await startTestGateway({ transport, metricsTopics: ['t'] });
      const pub = await Pub.open(gw.ws);
      subs.push(await Sub.open(gw.ws));
      await pub.send({ topic: 't', payload: 1 });
      await pub.send({ topic: 't' });
      await subs[0]!.waitForIndex(1);
      await pub.close();
      const { body } = await scrape(`${gw.http}/metrics`);
      const result = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
      expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
      expect(result.status).toBe(0);
    });
  });
}
