/**
 * Token verification with jose: JWTs signed with an HS256 secret, or with a
 * public key (PEM) or a JWKS file for asymmetric algorithms. A verified token
 * becomes a Grant: who (`sub`), until when (`exp`), what it may read
 * (`topics`) and write (`publish`), and whether it may use the operator
 * endpoints (`ops`).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { UnauthorizedError } from '../errors.js';
import { Permission, patternsOf } from './permissions.js';

export interface AuthSettings {
  /** HS256 shared secret (at least 32 bytes). */
  secret?: string | null;
  /** PEM file holding the public key of RS*, PS*, ES* or EdDSA tokens. */
  publicKeyFile?: string | null;
  /** JWKS file (`{"keys": [...]}`) for tokens with a `kid`. */
  jwksFile?: string | null;
}

export interface Grant {
  sub: string;
  /** Expiry in ms since the epoch, or null for tokens without `exp`. */
  expiresAt: number | null;
  read: Permission;
  publish: Permission;
  /** The `ops: true` claim: may read /metrics, /v1/stats and /v1/subscribers. */
  ops: boolean;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export class TokenVerifier {
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  private readonly algorithms: string[];

  private constructor(key: Uint8Array | KeyObject | JWTVerifyGetKey, algorithms: string[]) {
    this.key = key;
    this.algorithms = algorithms;
  }

  /** The verifier for these settings, or null when auth is off (none given). Throws on unreadable keys. */
  static async create(settings: AuthSettings): Promise<TokenVerifier | null> {
    const given = [settings.secret, settings.publicKeyFile, settings.jwksFile].filter((v) => v != null && v !== '');
    if (given.length === 0) return null;
    if (given.length > 1) throw new Error('give one of --auth-secret, --auth-public-key, --auth-jwks');
    if (settings.secret) {
      if (Buffer.byteLength(settings.secret) < 32) throw new Error('--auth-secret must be at least 32 bytes (HS256)');
      return new TokenVerifier(new TextEncoder().encode(settings.secret), ['HS256']);
    }
    if (settings.publicKeyFile) {
      const pem = await readFile(settings.publicKeyFile, 'utf8');
      return new TokenVerifier(createPublicKey(pem), ASYMMETRIC);
    }
    const jwks = JSON.parse(await readFile(settings.jwksFile!, 'utf8')) as JSONWebKeySet;
    return new TokenVerifier(createLocalJWKSet(jwks), ASYMMETRIC);
  }

  /** Verifies `token` now; throws UnauthorizedError with a reason that is safe to show the client. */
  async verify(token: string): Promise<Grant> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key as Uint8Array, { algorithms: this.algorithms }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new UnauthorizedError(code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'invalid token', { cause: err });
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new UnauthorizedError('token has no "sub" claim');
    const read = patternsOf(payload.topics);
    const publish = patternsOf(payload.publish);
    if (read === null || publish === null) throw new UnauthorizedError('"topics" and "publish" claims must be strings or arrays of strings');
    if (payload.ops !== undefined && typeof payload.ops !== 'boolean') throw new UnauthorizedError('"ops" claim must be true or false');
    return {
      sub: payload.sub,
      expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
      read: new Permission(read),
      publish: new Permission(publish),
      ops: payload.ops === true,
    };
  }
}

/**
 * The token a request carries: `Authorization: Bearer`, then `?token=`, then
 * the WebSocket subprotocol list (browsers cannot set headers), where it
 * follows the `fanwire.v1` protocol: `new WebSocket(url, ['fanwire.v1', token])`.
 */
export const SUBPROTOCOL = 'fanwire.v1';

export function tokenOf(authorization: string | undefined, queryToken: string | null, protocols: string | undefined): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (bearer) return bearer[1]!;
  if (queryToken) return queryToken;
  const offered = (protocols ?? '').split(',').map((p) => p.trim());
  const at = offered.indexOf(SUBPROTOCOL);
  if (at !== -1 && offered[at + 1]) return offered[at + 1]!;
  return null;
}
