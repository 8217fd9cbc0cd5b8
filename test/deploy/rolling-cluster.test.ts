/**
 * Zero-loss deploys on the topology people run: two cluster nodes on a real
 * NATS JetStream behind a real nginx (both nodes upstream, WebSocket upgrade
 * proxied, a refused connection retried on the other node). SDK subscribers
 * and a `reconnect: true` publisher at 100 frames/s while each node in turn
 * gets SIGTERM and is restarted, then one gets SIGKILL:
 * - every publish() resolves (exactly once, being a promise);
 * - each frame is in the stream once, at the index its publish resolved with;
 * - every subscriber has every index once and in order.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPublisher, subscribe, type Subscription } from '../../src/client/index.js';
import { NatsServer, NATS_SERVER_BIN } from '../cluster/nats-server.js';
import { IN_CI, spawnGateway, until, type CliGateway } from '../helpers.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0) ?? null;
const missing = [NGINX === null ? 'nginx' : null, NATS_SERVER_BIN === null ? 'nats-server' : null].filter((m) => m !== null);
if (missing.length > 0 && !IN_CI) {
  console.warn(`\n*** SKIPPED the rolling-deploy test: ${missing.join(' and ')} not installed (apt-get install ${missing.join(' ')}). Zero-loss deploys are NOT tested in this run. ***\n`);
}
const describeTopology = missing.length === 0 || IN_CI ? describe : describe.skip;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** nginx in front of `upstreams`, as docs/deploy.md configures it, in a temp prefix; stopped by `stop()`. */
async function startNginx(port: number, upstreams: number[]): Promise<{ stop(): Promise<void> }> {
  if (NGINX === null) throw new Error('nginx is not installed, and CI=true: the rolling-deploy test must run in CI (apt-get install nginx)');
  const dir = mkdtempSync(path.join(tmpdir(), 'fanwire-nginx-'));
  const conf = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream fanwire {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=1s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://fanwire;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_connect_timeout 2s;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout http_502 http_503;
    }
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      return fetch(`http://127.0.0.1:${port}/healthz`).then(
        () => true,
        () => undefined,
      );
    },
    'nginx to listen',
    10_000,
  );
  return {
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeTopology('rolling deploy of a two-node cluster behind nginx (real nats-server, real nginx)', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    if (NATS_SERVER_BIN === null) throw new Error('nats-server is not installed, and CI=true: the rolling-deploy test must run in CI');
    nats = await NatsServer.start();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it('through SIGTERM and restart of each node, then SIGKILL of one: every publish resolves once, each frame is stored once at its index, every subscriber gets every index once in order', async () => {
    const stream = 'ROLL';
    const ports = [await freePort(), await freePort()];
    const args = (port: number) => ['--port', String(port), '--cluster', nats.url, '--cluster-stream', stream, '--cluster-subject', `${stream}.events`, '--shutdown-timeout', '10s'];
    const nodes: CliGateway[] = [await spawnGateway(args(ports[0]!)), await spawnGateway(args(ports[1]!))];
    const front = await freePort();
    const nginx = await startNginx(front, ports);
    const url = `ws://127.0.0.1:${front}`;
    const subs: Array<{ sub: Subscription; indexes: number[] }> = [];
    let publishing = true;
    try {
      for (let s = 0; s < 3; s++) {
        const indexes: number[] = [];
        const sub = subscribe({ url, topics: ['t'], fromIndex: 1, backoff: { initialMs: 20, maxMs: 200 }, onEvents: (m) => indexes.push(m.index) });
        subs.push({ sub, indexes });
      }
      const publisher = await connectPublisher({ url, reconnect: true, backoff: { initialMs: 20, maxMs: 200 } });
      const results: Array<Promise<number>> = [];
      const producing = (async () => {
        for (let i = 1; publishing; i++) {
          results.push(publisher.publish({ topic: 't', payload: i }));
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      const settle = () => new Promise((resolve) => setTimeout(resolve, 800));
      const restart = async (n: number, signal: 'SIGTERM' | 'SIGKILL') => {
        if (signal === 'SIGTERM') expect(await nodes[n]!.stop()).toBe(0);
        else {
          nodes[n]!.child.kill('SIGKILL');
          await once(nodes[n]!.child, 'exit');
        }
        nodes[n] = await spawnGateway(args(ports[n]!));
      };
      await settle();
      await restart(0, 'SIGTERM');
      await settle();
      await restart(1, 'SIGTERM');
      await settle();
      await restart(0, 'SIGKILL');
      await settle();
      publishing = false;
      await producing;
      const indexes = await Promise.all(results); // rejects if any publish() failed
      await publisher.close();
      expect(indexes.length).toBeGreaterThan(200);

      // The stream: each payload once, at the index its publish resolved with.
      const nc = await connect({ servers: nats.url });
      const jsm = await jetstreamManager(nc);
      const { state } = await jsm.streams.info(stream);
      const stored = new Map<number, number>();
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const msg = await jsm.streams.getMessage(stream, { seq });
        for (const event of (unpack(msg!.data) as { events: Array<{ payload: number }> }).events) {
          expect(stored.has(event.payload), `payload ${event.payload} stored twice`).toBe(false);
          stored.set(event.payload, seq);
        }
      }
      await nc.close();
      expect(stored.size).toBe(indexes.length);
      indexes.forEach((index, i) => expect(stored.get(i + 1), `payload ${i + 1}`).toBe(index));

      // Every subscriber: every index once, in order, up to the last.
      const last = state.last_seq;
      for (const { indexes: got } of subs) {
        await until(() => got.at(-1) === last || undefined, 'a subscriber to reach the last index', 30_000);
        expect(got).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      }
    } finally {
      publishing = false;
      for (const { sub } of subs) sub.close();
      await nginx.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }, 180_000);
});
