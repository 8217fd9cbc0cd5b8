/**
 * The wire contract, checked by a client written in another language from
 * docs/protocol.md alone (test/interop/fanwire_client.py, Python standard
 * library only). It runs against the real CLI on a fresh buffer.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnGateway, type CliGateway, TRANSPORTS } from '../helpers.js';

const CLIENT = fileURLToPath(new URL('./fanwire_client.py', import.meta.url));
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const hasPython = python.status === 0;

if (!hasPython) {
  if (process.env.CI) throw new Error('python3 is required for the interop suite under CI=true');
  console.warn('\n*** SKIPPING the Python interop suite: python3 not found on PATH ***\n');
}

for (const transport of TRANSPORTS) {
  describe.skipIf(!hasPython)(`a Python client written from docs/protocol.md alone (${transport})`, () => {
    let gw: CliGateway;
    beforeAll(async () => {
      gw = await spawnGateway(['--transport', transport]);
    });
    afterAll(async () => {
      await gw?.stop();
    });

    it('passes every check against a fresh gateway', async () => {
      const child = spawn('python3', [CLIENT, gw.http], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      clearTimeout(killer);
      const summary = /^(\d+) passed, (\d+) failed$/m.exec(out);
      expect(summary, out).not.toBeNull();
      expect(out.split('\n').filter((l) => l.startsWith('not ok')), out).toEqual([]);
      expect(Number(summary![1])).toBeGreaterThan(50);
      expect(code, out).toBe(0);
    });
  });
}
