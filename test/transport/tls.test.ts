/** wss and https on both transports, with a throwaway certificate made by openssl. */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pack, unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TRANSPORTS, startTestGateway, until } from '../helpers.js';

const hasOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasOpenssl) {
  if (process.env.CI) throw new Error('openssl is required for the TLS suite under CI=true');
  console.warn('\n*** SKIPPING the TLS suite: openssl not found ***\n');
}

describe.skipIf(!hasOpenssl)('TLS', () => {
  let dir: string;
  let ca: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'fanwire-tls-'));
    const made = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    ca = readFileSync(path.join(dir, 'cert.pem'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const transport of TRANSPORTS) {
    it(`serves wss and https with --tls-cert and --tls-key (${transport})`, async () => {
      const gw = await startTestGateway({ transport, tlsCertFile: path.join(dir, 'cert.pem'), tlsKeyFile: path.join(dir, 'key.pem') });
      const port = new URL(gw.http).port;
      try {
        const sub = new WebSocket(`wss://127.0.0.1:${port}/v1/subscribe`, { ca });
        const messages: any[] = [];
        sub.on('message', (data: Buffer) => messages.push(unpack(data)));
        await until(() => messages.length > 0 || undefined, 'hello over wss');
        const pub = new WebSocket(`wss://127.0.0.1:${port}/v1/publish`, { ca });
        await once(pub, 'open');
        pub.send(pack({ topic: 't', payload: 'secret' }));
        await until(() => messages.some((m) => m.type === 'events') || undefined, 'the event over wss');
        expect(messages[1]).toMatchObject({ type: 'events', index: 1, events: [{ topic: 't', payload: 'secret' }] });
        const health = await new Promise<number>((resolve, reject) =>
          https.get(`https://127.0.0.1:${port}/healthz`, { ca }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          }).on('error', reject),
        );
        expect(health).toBe(200);
        const plain = new WebSocket(`ws://127.0.0.1:${port}/v1/subscribe`);
        const failed = await new Promise<boolean>((resolve) => {
          plain.on('error', () => resolve(true));
          plain.on('open', () => resolve(false));
          plain.on('close', () => resolve(true));
        });
        expect(failed).toBe(true); // no plaintext on a TLS port
        sub.close();
        pub.close();
      } finally {
        await gw.stop();
      }
    });
  }
});
