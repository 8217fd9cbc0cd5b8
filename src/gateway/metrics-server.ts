/**
 * /metrics on its own port (`--metrics-port`), for setups that keep scrape
 * traffic off the public listener. A bare node:http server: Prometheus needs
 * one GET, not a WebSocket transport. With auth on it asks for the same
 * `ops` bearer token as the main port (Prometheus: `authorization:` in the
 * scrape config).
 */
import http from 'node:http';
import type { HttpReply } from '../transport/index.js';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Null to serve, or the refusal (401/403) for this Authorization header. */
export type MetricsGuard = (authorization: string | undefined) => Promise<HttpReply | null>;

export async function startMetricsServer(host: string, port: number, render: () => Promise<HttpReply>, guard: MetricsGuard): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'not_found', message: 'this port serves GET /metrics only' }));
      return;
    }
    guard(req.headers.authorization)
      .then((refusal) => refusal ?? render())
      .then(
        (reply) => {
          res.writeHead(reply.status, reply.headers);
          res.end(reply.body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        },
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
