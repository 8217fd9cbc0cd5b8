/** The `fanwire` command as users run it: flags, environment, exit codes, signals. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { readFileSync } from 'node:fs';
import { FLAGS, parseCli } from '../src/cli/options.js';
import { CLI, Pub, Sub, TRANSPORTS, getJson, spawnGateway, until } from './helpers.js';

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 15_000 });
}

describe('fanwire CLI', () => {
  describe('configuration', () => {
    const bad: Array<[string[], string]> = [
      [['--port', 'abc'], '--port'],
      [['--port', '70000'], '--port'],
      [['--buffer-size', '0'], '--buffer-size'],
      [['--buffer-ttl', '5 minutes'], '--buffer-ttl'],
      [['--heartbeat', '10x'], '--heartbeat'],
      [['--max-frame-bytes', '1 lots'], '--max-frame-bytes'],
      [['--high-water-bytes', '4MiB', '--drop-after-bytes', '1MiB'], '--drop-after-bytes'],
      [['--log-level', 'loud'], '--log-level'],
      [['--no-such-flag'], 'no-such-flag'],
      [['--transport', 'tcp'], '--transport'],
      [['--compression', 'maybe'], '--compression'],
      [['--cluster', 'http://10.0.0.1:4222'], '--cluster'],
      [['--cluster', 'nats://10.0.0.1:99999'], '--cluster'],
      [['--cluster', 'nats://10.0.0.1:4222', '--cluster-user', 'gw'], '--cluster-password'],
      [['--cluster', 'nats://10.0.0.1:4222', '--cluster-subject', 'fanwire.*'], '--cluster-subject'],
      [['--cluster', 'nats://10.0.0.1:4222', '--cluster-stream', 'a.b'], '--cluster-stream'],
      [['--cluster-token', 's3cret'], '--cluster'],
      [['--wake-settle', '-1'], '--wake-settle'],
      [['--wake-settle', '65'], '--wake-settle'],
      [['--trust-proxy', '10.0.0.0/33'], '--trust-proxy'],
      [['--trust-proxy', 'proxy.internal'], '--trust-proxy'],
      [['--trust-proxy', '::1/129'], '--trust-proxy'],
      [['--trust-proxy', ','], '--trust-proxy'],
    ];
    for (const [args, named] of bad) {
      it(`exits 1 with a one-line error naming ${named} for ${args.join(' ')}`, () => {
        const result = run(args);
        expect(result.status).toBe(1);
        const lines = result.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(named);
        expect(lines[0]).toMatch(/^fanwire: /);
      });
    }

    it('names the environment variable when the bad value came from it', () => {
      const result = run([], { FANWIRE_PORT: 'eighty' });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('FANWIRE_PORT');
    });

    it('reads --trust-proxy as a list of v4 and v6 addresses and CIDRs, from FANWIRE_TRUST_PROXY too, none by default', () => {
      expect(parseCli([], {}).config.trustProxy).toEqual([]);
      expect(parseCli(['--trust-proxy', '127.0.0.1/32, 10.0.0.0/8,::1,fd00::/8'], {}).config.trustProxy).toEqual(['127.0.0.1/32', '10.0.0.0/8', '::1', 'fd00::/8']);
      expect(parseCli([], { FANWIRE_TRUST_PROXY: '192.168.0.7' }).config.trustProxy).toEqual(['192.168.0.7']);
      expect(() => parseCli([], { FANWIRE_TRUST_PROXY: '10.0.0.0/8,nginx' })).toThrow(/FANWIRE_TRUST_PROXY/);
    });

    it('reads FANWIRE_* variables, with flags taking precedence', () => {
      const { config } = parseCli(['--buffer-size', '7'], { FANWIRE_BUFFER_SIZE: '9', FANWIRE_HEARTBEAT: '2s', FANWIRE_MAX_FRAME_BYTES: '2MiB' });
      expect(config.bufferSize).toBe(7);
      expect(config.heartbeatMs).toBe(2000);
      expect(config.maxFrameBytes).toBe(2 * 1024 * 1024);
    });

    it('accepts durations in ms, s, m, h and bare seconds, and sizes in bytes, KiB, MiB', () => {
      const { config } = parseCli(['--buffer-ttl', '1.5m', '--heartbeat', '250ms', '--high-water-bytes', '512KiB', '--drop-after-bytes', '3000000'], {});
      expect([config.bufferTtlMs, config.heartbeatMs, config.highWaterBytes, config.dropAfterBytes]).toEqual([90_000, 250, 524_288, 3_000_000]);
      expect(parseCli(['--heartbeat', '3'], {}).config.heartbeatMs).toBe(3000);
    });

    it('reads --cluster as a list of NATS servers, with the stream and subject defaults', () => {
      const { config } = parseCli(['--cluster', 'nats://10.0.0.1:4222, tls://nats.example.com:4222,10.0.0.3'], {});
      expect(config.cluster).toEqual(['nats://10.0.0.1:4222', 'tls://nats.example.com:4222', '10.0.0.3']);
      expect([config.clusterStream, config.clusterSubject]).toEqual(['FANWIRE', 'fanwire.events']);
      expect(parseCli([], {}).config.cluster).toBeNull(); // embedded mode by default
      expect(parseCli([], { FANWIRE_CLUSTER: 'nats://n:4222', FANWIRE_CLUSTER_TOKEN: 't' }).config).toMatchObject({ cluster: ['nats://n:4222'], clusterToken: 't' });
    });

    it('documents every flag and its variable in the README configuration table', () => {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5));
      for (const spec of FLAGS) {
        expect(table, `--${spec.flag}`).toContain(`\`--${spec.flag}\``);
        expect(table, spec.env).toContain(`\`${spec.env}\``);
      }
    });

    it('prints help with every flag and exits 0', () => {
      const result = run(['--help']);
      expect(result.status).toBe(0);
      for (const flag of ['--host', '--port', '--buffer-size', '--buffer-ttl', '--heartbeat', '--max-frame-bytes', '--high-water-bytes', '--drop-after-bytes']) {
        expect(result.stdout).toContain(flag);
      }
    });
  });

  describe('lifecycle', () => {
    for (const transport of TRANSPORTS) {
      it(`logs where it listens, serves, and on SIGTERM closes subscribers with 1001 and exits 0 (${transport})`, async () => {
        const gw = await spawnGateway(['--heartbeat', '1h', '--transport', transport]);
        onTestFinished(async () => {
          await gw.stop();
        });
        const started = gw.logs.find((l) => l.msg === 'fanwire listening')!;
        expect(started).toMatchObject({ transport, bufferSize: 10_000 });

        const pub = await Pub.open(gw.ws);
        const subs = await Promise.all([Sub.open(gw.ws), Sub.open(gw.ws, '', 'json')]);
        expect(await pub.send({ topic: 't', payload: 1 })).toEqual({ type: 'ack', index: 1 });
        for (const s of subs) await s.waitForIndex(1);
        expect(await getJson(`${gw.http}/readyz`)).toMatchObject({ status: 200 });

        const code = await gw.stop();
        expect(code).toBe(0);
        for (const s of subs) expect(await s.waitForClose()).toEqual({ code: 1001, reason: 'shutting down' });
        await until(() => pub.closed ?? undefined, 'publisher close');
        expect(pub.closed!.code).toBe(1001);
        expect(gw.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
      });
    }

    it('still stops on SIGTERM when whoever read its stdout has gone away (EPIPE)', async () => {
      const gw = await spawnGateway(['--transport', 'ws']);
      gw.child.stdout!.destroy(); // our end of the log pipe: the gateway's next log line hits EPIPE
      expect(await gw.stop()).toBe(0);
    });

    it('runs as its own command, with Node\'s young generation capped (--max-semi-space-size=4)', async () => {
      const { spawn } = await import('node:child_process');
      const child = spawn(CLI, ['--port', '0', '--transport', 'ws'], { stdio: ['ignore', 'pipe', 'pipe'] });
      onTestFinished(() => {
        child.kill('SIGKILL');
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await until(() => (out.includes('"listening"') || out.includes('listening') ? true : undefined), 'listening');
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toContain('--max-semi-space-size=4');
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
      expect(code).toBe(0);
    });

    it('exits 1 with a clear message when the port is taken', async () => {
      const gw = await spawnGateway();
      try {
        const port = new URL(gw.http).port;
        const result = run(['--host', '127.0.0.1', '--port', port]);
        expect(result.status).toBe(1);
        expect(result.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
      } finally {
        await gw.stop();
      }
    });
  });
});
