/**
 * `--auth-jwks-url`: tokens checked with the keys of an identity provider,
 * here a real HTTP server on loopback serving a JWKS generated with jose
 * (jwks-server.ts), on both transports. Key rotation, an unreachable
 * provider and the start-up fetch are driven by the test: cooldowns are set
 * to 0 (fetch whenever jose would like to) or to an hour (never again in this
 * test), so no outcome depends on how long something took.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { TRANSPORTS, startTestGateway, type Message, type TestGateway } from '../helpers.js';
import { closeOrMessage, subscribeWith } from './token-outcomes.js';
import { closedPort, JwksServer, signingKey, type SigningKey } from './jwks-server.js';

const ISSUER = 'https://idp.example.com/';
const AUDIENCE = 'fanwire';
const HOUR = 3_600_000;

/** A pino logger writing JSON lines into `lines`. */
function capturedLogger(lines: Message[]) {
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Message);
      done();
    },
  });
  return pino({ level: 'debug' }, out);
}

describe('--auth-jwks-url', () => {
  let idp: JwksServer | null = null;
  let gw: TestGateway | null = null;
  afterEach(async () => {
    await gw?.stop();
    await idp?.stop();
    gw = null;
    idp = null;
  });

  const claims = { iss: ISSUER, aud: AUDIENCE, topics: '*', publish: '*' };
  const startIdp = async (...keys: SigningKey[]) => (idp = await JwksServer.start(keys));
  const startGateway = async (options: GatewayOptions) =>
    (gw = await startTestGateway({ authJwksUrl: idp!.url, authIssuer: ISSUER, authAudience: [AUDIENCE], ...options }));

  for (const transport of TRANSPORTS) {
    describe(transport, () => {
      it('accepts a token signed by a key the provider serves, with the right issuer and audience, to subscribe and to publish', async () => {
        const es = await signingKey('es-1', 'ES256');
        const rs = await signingKey('rs-1', 'RS256');
        await startIdp(es, rs);
        await startGateway({ transport });
        for (const key of [es, rs]) {
          const jwt = await idp!.sign(key, claims);
          expect(await subscribeWith(gw!.ws, jwt), key.kid).toMatchObject({ hello: { type: 'hello' } });
          const pub = new WebSocket(`${gw!.ws}/v1/publish`, { headers: { authorization: `Bearer ${jwt}` } });
          await new Promise((resolve) => pub.once('open', resolve));
          const reply = new Promise<Message>((resolve) => pub.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()) as Message)));
          pub.send(JSON.stringify({ topic: 'orders', payload: key.kid }));
          expect(await reply).toMatchObject({ type: 'ack' });
          pub.close();
        }
        const post = await fetch(`${gw!.http}/v1/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${await idp!.sign(es, claims)}` },
          body: JSON.stringify({ topic: 'orders', payload: 'post' }),
        });
        expect([post.status, await post.json()]).toEqual([200, { index: 3 }]);
      });

      it('picks up a key rotation: a token signed with the new key is accepted, one with the removed key is refused naming "kid"', async () => {
        const old = await signingKey('2024-01');
        await startIdp(old);
        await startGateway({ transport, authJwksCooldownMs: 0 });
        const oldToken = await idp!.sign(old, claims);
        expect(await subscribeWith(gw!.ws, oldToken)).toMatchObject({ hello: { type: 'hello' } });

        const rotated = await signingKey('2024-02');
        idp!.keys = [rotated]; // the provider publishes the new key and drops the old one
        const before = idp!.requests;
        expect(await subscribeWith(gw!.ws, await idp!.sign(rotated, claims))).toMatchObject({ hello: { type: 'hello' } });
        expect(idp!.requests).toBeGreaterThan(before); // the unknown kid made the gateway fetch again

        const refused = await subscribeWith(gw!.ws, oldToken);
        expect(refused).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
        expect((refused as { body: Message }).body.message).toContain('"kid"');
      });

      it('refuses tokens with 401 saying the keys could not be fetched while the provider is down, keeps serving, and accepts them again once it is back', async () => {
        const key = await signingKey('k1');
        await startIdp(key);
        const lines: Message[] = [];
        // Maximum age 0: every token needs a fetch, so every token meets the outage.
        await startGateway({ transport, authJwksCooldownMs: 0, authJwksCacheMaxAgeMs: 0, logger: capturedLogger(lines) });
        const jwt = await idp!.sign(key, claims);
        expect(await subscribeWith(gw!.ws, jwt)).toMatchObject({ hello: { type: 'hello' } });

        await idp!.stop();
        const refusals = await Promise.all(Array.from({ length: 20 }, () => subscribeWith(gw!.ws, jwt)));
        for (const r of refusals) {
          expect(r).toEqual({ status: 401, body: { code: 'unauthorized', message: "cannot check the token now: the identity provider's keys (JWKS) could not be fetched" } });
        }
        expect((await fetch(`${gw!.http}/healthz`)).status).toBe(200);
        // One warning for the outage, not one per refused token; it names the URL and the cause.
        const warnings = lines.filter((l) => (l.level as number) >= 40);
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatchObject({ level: 40, jwks: idp!.url, err: 'ECONNREFUSED' });

        await idp!.restart();
        expect(await subscribeWith(gw!.ws, jwt)).toMatchObject({ hello: { type: 'hello' } });
        expect(lines.filter((l) => /JWKS fetched again/.test(l.msg as string))).toMatchObject([{ level: 30, failedAttempts: expect.any(Number) }]);
      });

      it('answers a client offering fanwire.v1 with close 4401 naming the claim when the audience is wrong', async () => {
        const key = await signingKey('k1');
        await startIdp(key);
        await startGateway({ transport });
        const jwt = await idp!.sign(key, { ...claims, aud: 'another-app' });
        const ws = new WebSocket(`${gw!.ws}/v1/subscribe?format=json`, ['fanwire.v1', jwt]);
        ws.on('error', () => {});
        expect(await closeOrMessage(ws)).toEqual([4401, 'unauthorized: token "aud" claim mismatch: expected fanwire']);
      });
    });
  }

  it('goes on accepting tokens the held keys can check while the provider is down; a token needing a fetch is refused', async () => {
    const key = await signingKey('k1');
    await startIdp(key);
    await startGateway({ authJwksCooldownMs: 0 });
    await idp!.stop();
    expect(await subscribeWith(gw!.ws, await idp!.sign(key, claims))).toMatchObject({ hello: { type: 'hello' } });
    const unknown = await signingKey('k2');
    expect(await subscribeWith(gw!.ws, await idp!.sign(unknown, claims))).toMatchObject({
      status: 401,
      body: { message: "cannot check the token now: the identity provider's keys (JWKS) could not be fetched" },
    });
  });

  it('fetches at most once per cooldown however many unknown kids arrive', async () => {
    await startIdp(await signingKey('k1'));
    await startGateway({ authJwksCooldownMs: HOUR });
    expect(idp!.requests).toBe(1); // the start-up fetch
    for (let i = 0; i < 20; i++) {
      const forged = await signingKey(`made-up-${i}`);
      expect(await subscribeWith(gw!.ws, await idp!.sign(forged, claims))).toMatchObject({
        status: 401,
        body: { code: 'unauthorized', message: 'no known key matches the token\'s "kid" (JWKS)' },
      });
    }
    expect(idp!.requests).toBe(1);
  });

  it('does not retry a failed fetch before the cooldown has passed: tokens needing one are refused without a request', async () => {
    const key = await signingKey('k1');
    await startIdp(key);
    await startGateway({ authJwksCooldownMs: HOUR, authJwksCacheMaxAgeMs: 0 });
    idp!.failing = true; // the provider answers 503
    const jwt = await idp!.sign(key, claims);
    for (let i = 0; i < 10; i++) expect(await subscribeWith(gw!.ws, jwt)).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    expect(idp!.requests).toBe(2); // the start-up fetch and one failed fetch
  });

  it('refuses to start when the JWKS cannot be fetched, naming the URL and why', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/.well-known/jwks.json`;
    await expect(new Gateway({ port: 0, authJwksUrl: url }).start()).rejects.toThrow(`cannot fetch the JWKS at ${url}: ECONNREFUSED`);
    await startIdp(await signingKey('k1'));
    idp!.failing = true;
    await expect(new Gateway({ port: 0, authJwksUrl: idp!.url }).start()).rejects.toThrow(`cannot fetch the JWKS at ${idp!.url}: HTTP 503`);
  });
});
