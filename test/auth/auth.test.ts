/**
 * Authentication and per-topic permissions, on both transports, with tokens
 * signed by jose and real WebSocket and HTTP clients.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectPublisher, subscribe } from '../../src/client/index.js';
import { Gateway, InsecureBindError } from '../../src/gateway/gateway.js';
import { Pub, Sub, TRANSPORTS, startTestGateway, until, type TestGateway } from '../helpers.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const key = new TextEncoder().encode(SECRET);

function token(claims: JWTPayload & { topics?: string | string[]; publish?: string | string[] }, expiresIn: string | number = '1h', sub = 'alice'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(expiresIn).sign(key);
}

interface Attempt {
  ws: WebSocket;
  messages: Array<Record<string, any>>;
  refused: { status: number; body: Record<string, any> } | null;
  closed: { code: number; reason: string } | null;
  protocol: string;
  waitForClose(ms?: number): Promise<{ code: number; reason: string }>;
}

/** Opens a WebSocket with extra ws options; resolves once it has a first message or a refusal. */
async function attempt(url: string, options: WebSocket.ClientOptions = {}, protocols?: string[]): Promise<Attempt> {
  const ws = new WebSocket(url, protocols, options);
  const a: Attempt = {
    ws,
    messages: [],
    refused: null,
    closed: null,
    protocol: '',
    waitForClose: (ms) => until(() => a.closed ?? undefined, 'close', ms),
  };
  ws.on('message', (data: Buffer, binary: boolean) => a.messages.push(binary ? { binary: true } : JSON.parse(data.toString())));
  ws.on('close', (code, reason) => (a.closed = { code, reason: reason.toString() }));
  ws.on('error', () => {});
  ws.on('unexpected-response', (_req, res) => {
    let body = '';
    res.on('data', (c: Buffer) => (body += c.toString()));
    res.on('end', () => (a.refused = { status: res.statusCode ?? 0, body: JSON.parse(body) }));
  });
  await until(() => a.messages.length > 0 || a.refused !== null || undefined, 'hello or refusal');
  a.protocol = ws.protocol;
  return a;
}

for (const transport of TRANSPORTS) {
  describe(`auth (${transport})`, () => {
    let gw: TestGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      gw = null;
    });
    const start = async () => (gw = await startTestGateway({ transport, authSecret: SECRET }));

    describe('subscribers', () => {
      it('refuses a subscription without a token, or with a forged or expired one, with 401 unauthorized', async () => {
        await start();
        const url = `${gw!.ws}/v1/subscribe?format=json&topic=orders`;
        const none = await attempt(url);
        expect(none.refused).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
        const forged = await new SignJWT({ topics: '*' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').sign(new TextEncoder().encode('another-secret-another-secret-another!'));
        expect((await attempt(`${url}&token=${forged}`)).refused).toMatchObject({ status: 401, body: { code: 'unauthorized', message: 'invalid token' } });
        const expired = await token({ topics: '*' }, Math.floor(Date.now() / 1000) - 10);
        expect((await attempt(`${url}&token=${expired}`)).refused).toMatchObject({ status: 401, body: { message: 'token expired' } });
      });

      it('accepts a token from the Authorization header, ?token= or the fanwire.v1 subprotocol', async () => {
        await start();
        const jwt = await token({ topics: ['orders'] });
        const url = `${gw!.ws}/v1/subscribe?format=json&topic=orders`;
        const header = await attempt(url, { headers: { authorization: `Bearer ${jwt}` } });
        const query = await attempt(`${url}&token=${jwt}`);
        const protocol = await attempt(url, {}, ['fanwire.v1', jwt]);
        for (const s of [header, query, protocol]) expect(s.messages[0]).toMatchObject({ type: 'hello' });
        expect(protocol.protocol).toBe('fanwire.v1');
        for (const s of [header, query, protocol]) s.ws.close();
      });

      it('refuses topics outside the token\'s claims with 403 forbidden naming the topic', async () => {
        await start();
        const jwt = await token({ topics: ['orders:acme', 'audit'] });
        const base = `${gw!.ws}/v1/subscribe?format=json&token=${jwt}`;
        expect((await attempt(`${base}&topic=orders:acme&topic=audit&topic=audit:x`)).messages[0]).toMatchObject({ type: 'hello' });
        const other = await attempt(`${base}&topic=orders:globex`);
        expect(other.refused).toMatchObject({ status: 403, body: { code: 'forbidden' } });
        expect(other.refused!.body.message).toContain('orders:globex');
        expect((await attempt(`${base}&topic=orders`)).refused).toMatchObject({ status: 403 });
        expect((await attempt(base)).refused).toMatchObject({ status: 403, body: { code: 'forbidden' } }); // everything needs "*"
      });

      it('sends in a snapshot only what the token may read: pairs outside its claims are neither in it nor askable', async () => {
        await start();
        const ops = await token({ topics: '*', publish: '*' });
        const pub = new WebSocket(`${gw!.ws}/v1/publish`, { headers: { authorization: `Bearer ${ops}` } });
        await new Promise((resolve) => pub.once('open', resolve));
        let acks = 0;
        pub.on('message', () => acks++);
        for (const [topic, key] of [['orders', 'acme'], ['orders', 'globex'], ['audit', ''], ['secrets', 'k']]) pub.send(JSON.stringify({ topic, key, payload: `${topic}/${key}` }));
        await until(() => acks === 4 || undefined, 'four acks');
        pub.close();
        const jwt = await token({ topics: ['orders:acme', 'audit'] });
        const base = `${gw!.ws}/v1/subscribe?format=json&snapshot=1&token=${jwt}`;
        const sub = await attempt(`${base}&topic=orders:acme&topic=audit`);
        await until(() => sub.messages.some((m) => m.type === 'snapshot' && m.complete) || undefined, 'snapshot');
        const seen = sub.messages.filter((m) => m.type === 'snapshot').flatMap((m) => m.events.map((e: { payload: string }) => e.payload));
        expect(seen).toEqual(['orders/acme', 'audit/']);
        expect((await attempt(base)).refused).toMatchObject({ status: 403, body: { code: 'forbidden' } });
        expect((await attempt(`${base}&topic=orders`)).refused).toMatchObject({ status: 403, body: { code: 'forbidden' } });
        sub.ws.close();
      });

      it('closes the stream with 4003 "token expired" when the token expires', async () => {
        await start();
        const jwt = await token({ topics: '*' }, Math.floor(Date.now() / 1000) + 2);
        const sub = await attempt(`${gw!.ws}/v1/subscribe?format=json&token=${jwt}`);
        expect(sub.messages[0]).toMatchObject({ type: 'hello' });
        expect(await sub.waitForClose(10_000)).toEqual({ code: 4003, reason: 'token expired' });
      });
    });

    describe('producers', () => {
      it('appends only topics the token may publish, answering others with forbidden and appending nothing', async () => {
        await start();
        const jwt = await token({ publish: ['orders:acme', 'audit'] });
        const ws = new WebSocket(`${gw!.ws}/v1/publish`, { headers: { authorization: `Bearer ${jwt}` } });
        await new Promise((resolve) => ws.once('open', resolve));
        const replies: unknown[] = [];
        ws.on('message', (data: Buffer) => replies.push(JSON.parse(data.toString())));
        ws.send(JSON.stringify({ topic: 'orders', key: 'acme', payload: 1 }));
        ws.send(JSON.stringify({ events: [{ topic: 'audit', payload: 2 }, { topic: 'orders', key: 'globex', payload: 3 }] }));
        ws.send(JSON.stringify({ topic: 'audit', key: 'anything', payload: 4 }));
        await until(() => replies.length === 3 || undefined, 'three replies');
        expect(replies[0]).toEqual({ type: 'ack', index: 1 });
        expect(replies[1]).toMatchObject({ type: 'error', code: 'forbidden' });
        expect((replies[1] as { message: string }).message).toContain('orders:globex');
        expect(replies[2]).toEqual({ type: 'ack', index: 2 });
        expect(gw!.gateway.buffer.newestIndex).toBe(2);
        ws.close();
      });

      it('refuses a producer without a token with 401', async () => {
        await start();
        const sub = await attempt(`${gw!.ws}/v1/publish`);
        expect(sub.refused).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
      });

      it('authorizes POST /v1/publish with a bearer token: 401 without, 403 outside the claims, 200 inside', async () => {
        await start();
        const jwt = await token({ publish: 'orders' });
        const post = (body: unknown, auth?: string) =>
          fetch(`${gw!.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) }, body: JSON.stringify(body) });
        expect((await post({ topic: 'orders', payload: 1 })).status).toBe(401);
        const forbidden = await post({ topic: 'audit', payload: 1 }, jwt);
        expect([forbidden.status, ((await forbidden.json()) as { code: string }).code]).toEqual([403, 'forbidden']);
        const ok = await post({ topic: 'orders', payload: 1 }, jwt);
        expect([ok.status, await ok.json()]).toEqual([200, { index: 1 }]);
      });
    });

    describe('operator endpoints', () => {
      const statusAndCode = async (res: Response): Promise<[number, string | undefined]> => {
        const text = await res.text();
        return [res.status, res.headers.get('content-type')?.startsWith('text/plain') ? undefined : (JSON.parse(text) as { code?: string }).code];
      };

      it('serves /metrics, /v1/stats and /v1/subscribers only to a token with "ops": true (401 without, 403 with another)', async () => {
        await start();
        const reader = await token({ topics: '*', publish: '*' });
        const ops = await token({ ops: true });
        for (const endpoint of ['/metrics', '/v1/stats', '/v1/subscribers']) {
          const get = (jwt?: string) => fetch(`${gw!.http}${endpoint}`, { headers: jwt ? { authorization: `Bearer ${jwt}` } : {} });
          expect(await statusAndCode(await get()), endpoint).toEqual([401, 'unauthorized']);
          expect(await statusAndCode(await get(reader)), endpoint).toEqual([403, 'forbidden']);
          expect((await get(ops)).status, endpoint).toBe(200);
        }
        // Probes and the page stay open: load balancers carry no tokens.
        for (const open of ['/healthz', '/readyz', '/']) expect((await fetch(`${gw!.http}${open}`)).status, open).toBe(200);
      });

      it('asks for the same ops bearer token on --metrics-port', async () => {
        gw = await startTestGateway({ transport, authSecret: SECRET, metricsPort: 0 });
        const url = `http://127.0.0.1:${gw.gateway.metricsPort}/metrics`;
        expect(await statusAndCode(await fetch(url))).toEqual([401, 'unauthorized']);
        expect(await statusAndCode(await fetch(url, { headers: { authorization: `Bearer ${await token({ topics: '*' })}` } }))).toEqual([403, 'forbidden']);
        const ok = await fetch(url, { headers: { authorization: `Bearer ${await token({ ops: true })}` } });
        expect(ok.status).toBe(200);
        expect(await ok.text()).toContain('fanwire_subscribers');
      });
    });
  });
}

describe('auth setup', () => {
  it('refuses to listen beyond loopback with auth off unless told it is insecure', async () => {
    await expect(new Gateway({ host: '0.0.0.0', port: 0 }).start()).rejects.toBeInstanceOf(InsecureBindError);
    await expect(new Gateway({ host: '::', port: 0 }).start()).rejects.toThrow(/--insecure/);
  });

  it('verifies asymmetric tokens with a PEM public key file and with a JWKS file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fanwire-keys-'));
    try {
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      writeFileSync(path.join(dir, 'key.pem'), await exportSPKI(publicKey));
      writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }));
      const jwt = await new SignJWT({ topics: '*' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject('bob').setExpirationTime('1h').sign(privateKey);
      for (const option of [{ authPublicKeyFile: path.join(dir, 'key.pem') }, { authJwksFile: path.join(dir, 'jwks.json') }]) {
        const gw = await startTestGateway(option);
        try {
          const sub = await Sub.open(gw.ws, `token=${jwt}`);
          expect(sub.messages[0]).toMatchObject({ type: 'hello' });
          await sub.close();
          expect((await attempt(`${gw.ws}/v1/subscribe?token=${await token({ topics: '*' })}`)).refused).toMatchObject({ status: 401 });
        } finally {
          await gw.stop();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets fanwire/client subscribe and publish with a token', async () => {
    const gw = await startTestGateway({ authSecret: SECRET });
    try {
      const seen: number[] = [];
      const sub = subscribe({ url: gw.ws, topics: ['orders'], token: await token({ topics: 'orders' }), onEvents: (m) => seen.push(m.index) });
      await until(() => sub.state === 'live' || undefined, 'live');
      const pub = await connectPublisher({ url: gw.ws, token: await token({ publish: 'orders' }) });
      expect(await pub.publish({ topic: 'orders', payload: 1 })).toBe(1);
      await expect(pub.publish({ topic: 'audit', payload: 1 })).rejects.toMatchObject({ code: 'forbidden' });
      await until(() => seen.length === 1 || undefined, 'the event');
      sub.close();
      await pub.close();
    } finally {
      await gw.stop();
    }
  });

  it('leaves everything open on loopback when no key is configured', async () => {
    const gw = await startTestGateway();
    try {
      const pub = await Pub.open(gw.ws);
      expect(await pub.send({ topic: 't', payload: 1 })).toEqual({ type: 'ack', index: 1 });
      await pub.close();
    } finally {
      await gw.stop();
    }
  });
});
