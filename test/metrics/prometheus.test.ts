/**
 * A real Prometheus (Debian's `prometheus`) scrapes a real gateway every
 * second while producers and subscribers run, one of them a forced laggard.
 * The values are read back through Prometheus's HTTP API, and every query of
 * grafana/fanwire-dashboard.json is evaluated there and must return data.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pub, Sub, TRANSPORTS, getJson, spawnGateway, until, type CliGateway } from '../helpers.js';

const hasPrometheus = spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasPrometheus) {
  if (process.env.CI) throw new Error('prometheus (Debian package prometheus) is required under CI=true');
  console.warn('\n*** SKIPPING the real-Prometheus suite: prometheus not found (apt-get install prometheus) ***\n');
}

const DASHBOARD = fileURLToPath(new URL('../../grafana/fanwire-dashboard.json', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

/** Every PromQL expression of the dashboard, with Grafana's variables filled in for a 1 s scrape. */
function dashboardQueries(): Array<{ panel: string; expr: string }> {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
  const out: Array<{ panel: string; expr: string }> = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      const expr = target.expr.replaceAll('$__rate_interval', '10s').replaceAll('$__range', '1m').replaceAll('$instance', '.*');
      out.push({ panel: panel.title, expr });
    }
  }
  return out;
}

describe.skipIf(!hasPrometheus)('against a real Prometheus', () => {
  let gw: CliGateway;
  let prometheus: ChildProcess;
  let promUrl: string;
  let dir: string;

  const query = async (expr: string): Promise<PromResult[]> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: PromResult[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  };
  const scalar = async (expr: string): Promise<number | undefined> => {
    const [first] = await query(expr);
    return first === undefined ? undefined : Number(first.value[1]);
  };

  beforeAll(async () => {
    // uws, as this suite was written for, where it loads; ws where it does not (helpers.ts warns).
    gw = await spawnGateway(['--transport', TRANSPORTS.includes('uws') ? 'uws' : 'ws', '--buffer-size', '200', '--high-water-bytes', '64KiB', '--metrics-topics', 't']);
    const target = new URL(gw.http).host;
    dir = mkdtempSync(path.join(tmpdir(), 'fanwire-prom-'));
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: fanwire\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: 'ignore' },
    );
    await until(async () => (await fetch(`${promUrl}/-/ready`).catch(() => null))?.ok, 'Prometheus ready', 30_000);
    await until(async () => (await scalar('up{job="fanwire"}')) === 1, 'first scrape of the gateway', 30_000);
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sees deliveries, a lagged drop and the lag histogram with the values the gateway reports', async () => {
    const pub = await Pub.open(gw.ws);
    const healthy = await Promise.all([Sub.open(gw.ws, 'topic=t'), Sub.open(gw.ws, 'topic=t', 'json')]);
    const laggard = await Sub.open(gw.ws, 'topic=t');
    laggard.ws.pause();
    const big = 'x'.repeat(64 * 1024);
    let sent = 0;
    const publishUntil = async (done: (stats: Record<string, any>) => boolean): Promise<void> => {
      for (let i = 0; i < 3000; i++) {
        expect((await pub.send({ topic: 't', payload: big })).type).toBe('ack');
        sent++;
        if (sent % 10 === 0 && done((await getJson(`${gw.http}/v1/stats`)).body)) return;
      }
      throw new Error('condition not reached after 3000 events');
    };
    // Behind but not yet dropped: its lag must show up in Prometheus.
    await publishUntil((stats) => stats.backpressured === 1);
    const behind = await until(async () => {
      const lag = await scalar('fanwire_subscriber_lag_max_events');
      return lag !== undefined && lag > 0 ? lag : undefined;
    }, 'the laggard in fanwire_subscriber_lag_max_events', 20_000);
    expect(await scalar('fanwire_top_laggard_lag_events{rank="1"}')).toBeGreaterThanOrEqual(behind);
    await publishUntil((stats) => stats.totals.dropped.lagged === 1);
    expect((await pub.send({ topic: 'bad:topic', payload: 1 })).type).toBe('error');
    for (const s of healthy) await s.waitForIndex(sent);
    laggard.ws.resume();
    expect((await laggard.waitForClose()).code).toBe(4001);

    // Quiet now: Prometheus must converge on exactly what the gateway counted.
    const { totals } = (await getJson(`${gw.http}/v1/stats`)).body;
    expect(totals.eventsDelivered).toBeGreaterThanOrEqual(2 * sent);
    // The refused frame is the last thing counted and delivers nothing, so a scrape that already
    // shows every delivery may predate it: wait for a scrape that shows it, then read the rest.
    await until(async () => (await scalar('fanwire_publish_errors_total{code="invalid_frame"}')) === 1 || undefined, 'the refused frame in Prometheus', 20_000);
    await until(async () => (await scalar('fanwire_events_delivered_total')) === totals.eventsDelivered, `delivered = ${totals.eventsDelivered} in Prometheus`, 20_000);
    expect(await scalar('fanwire_events_published_total')).toBe(sent);
    expect(await scalar('fanwire_subscribers_dropped_total{reason="lagged"}')).toBe(1);
    expect(await scalar('fanwire_subscribers_dropped_total{reason="backpressure"}')).toBe(0);
    expect(await scalar('fanwire_publish_errors_total{code="invalid_frame"}')).toBe(1);
    expect(await scalar('fanwire_subscribers')).toBe(2);
    const writes = await scalar('fanwire_subscriber_lag_events_count');
    expect(writes).toBeGreaterThan(0);
    expect(await scalar('fanwire_subscriber_lag_events_bucket{le="+Inf"}')).toBe(writes);
    expect(await scalar('fanwire_subscriber_lag_max_events')).toBe(0); // the laggard is gone, the rest caught up
    await Promise.all([...healthy.map((s) => s.close()), pub.close()]);
  });

  it('evaluates every query of the Grafana dashboard to data', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(20);
    const pub = await Pub.open(gw.ws);
    const subs = await Promise.all([Sub.open(gw.ws, 'topic=t'), Sub.open(gw.ws)]);
    // Keep traffic flowing (bounded) so rates and quantiles have samples.
    let n = 0;
    const timer = setInterval(() => {
      if (n++ < 600) void pub.send({ topic: n % 2 ? 't' : 'u', payload: n });
    }, 50);
    try {
      const empty: string[] = [];
      for (const { panel, expr } of queries) {
        // Data means at least one series with a number (histogram_quantile over no samples gives NaN).
        const hasNumber = async () => (await query(expr)).some((r) => Number.isFinite(Number(r.value[1]))) || undefined;
        const ok = await until(hasNumber, `data for "${panel}": ${expr}`, 20_000).catch(() => false);
        if (!ok) empty.push(`${panel}: ${expr}`);
      }
      expect(empty).toEqual([]);
      const instances = (await (await fetch(`${promUrl}/api/v1/label/instance/values?match[]=fanwire_buffer_newest_index`)).json()) as { data: string[] };
      expect(instances.data).toEqual([new URL(gw.http).host]);
    } finally {
      clearInterval(timer);
      await Promise.all([...subs.map((s) => s.close()), pub.close()]);
    }
  }, 120_000);
});
