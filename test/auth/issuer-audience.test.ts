/**
 * `--auth-issuer` and `--auth-audience` with the key sources that are not a
 * URL (remote-jwks.test.ts covers that one): tokens whose `iss` or `aud` is
 * wrong or missing are refused 401 with a message naming the claim, on the
 * upgrade, on POST /v1/publish and, for a client offering fanwire.v1, as
 * close 4401; on both transports.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Gateway } from '../../src/gateway/gateway.js';
import { TRANSPORTS, startTestGateway, type TestGateway } from '../helpers.js';
import { closeOrMessage, subscribeWith } from './token-outcomes.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const key = new TextEncoder().encode(SECRET);
const ISSUER = 'https://idp.example.com/';

const token = (claims: JWTPayload): Promise<string> =>
  new SignJWT({ topics: '*', publish: '*', ...claims }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime('1h').sign(key);

const refusal = (message: string) => ({ status: 401, body: { code: 'unauthorized', message } });

for (const transport of TRANSPORTS) {
  describe(`--auth-issuer and --auth-audience (${transport})`, () => {
    let gw: TestGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      gw = null;
    });
    const start = async () => (gw = await startTestGateway({ transport, authSecret: SECRET, authIssuer: ISSUER, authAudience: ['fanwire', 'fanwire-admin'] }));

    it('accepts a token from the configured issuer whose audience holds one of the configured audiences', async () => {
      await start();
      for (const aud of ['fanwire', 'fanwire-admin', ['another-app', 'fanwire']]) {
        expect(await subscribeWith(gw!.ws, await token({ iss: ISSUER, aud })), JSON.stringify(aud)).toMatchObject({ hello: { type: 'hello' } });
      }
    });

    it('refuses a wrong or missing "iss" or "aud" with 401 naming the claim and what it expected', async () => {
      await start();
      const cases: Array<[JWTPayload, string]> = [
        [{ iss: 'https://evil.example.com/', aud: 'fanwire' }, `token "iss" claim mismatch: expected ${ISSUER}`],
        [{ iss: ISSUER, aud: 'another-app' }, 'token "aud" claim mismatch: expected fanwire or fanwire-admin'],
        [{ iss: ISSUER, aud: ['another-app', 'yet-another'] }, 'token "aud" claim mismatch: expected fanwire or fanwire-admin'],
        [{ aud: 'fanwire' }, `token has no "iss" claim: expected ${ISSUER}`],
        [{ iss: ISSUER }, 'token has no "aud" claim: expected fanwire or fanwire-admin'],
      ];
      for (const [claims, message] of cases) expect(await subscribeWith(gw!.ws, await token(claims)), message).toEqual(refusal(message));
    });

    it('refuses a producer with the wrong audience on POST /v1/publish and on the WebSocket, appending nothing', async () => {
      await start();
      const jwt = await token({ iss: ISSUER, aud: 'another-app' });
      const post = await fetch(`${gw!.http}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
        body: JSON.stringify({ topic: 'orders', payload: 1 }),
      });
      expect([post.status, await post.json()]).toEqual([401, { code: 'unauthorized', message: 'token "aud" claim mismatch: expected fanwire or fanwire-admin' }]);
      const ws = new WebSocket(`${gw!.ws}/v1/publish`, ['fanwire.v1', jwt]);
      ws.on('error', () => {});
      expect(await closeOrMessage(ws)).toEqual([4401, 'unauthorized: token "aud" claim mismatch: expected fanwire or fanwire-admin']);
      expect(gw!.gateway.buffer.newestIndex).toBe(0);
    });
  });
}

describe('--auth-issuer and --auth-audience setup', () => {
  it('check the claims with a PEM public key as with a secret', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fanwire-iss-'));
    try {
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      writeFileSync(path.join(dir, 'key.pem'), await exportSPKI(publicKey));
      const gw = await startTestGateway({ authPublicKeyFile: path.join(dir, 'key.pem'), authIssuer: ISSUER });
      try {
        const sign = (iss: string) => new SignJWT({ topics: '*', iss }).setProtectedHeader({ alg: 'ES256' }).setSubject('bob').setExpirationTime('1h').sign(privateKey);
        expect(await subscribeWith(gw.ws, await sign(ISSUER))).toMatchObject({ hello: { type: 'hello' } });
        expect(await subscribeWith(gw.ws, await sign('https://evil.example.com/'))).toEqual(refusal(`token "iss" claim mismatch: expected ${ISSUER}`));
      } finally {
        await gw.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an issuer or audience without a key source, and two key sources', () => {
    expect(() => new Gateway({ authIssuer: ISSUER })).toThrow('--auth-issuer and --auth-audience need a key source');
    expect(() => new Gateway({ authAudience: ['fanwire'] })).toThrow('--auth-issuer and --auth-audience need a key source');
    expect(() => new Gateway({ authSecret: SECRET, authJwksUrl: 'https://idp.example.com/jwks' })).toThrow(
      'use one of --auth-secret, --auth-public-key, --auth-jwks and --auth-jwks-url',
    );
  });
});
