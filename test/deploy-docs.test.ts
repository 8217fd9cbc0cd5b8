/**
 * docs/deploy.md says what works: its nginx site passes `nginx -t` and
 * carries a real subscription over TLS with the client's own address; its
 * systemd unit passes `systemd-analyze verify` (where systemd-analyze is
 * installed: skipped with a warning elsewhere, even under CI) and its
 * command line and environment file parse as fanwire flags, with a stop
 * timeout longer than fanwire's own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCli } from '../src/cli/options.js';
import { CLI, getJson, spawnGateway, Sub, type CliGateway, type Message } from './helpers.js';
import { describeWithNginx, freePort, Nginx, nginxTest, wrapHttp } from './transport/nginx.js';

const DOC = readFileSync(fileURLToPath(new URL('../docs/deploy.md', import.meta.url)), 'utf8');

/** The fenced code blocks of `lang` in the doc, in order. */
function blocks(lang: string): string[] {
  return [...DOC.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]!);
}

const NGINX_SITE = blocks('nginx')[0]!;
const UNIT = blocks('ini')[0]!;
const ENV_FILE = blocks('sh').find((b) => b.includes('FANWIRE_AUTH_SECRET='))!;

/** The unit's ExecStart, split into the command and its arguments (the doc's has no quoting). */
function execStart(): string[] {
  const line = UNIT.split('\n').find((l) => l.startsWith('ExecStart='))!;
  return line.slice('ExecStart='.length).trim().split(/\s+/);
}

function envOf(file: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const line of file.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m !== null) env[m[1]!] = m[2]!;
  }
  return env;
}

/** A throwaway self-signed certificate for the site's ssl_certificate lines. */
async function certificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const result = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  return { cert, key };
}

/** The doc's site with its certificate paths pointing at `cert`/`key`. */
function siteWith(cert: { cert: string; key: string }): string {
  const site = NGINX_SITE.replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${cert.cert};`).replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${cert.key};`);
  expect(site).not.toBe(NGINX_SITE);
  return site;
}

describe('docs/deploy.md', () => {
  it('has the nginx site, the cluster upstream site, one systemd unit and one environment file', () => {
    expect(blocks('nginx')).toHaveLength(2); // the site, and the cluster upstream of "Rolling a cluster"

    expect(blocks('ini')).toHaveLength(1);
    expect(ENV_FILE).toBeDefined();
  });

  it('runs fanwire with flags and an environment file that fanwire accepts, trusting the local proxy', () => {
    const [command, ...args] = execStart();
    expect(command).toBe('/opt/fanwire/dist/cli.js');
    const { config } = parseCli(args, envOf(ENV_FILE));
    expect(config.host).toBe('127.0.0.1');
    expect(config.trustProxy).toEqual(['127.0.0.1/32', '::1']);
    expect(config.authSecret).not.toBeNull();
  });

  it('gives fanwire longer to stop than --shutdown-timeout (TimeoutStopSec), with SIGTERM', () => {
    const { config } = parseCli(execStart().slice(1), {});
    const stop = /^TimeoutStopSec=(\d+)s$/m.exec(UNIT);
    expect(stop, 'TimeoutStopSec=<n>s').not.toBeNull();
    expect(Number(stop![1]) * 1000).toBeGreaterThanOrEqual(config.shutdownTimeoutMs + 5_000);
    expect(UNIT).toMatch(/^KillSignal=SIGTERM$/m);
    expect(UNIT).toMatch(/^Restart=on-failure$/m);
    expect(UNIT).toMatch(/^LimitNOFILE=\d+$/m);
    expect(UNIT).toMatch(/^EnvironmentFile=\/etc\/fanwire\/fanwire\.env$/m);
  });

  // SYSTEMD_ANALYZE=none acts as if it were missing (to see the skip).
  const systemdAnalyze = process.env.SYSTEMD_ANALYZE === 'none' ? '' : spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).stdout.trim();
  if (systemdAnalyze === '') {
    console.warn('\n*** SKIPPING `systemd-analyze verify` of the docs/deploy.md unit: systemd-analyze is not installed here. The unit file is NOT verified in this run. ***\n');
  }
  it.skipIf(systemdAnalyze === '')('has a systemd unit that systemd-analyze verify accepts without a warning', async () => {
    // The unit names the built command where the doc installs it; here, this checkout's.
    expect(existsSync(CLI), 'dist/cli.js (npm run build)').toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'fanwire-unit-'));
    try {
      const unit = join(dir, 'fanwire.service');
      await writeFile(unit, UNIT.replace('/opt/fanwire/dist/cli.js', CLI));
      const result = spawnSync(systemdAnalyze, ['verify', unit], { encoding: 'utf8', timeout: 30_000 });
      const output = `${result.stdout}${result.stderr}`;
      // Lines about other units on this machine are not ours; every line naming this file is.
      const ours = output.split('\n').filter((l) => l.includes('fanwire.service'));
      expect(ours, output).toEqual([]);
      expect(result.status, output).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describeWithNginx('docs/deploy.md nginx site', () => {
  let certDir: string;
  let cert: { cert: string; key: string };
  beforeAll(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'fanwire-cert-'));
    cert = await certificate(certDir);
  });
  afterAll(async () => {
    await rm(certDir, { recursive: true, force: true });
  });

  it('passes nginx -t', async () => {
    const { ok, output } = await nginxTest(wrapHttp('@DIR@', siteWith(cert)));
    expect(ok, output).toBe(true);
  });

  it('fails nginx -t when broken (the check can fail)', async () => {
    const { ok } = await nginxTest(wrapHttp('@DIR@', siteWith(cert).replace('proxy_http_version 1.1;', 'proxy_http_version 1.1')));
    expect(ok).toBe(false);
  });

  it('carries a wss subscription to fanwire started with the unit\'s flags, which sees the client\'s own address', async () => {
    const upstream = await freePort();
    const plain = await freePort();
    const args = execStart().slice(1).map((a, i, all) => (all[i - 1] === '--port' ? String(upstream) : a));
    let gw: CliGateway | null = null;
    let nginx: Nginx | null = null;
    try {
      gw = await spawnGateway(args);
      nginx = await Nginx.start((port) =>
        siteWith(cert)
          .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${upstream};`)
          .replace(/^\s*listen \[::\]:\d+( ssl)?;$/gm, '')
          .replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${plain};`)
          .replace(/^(\s*)listen 443 ssl;$/m, `$1listen 127.0.0.1:${port} ssl;`),
      );
      const sub = await Sub.open(`wss://127.0.0.1:${nginx.port}`, '', 'msgpack', { localAddress: '127.0.0.2', rejectUnauthorized: false });
      expect(sub.messages[0]).toMatchObject({ type: 'hello' });
      const { body } = await getJson(`${gw.http}/v1/subscribers`);
      expect((body.subscribers as Message[]).map((s) => s.remoteAddress)).toEqual(['127.0.0.2']);
      await sub.close();
    } finally {
      await nginx?.stop();
      await gw?.stop();
    }
  });
});
