/**
 * HTTP answers as they leave each transport, over a real socket:
 * status lines carry the standard reason phrase (Node's http.STATUS_CODES,
 * on uws too, which once sent `429 Status`), for routes and for refused
 * upgrades alike, and a handler that throws or rejects is answered 500 with
 * code 'internal'. Both transports share this through http-exchange.ts.
 */
import { once } from 'node:events';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createWsTransport, loadUws, type HttpReply, type Transport, type TransportHandlers, type TransportOptions } from '../../src/transport/index.js';
import { createUwsTransport } from '../../src/transport/uws.js';
import { TRANSPORTS } from '../helpers.js';

const OPTIONS: TransportOptions = { maxPayloadBytes: 1024, maxBackpressureBytes: 1024 * 1024, compression: false, idleTimeoutMs: 0, handshakeTimeoutMs: 10_000 };

const json = (status: number, code: string): HttpReply => ({ status, body: JSON.stringify({ code, message: code }) });

/** Routes: /limited is 429, /throws throws, /rejects rejects, /page is HTML, anything else 404. Every upgrade is refused 429. */
const HANDLERS: TransportHandlers<null> = {
  request: (req) => {
    if (req.path === '/limited') return json(429, 'limit_exceeded');
    if (req.path === '/throws') throw new Error('handler broke');
    if (req.path === '/rejects') return Promise.reject(new Error('handler broke later'));
    if (req.path === '/page') return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<p>hi</p>' };
    return json(404, 'not_found');
  },
  upgrade: () => ({ accept: false, reply: json(429, 'limit_exceeded') }),
  open: () => ({ message: () => {}, close: () => {} }),
};

// Where uWebSockets.js does not load, helpers.ts warns (or, under CI, keeps it so this fails).
const FACTORIES: Record<string, () => Transport> = {
  ws: () => createWsTransport(HANDLERS, OPTIONS),
  uws: () => createUwsTransport(loadUws().native, HANDLERS, OPTIONS),
};

interface Answer {
  /** The status line as it came off the socket (Node's client parses it, it does not fill the phrase in). */
  statusLine: string;
  body: unknown;
}

/** One request on a fresh connection; `upgrade` asks for a WebSocket (answered here only when refused). */
async function ask(port: number, path: string, upgrade = false): Promise<Answer> {
  const headers: Record<string, string> = upgrade
    ? { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }
    : {};
  const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { statusLine: `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
}

for (const name of TRANSPORTS) {
  describe(`HTTP answers over ${name}`, () => {
    let transport: Transport | null = null;
    afterEach(async () => {
      await transport?.close();
      transport = null;
    });

    const serve = async (): Promise<number> => {
      transport = FACTORIES[name]!();
      return (await transport.listen('127.0.0.1', 0)).port;
    };

    it('sends a 429 with the standard reason phrase in its status line', async () => {
      const port = await serve();
      const { statusLine, body } = await ask(port, '/limited');
      expect(statusLine).toBe('HTTP/1.1 429 Too Many Requests');
      expect(body).toMatchObject({ code: 'limit_exceeded' });
    });

    it('sends a 404 with the standard reason phrase in its status line', async () => {
      const port = await serve();
      const { statusLine, body } = await ask(port, '/nowhere');
      expect(statusLine).toBe('HTTP/1.1 404 Not Found');
      expect(body).toMatchObject({ code: 'not_found' });
    });

    it('refuses an upgrade with 429 and the standard reason phrase', async () => {
      const port = await serve();
      const { statusLine, body } = await ask(port, '/v1/subscribe', true);
      expect(statusLine).toBe('HTTP/1.1 429 Too Many Requests');
      expect(body).toMatchObject({ code: 'limit_exceeded' });
    });

    it('sends a reply that names its own content type with that type alone (one Content-Type header, not JSON as well)', async () => {
      const port = await serve();
      const req = http.request({ host: '127.0.0.1', port, path: '/page', agent: false });
      req.end();
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      res.resume();
      const types = res.rawHeaders.filter((_, i) => i % 2 === 0 && res.rawHeaders[i]!.toLowerCase() === 'content-type').length;
      expect(types).toBe(1);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    });

    for (const path of ['/throws', '/rejects']) {
      it(`answers a handler that ${path.slice(1)} with 500 Internal Server Error and code 'internal'`, async () => {
        const port = await serve();
        const { statusLine, body } = await ask(port, path);
        expect(statusLine).toBe('HTTP/1.1 500 Internal Server Error');
        expect(body).toMatchObject({ code: 'internal' });
      });
    }
  });
}
