/**
 * A stand-in identity provider for tests: a real node:http server on
 * 127.0.0.1 serving a JWKS of keys generated with jose, which a test can
 * rotate, break (503), stop and start again on the same port, and which
 * counts the requests it got. It also signs tokens with its keys.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface SigningKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function signingKey(kid: string, alg: 'ES256' | 'RS256' = 'ES256'): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export class JwksServer {
  /** The keys served, in order. */
  keys: SigningKey[];
  /** Answer 503 instead of the JWKS. */
  failing = false;
  /** JWKS requests received (answered or not). */
  requests = 0;
  private server: Server;
  port = 0;

  private constructor(keys: SigningKey[]) {
    this.keys = keys;
    this.server = this.makeServer();
  }

  static async start(keys: SigningKey[]): Promise<JwksServer> {
    const s = new JwksServer(keys);
    await s.listen(0);
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  /** Stops listening and cuts open connections: fetches fail with ECONNREFUSED. */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    this.server = this.makeServer();
    await this.listen(this.port);
  }

  /** A token signed with `key`, carrying its kid. */
  sign(key: SigningKey, claims: JWTPayload & { topics?: string | string[]; publish?: string | string[] }, sub = 'alice'): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid }).setSubject(sub).setIssuedAt().setExpirationTime('1h').sign(key.privateKey);
  }

  private makeServer(): Server {
    return createServer((req, res) => {
      this.requests++;
      if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
      if (this.failing) return void res.writeHead(503).end('maintenance');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys.map((k) => k.jwk) }));
    });
  }

  private async listen(port: number): Promise<void> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
