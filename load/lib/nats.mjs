/**
 * A nats-server for the cluster scenario: JetStream on, file storage in a
 * temp dir, loopback only, a free port. Found as $NATS_SERVER, on PATH, or
 * in /usr/sbin (where Debian installs it); absent, the scenario is skipped
 * and says why.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sleep } from './clock.mjs';
import { stop, track } from './children.mjs';
import { freePort } from './servers.mjs';
import { natsServerBinary } from './native-peers.mjs';

export { natsServerBinary };

/** Resolves when the port answers with the NATS INFO line. */
function infoLine(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('data', (chunk) => done(chunk.toString().startsWith('INFO')));
    sock.once('error', () => done(false));
  });
}

/**
 * Starts a nats-server; resolves with {url, pid, version, stop()}.
 * @param {string} bin
 */
export async function startNats(bin) {
  const dir = mkdtempSync(path.join(tmpdir(), 'fanwire-bench-nats-'));
  const port = await freePort();
  const child = track(spawn(bin, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  child.stderr.on('data', (c) => (err = (err + c.toString()).slice(-2000)));
  const deadline = performance.now() + 15_000;
  while (!(await infoLine(port))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nats-server did not start: ${err.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await sleep(100);
  }
  const version = await new Promise((resolve) => {
    const p = spawn(bin, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('close', () => resolve(out.trim()));
    p.on('error', () => resolve('unknown'));
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid,
    version,
    async stop() {
      await stop(child, 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
