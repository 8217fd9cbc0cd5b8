/**
 * Refusals a browser can see: a client that offers the fanwire.v1
 * subprotocol gets a refused subscribe or publish upgrade (400, 401, 403,
 * 410) as an accepted connection closed at once with 4000 + the status, since
 * a browser never sees an upgrade's HTTP status. Load refusals, Origin
 * refusals and clients that do not offer fanwire.v1 keep the HTTP answers.
 */
import { SignJWT, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TRANSPORTS, startTestGateway, until, type TestGateway } from '../helpers.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const key = new TextEncoder().encode(SECRET);
const token = (claims: JWTPayload, expiresIn: string | number = '1h'): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuedAt().setExpirationTime(expiresIn).sign(key);

interface Outcome {
  /** The subprotocol the server answered with, when it accepted the upgrade. */
  protocol: string | null;
  status: number | null;
  messages: number;
  close: { code: number; reason: string } | null;
}

/** Opens a WebSocket and reports how it ended: an HTTP status, or an accepted upgrade and its close frame. */
async function outcome(url: string, protocols: string[] | undefined, headers: Record<string, string> = {}): Promise<Outcome> {
  const ws = new WebSocket(url, protocols, { headers });
  const o: Outcome = { protocol: null, status: null, messages: 0, close: null };
  ws.on('open', () => (o.protocol = ws.protocol));
  ws.on('message', () => o.messages++);
  ws.on('unexpected-response', (_req, res) => {
    o.status = res.statusCode ?? 0;
    res.resume();
  });
  ws.on('error', () => {});
  const done = new Promise<void>((resolve) => ws.on('close', (code, reason) => ((o.close = { code, reason: reason.toString() }), resolve())));
  await until(() => o.status !== null || o.close !== null || undefined, 'a refusal', 10_000);
  if (o.status !== null) ws.terminate();
  else await done;
  return o;
}

for (const transport of TRANSPORTS) {
  describe(`refusals with the fanwire.v1 subprotocol (${transport})`, () => {
    let gw: TestGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      gw = null;
    });
    const metricsText = async (jwt: string) => (await fetch(`${gw!.http}/metrics`, { headers: { authorization: `Bearer ${jwt}` } })).text();

    it('closes refused subscribe upgrades with 4400, 4401, 4403 and 4410 and "<code>: <message>", sending nothing before', async () => {
      gw = await startTestGateway({ transport, authSecret: SECRET, bufferSize: 2 });
      const ops = await token({ ops: true, publish: '*', topics: '*' });
      // Fill past the buffer so index 1 is gone (strict=1 then gets 410 / 4410).
      const producer = new WebSocket(`${gw.ws}/v1/publish`, { headers: { authorization: `Bearer ${ops}` } });
      await new Promise((resolve) => producer.once('open', resolve));
      let acks = 0;
      producer.on('message', () => acks++);
      for (let i = 0; i < 5; i++) producer.send(JSON.stringify({ topic: 'orders', payload: i }));
      await until(() => acks === 5 || undefined, 'five acks');
      producer.close();

      const orders = await token({ topics: ['orders'] });
      const expired = await token({ topics: '*' }, Math.floor(Date.now() / 1000) - 10);
      const sub = `${gw.ws}/v1/subscribe?format=json`;
      const cases: Array<[string, string, string[], number, RegExp]> = [
        ['a malformed query', `${sub}&topic=orders&index=x`, ['fanwire.v1', orders], 4400, /^bad_query: .*index/],
        ['no token', `${sub}&topic=orders`, ['fanwire.v1'], 4401, /^unauthorized: a token is required/],
        ['an expired token', `${sub}&topic=orders`, ['fanwire.v1', expired], 4401, /^unauthorized: token expired$/],
        ['a topic the token lacks', `${sub}&topic=audit`, ['fanwire.v1', orders], 4403, /^forbidden: .*audit/],
        ['strict=1 and an index that is gone', `${sub}&topic=orders&index=1&strict=1`, ['fanwire.v1', orders], 4410, /^index_gone: /],
      ];
      for (const [what, url, protocols, code, reason] of cases) {
        const o = await outcome(url, protocols);
        expect(o, what).toMatchObject({ protocol: 'fanwire.v1', status: null, messages: 0, close: { code } });
        expect(o.close!.reason, what).toMatch(reason);
      }
      const text = await metricsText(ops);
      expect(text).toContain('fanwire_upgrades_refused_total{code="bad_query"} 1');
      expect(text).toContain('fanwire_upgrades_refused_total{code="unauthorized"} 2');
      expect(text).toContain('fanwire_upgrades_refused_total{code="forbidden"} 1');
      expect(text).toContain('fanwire_upgrades_refused_total{code="index_gone"} 1');
      expect(gw.gateway.subscriberCount).toBe(0);
    });

    it('closes refused publish upgrades with 4400 and 4401 the same way', async () => {
      gw = await startTestGateway({ transport, authSecret: SECRET });
      const producer = await token({ publish: '*' });
      expect(await outcome(`${gw.ws}/v1/publish?topic=x`, ['fanwire.v1', producer])).toMatchObject({ protocol: 'fanwire.v1', messages: 0, close: { code: 4400 } });
      expect(await outcome(`${gw.ws}/v1/publish`, ['fanwire.v1'])).toMatchObject({ protocol: 'fanwire.v1', messages: 0, close: { code: 4401 } });
    });

    it('cuts a long reason to the 123 bytes a close frame holds', async () => {
      gw = await startTestGateway({ transport, authSecret: SECRET });
      const jwt = await token({ topics: ['orders'] });
      const o = await outcome(`${gw.ws}/v1/subscribe?topic=audit:${'k'.repeat(250)}`, ['fanwire.v1', jwt]);
      expect(o.close!.code).toBe(4403);
      expect(Buffer.byteLength(o.close!.reason)).toBeLessThanOrEqual(123);
      expect(Buffer.byteLength(o.close!.reason)).toBeGreaterThan(100);
      expect(o.close!.reason).toMatch(/^forbidden: /);
    });

    it('keeps HTTP answers for clients that do not offer fanwire.v1, for load refusals and for Origin refusals', async () => {
      gw = await startTestGateway({ transport, authSecret: SECRET, maxSubscribers: 1, allowedOrigins: ['https://dash.example'] });
      const jwt = await token({ topics: '*' });
      const sub = `${gw.ws}/v1/subscribe`;
      // Without the subprotocol: today's HTTP statuses.
      expect(await outcome(`${sub}?index=x`, undefined, { authorization: `Bearer ${jwt}` })).toMatchObject({ status: 400 });
      expect(await outcome(sub, undefined)).toMatchObject({ status: 401 });
      // An Origin outside --allowed-origins: 403 whatever the client offers.
      expect(await outcome(sub, ['fanwire.v1', jwt], { origin: 'https://evil.example' })).toMatchObject({ status: 403 });
      // A load refusal (429) stays HTTP too.
      const holder = new WebSocket(sub, ['fanwire.v1', jwt]);
      await until(() => holder.readyState === WebSocket.OPEN || undefined, 'the one subscriber allowed');
      expect(await outcome(sub, ['fanwire.v1', jwt])).toMatchObject({ status: 429 });
      holder.close();
    });
  });
}
