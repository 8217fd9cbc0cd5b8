/** Connection and frame limits: each refuses with its documented answer and is counted. */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Pub, TRANSPORTS, startTestGateway, until, type TestGateway } from '../helpers.js';

/** Upgrades with ws options (Origin, local address); resolves with the first message or the refusal. */
async function open(url: string, options: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; status: number; body: any }> {
  const ws = new WebSocket(url, options);
  ws.on('error', () => {});
  return new Promise((resolve) => {
    ws.once('message', () => resolve({ ws, status: 101, body: null }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ ws, status: res.statusCode ?? 0, body: JSON.parse(body) }));
    });
  });
}

for (const transport of TRANSPORTS) {
  describe(`limits (${transport})`, () => {
    let gw: TestGateway | null = null;
    const sockets: WebSocket[] = [];
    afterEach(async () => {
      for (const ws of sockets.splice(0)) ws.terminate();
      await gw?.stop();
      gw = null;
    });
    const sub = async (query = '', options: WebSocket.ClientOptions = {}) => {
      const r = await open(`${gw!.ws}/v1/subscribe?${query}`, options);
      sockets.push(r.ws);
      return r;
    };

    it('refuses subscribers past --max-subscribers with 429 limit_exceeded, counted in fanwire_limit_rejections_total', async () => {
      gw = await startTestGateway({ transport, maxSubscribers: 2 });
      expect((await sub()).status).toBe(101);
      const second = await sub();
      expect(second.status).toBe(101);
      const third = await sub();
      expect(third).toMatchObject({ status: 429, body: { code: 'limit_exceeded' } });
      expect(third.body.message).toContain('max-subscribers');
      second.ws.close();
      await until(() => gw!.gateway.subscriberCount === 1 || undefined, 'one left');
      expect((await sub()).status).toBe(101);
      const metrics = await (await fetch(`${gw.http}/metrics`)).text();
      expect(metrics).toContain('fanwire_limit_rejections_total{limit="max-subscribers"} 1');
      expect(metrics).toContain('fanwire_upgrades_refused_total{code="limit_exceeded"} 1');
    });

    it('refuses subscribers past --max-subscribers-per-address, counting each address apart', async () => {
      gw = await startTestGateway({ transport, maxSubscribersPerAddress: 1 });
      expect((await sub('', { localAddress: '127.0.0.1' })).status).toBe(101);
      expect(await sub('', { localAddress: '127.0.0.1' })).toMatchObject({ status: 429, body: { code: 'limit_exceeded' } });
      expect((await sub('', { localAddress: '127.0.0.2' })).status).toBe(101);
    });

    it('refuses browser Origins not in --allowed-origins with 403, and lets clients without an Origin in', async () => {
      gw = await startTestGateway({ transport, allowedOrigins: ['https://app.example.com'] });
      expect((await sub('', { origin: 'https://app.example.com' })).status).toBe(101);
      expect(await sub('', { origin: 'https://evil.example.net' })).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect((await sub()).status).toBe(101);
    });

    it('refuses more topics than --max-topics with 400 bad_query', async () => {
      gw = await startTestGateway({ transport, maxTopics: 2 });
      expect((await sub('topic=a&topic=b')).status).toBe(101);
      expect(await sub('topic=a&topic=b&topic=c')).toMatchObject({ status: 400, body: { code: 'bad_query' } });
    });

    it('rejects a frame with more events than --max-batch-events as invalid_frame, appending nothing', async () => {
      gw = await startTestGateway({ transport, maxBatchEvents: 3 });
      const pub = await Pub.open(gw.ws);
      const events = (n: number) => Array.from({ length: n }, (_, i) => ({ topic: 't', payload: i }));
      expect(await pub.send({ events: events(4) })).toMatchObject({ type: 'error', code: 'invalid_frame', message: 'events: at most 3 events per frame, got 4' });
      expect(await pub.send({ events: events(3) })).toEqual({ type: 'ack', index: 1 });
      await pub.close();
    });
  });
}

