/** The `fanwire` command as users run it: flags, environment, exit codes, signals. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FLAGS, parseCli } from '../src/cli/options.js';
import { DEFAULT_CONFIG } from '../src/gateway/config.js';
import { YOUNG_GENERATION_FLAG, youngGenerationExec } from '../src/cli/young-generation.js';
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
      [['--auth-jwks-url', 'ftp://idp.example.com/jwks.json'], '--auth-jwks-url'],
      [['--auth-jwks-url', 'idp.example.com/jwks.json'], '--auth-jwks-url'],
      [['--auth-secret', 'a-test-secret-that-is-at-least-32-bytes-long', '--auth-jwks-url', 'https://idp.example.com/jwks.json'], '--auth-jwks-url'],
      [['--auth-public-key', 'key.pem', '--auth-jwks', 'jwks.json'], '--auth-public-key'],
      [['--auth-issuer', 'https://idp.example.com/'], '--auth-issuer'],
      [['--auth-audience', ' , '], '--auth-audience'],
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

    describe('config file and secret files', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'fanwire-config-'));
      const write = (name: string, content: string) => {
        const file = path.join(dir, name);
        writeFileSync(file, content);
        return file;
      };
      const json = (name: string, value: unknown) => write(name, JSON.stringify(value));

      it('reads a JSON file keyed by flag name: numbers, strings, booleans and lists, as the flags take them', () => {
        const file = json('all.json', {
          port: 9000,
          'buffer-ttl': '5m',
          heartbeat: 2,
          'max-frame-bytes': '2MiB',
          compression: true,
          insecure: true,
          'allowed-origins': ['https://a.example', 'https://b.example'],
          'log-level': 'warn',
        });
        const { config, logLevel } = parseCli(['--config', file], {});
        expect(config).toMatchObject({ port: 9000, bufferTtlMs: 300_000, heartbeatMs: 2000, maxFrameBytes: 2 * 1024 * 1024, compression: true, insecure: true, allowedOrigins: ['https://a.example', 'https://b.example'] });
        expect(logLevel).toBe('warn');
        expect(parseCli([], { FANWIRE_CONFIG: file }).config.port).toBe(9000);
      });

      it('takes a flag over its variable over the file over the default', () => {
        const file = json('layers.json', { 'buffer-size': 3, heartbeat: '3s', 'max-topics': 3 });
        const env = { FANWIRE_BUFFER_SIZE: '2', FANWIRE_HEARTBEAT: '2s' };
        const { config } = parseCli(['--config', file, '--buffer-size', '1'], env);
        expect([config.bufferSize, config.heartbeatMs, config.maxTopics, config.maxSubscribers]).toEqual([1, 2000, 3, DEFAULT_CONFIG.maxSubscribers]);
      });

      it('exits 1 naming an unknown key, a bad value and its file, a file that is not JSON or cannot be read', () => {
        const cases: Array<[string, RegExp]> = [
          [json('unknown.json', { 'bufer-size': 10 }), /unknown key "bufer-size"/],
          [json('env-name.json', { FANWIRE_PORT: 1 }), /unknown key "FANWIRE_PORT" \(did you mean "port"\?\)/],
          [json('bad.json', { port: 'eighty' }), /invalid "port" in config file .*bad\.json "eighty"/],
          [json('bad-type.json', { port: [80] }), /invalid "port" in config file .*: must be a string or a number/],
          [json('array.json', [1]), /must hold a JSON object/],
          [write('broken.json', '{"port": '), /is not valid JSON/],
          [path.join(dir, 'missing.json'), /cannot read config file .*missing\.json: ENOENT/],
        ];
        for (const [file, message] of cases) {
          const result = run(['--config', file]);
          expect(result.status, file).toBe(1);
          expect(result.stderr.trim().split('\n')).toHaveLength(1);
          expect(result.stderr).toMatch(message);
        }
      });

      it('reads a secret from the file its <VARIABLE>_FILE names, dropping one trailing newline, for every secret', () => {
        const secret = write('secret', 'a-secret-that-is-at-least-32-bytes-long!\n');
        expect(parseCli([], { FANWIRE_AUTH_SECRET_FILE: secret }).config.authSecret).toBe('a-secret-that-is-at-least-32-bytes-long!');
        const password = write('password', 'pw\r\n');
        const token = write('token', 'tok');
        expect(parseCli(['--cluster', 'nats://n:4222', '--cluster-user', 'gw'], { FANWIRE_CLUSTER_PASSWORD_FILE: password }).config.clusterPassword).toBe('pw');
        expect(parseCli(['--cluster', 'nats://n:4222'], { FANWIRE_CLUSTER_TOKEN_FILE: token }).config.clusterToken).toBe('tok');
        expect(FLAGS.filter((f) => f.secret).map((f) => f.env)).toEqual(['FANWIRE_AUTH_SECRET', 'FANWIRE_CLUSTER_PASSWORD', 'FANWIRE_CLUSTER_TOKEN']);
      });

      it('refuses a secret given both ways, and a secret file that is missing or empty, without printing the secret', () => {
        const secret = write('secret2', 'another-secret-that-is-32-bytes-long!!');
        const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
          [{ FANWIRE_AUTH_SECRET: 'x'.repeat(32), FANWIRE_AUTH_SECRET_FILE: secret }, /set FANWIRE_AUTH_SECRET or FANWIRE_AUTH_SECRET_FILE, not both/],
          [{ FANWIRE_AUTH_SECRET_FILE: path.join(dir, 'nope') }, /FANWIRE_AUTH_SECRET_FILE: cannot read .*nope: ENOENT/],
          [{ FANWIRE_AUTH_SECRET_FILE: write('empty', '\n') }, /FANWIRE_AUTH_SECRET_FILE: .*empty is empty/],
        ];
        for (const [env, message] of cases) {
          const result = run([], env);
          expect(result.status).toBe(1);
          expect(result.stderr).toMatch(message);
          expect(result.stderr).not.toContain('another-secret');
        }
      });
    });

    it('reads --auth-audience as a comma-separated list and --auth-issuer as is, from flags or the environment', () => {
      const jwks = { FANWIRE_AUTH_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json' };
      expect(parseCli(['--auth-audience', 'fanwire, fanwire-admin', '--auth-issuer', 'https://idp.example.com/'], jwks).config).toMatchObject({
        authJwksUrl: 'https://idp.example.com/.well-known/jwks.json',
        authAudience: ['fanwire', 'fanwire-admin'],
        authIssuer: 'https://idp.example.com/',
      });
      expect(parseCli([], { ...jwks, FANWIRE_AUTH_AUDIENCE: 'fanwire', FANWIRE_AUTH_ISSUER: 'https://idp' }).config).toMatchObject({ authAudience: ['fanwire'], authIssuer: 'https://idp' });
      expect(parseCli([], {}).config).toMatchObject({ authJwksUrl: null, authAudience: null, authIssuer: null });
    });

    it('exits 1 naming the JWKS URL and why when the identity provider cannot be reached at start', async () => {
      const { closedPort } = await import('./auth/jwks-server.js');
      const url = `http://127.0.0.1:${await closedPort()}/.well-known/jwks.json`;
      const result = run(['--port', '0', '--auth-jwks-url', url]);
      expect(result.status).toBe(1);
      expect(result.stderr.trim()).toBe(`fanwire: cannot fetch the JWKS at ${url}: ECONNREFUSED`);
    });

    it('documents every flag and its variable in the README configuration table', () => {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5));
      for (const spec of FLAGS) {
        expect(table, `--${spec.flag}`).toContain(`\`--${spec.flag}\``);
        expect(table, spec.env).toContain(`\`${spec.env}\``);
      }
      // And no row for a flag that does not exist.
      const documented = [...table.matchAll(/^\| `--([a-z-]+)`/gm)].map((m) => m[1]);
      expect(documented.filter((flag) => flag !== 'config' && !FLAGS.some((f) => f.flag === flag))).toEqual([]);
    });

    it('prints help with every flag and exits 0', () => {
      const result = run(['--help']);
      expect(result.status).toBe(0);
      for (const flag of ['--host', '--port', '--buffer-size', '--buffer-ttl', '--heartbeat', '--max-frame-bytes', '--high-water-bytes', '--drop-after-bytes']) {
        expect(result.stdout).toContain(flag);
      }
    });
  });

  describe('the command', () => {
    it('starts from a plain `#!/usr/bin/env node` line (no `env -S`, which BusyBox and Alpine lack)', () => {
      expect(readFileSync(CLI, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    });

    it('keeps a --max-semi-space-size given to Node, on its command line or in NODE_OPTIONS', () => {
      const call: unknown[] = [];
      const proc = (execArgv: string[], env: NodeJS.ProcessEnv = {}) => ({
        execArgv,
        argv: ['/usr/bin/node', '/opt/fanwire/dist/cli.js', '--port', '80'],
        env,
        execPath: '/usr/bin/node',
        execve: (...args: unknown[]): never => {
          call.push(args);
          return undefined as never;
        },
      });
      expect(youngGenerationExec(proc(['--max-semi-space-size=16']))).toBeNull();
      expect(youngGenerationExec(proc([], { NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=2' }))).toBeNull();
      expect(youngGenerationExec({ ...proc([]), execve: undefined })).toBeNull();
      youngGenerationExec(proc(['--enable-source-maps']))!();
      expect(call).toEqual([['/usr/bin/node', ['/usr/bin/node', YOUNG_GENERATION_FLAG, '--enable-source-maps', '/opt/fanwire/dist/cli.js', '--port', '80'], {}]]);
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

    it('runs as its own command, with Node\'s young generation capped (--max-semi-space-size=4) where Node can re-execute in place (22.15+)', async () => {
      const { spawn } = await import('node:child_process');
      const child = spawn(CLI, ['--port', '0', '--transport', 'ws'], { stdio: ['ignore', 'pipe', 'pipe'] });
      onTestFinished(() => {
        child.kill('SIGKILL');
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await until(() => (out.includes('"listening"') || out.includes('listening') ? true : undefined), 'listening');
      // The same process (PID) as started: re-executed in place, not a wrapper around a child.
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      const canExec = typeof (process as { execve?: unknown }).execve === 'function';
      if (canExec) expect(argv).toContain(YOUNG_GENERATION_FLAG);
      else expect(argv.some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
      expect(JSON.parse(out.split('\n').find((l) => l.includes('fanwire listening'))!)).toMatchObject({ nodeFlags: canExec ? [YOUNG_GENERATION_FLAG] : [] });
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
