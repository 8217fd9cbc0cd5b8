/** The examples in examples/ (and quoted in the README) run as documented. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnGateway, type CliGateway, TRANSPORTS } from './helpers.js';

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

function runNode(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, out });
    }),
  );
}

for (const transport of TRANSPORTS) {
  describe(`examples (${transport})`, () => {
    let gw: CliGateway;
    beforeAll(async () => {
      gw = await spawnGateway(['--transport', transport]);
    });
    afterAll(async () => {
      await gw?.stop();
    });

    it('producer.mjs publishes and subscriber.mjs receives every "orders" event in order', async () => {
      const subscriber = runNode([example('subscriber.mjs'), gw.ws, '6']);
      // The subscriber must be connected before the producer starts: wait for it on the gateway.
      for (let i = 0; i < 2000; i++) {
        const stats = (await (await fetch(`${gw.http}/v1/stats`)).json()) as { subscribers: number };
        if (stats.subscribers > 0) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const producer = await runNode([example('producer.mjs'), gw.ws, '6'], { INTERVAL_MS: '5' });
      expect(producer.code, producer.out).toBe(0);
      expect(producer.out).toContain("{ type: 'ack', index: 5, id: 'batch-4' }");
      const { code, out } = await subscriber;
      expect(code, out).toBe(0);
      const indexes = out.trim().split('\n').map((line) => Number(line.split(' ')[0]));
      expect(indexes).toEqual([1, 2, 3, 4, 5, 6]);
      expect(out).toContain('5 [{"topic":"orders","type":"created","key":"o-4","payload":{"total":40}}]');
    });
  });
}
