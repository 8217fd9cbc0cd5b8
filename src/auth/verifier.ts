/**
 * Token verification with jose: JWTs signed with an HS256 secret, or with a
 * public key (PEM), a JWKS file or an identity provider's JWKS URL
 * (remote-jwks.ts) for asymmetric algorithms; with any of them, the `iss`
 * and `aud` claims checked when an issuer or audience is configured. A
 * verified token becomes a Grant: who (`sub`), until when (`exp`), what it
 * may read (`topics`) and write (`publish`), and whether it may use the
 * operator endpoints (`ops`).
 *
 * Refusal messages go to clients (HTTP 401 bodies, 4401 close reasons), so
 * they name the claim or condition but never key material, the JWKS URL or
 * a network error: those are logged by remote-jwks.ts. The expected issuer
 * and audience are named: they are public identifiers, printed in every
 * token the provider issues.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { UnauthorizedError } from '../errors.js';
import { Permission, patternsOf } from './permissions.js';
import { JwksUnavailableError, RemoteJwks, type AuthLog } from './remote-jwks.js';

export interface AuthSettings {
  /** HS256 shared secret (at least 32 bytes). */
  secret?: string | null;
  /** PEM file holding the public key of RS*, PS*, ES* or EdDSA tokens. */
  publicKeyFile?: string | null;
  /** JWKS file (`{"keys": [...]}`) for tokens with a `kid`. */
  jwksFile?: string | null;
  /** JWKS URL (http: or https:) of an identity provider, fetched before create resolves and refreshed by kid. */
  jwksUrl?: string | null;
  /** Required `iss` claim, whatever the key source; null or absent: not checked. */
  issuer?: string | null;
  /** Accepted `aud` values: a token's `aud` must hold at least one; null or absent: not checked. */
  audience?: readonly string[] | null;
  /** JWKS URL: at most one fetch per this for an unknown kid, or after a failed fetch (jose's default 30 s). */
  jwksCooldownMs?: number;
  /** JWKS URL: keys older than this are fetched again before use (jose's default 10 min). */
  jwksCacheMaxAgeMs?: number;
  /** JWKS URL: a fetch taking longer fails (jose's default 5 s). */
  jwksTimeoutMs?: number;
  /** Where JWKS fetch failures and recoveries are logged (bounded: never per token). */
  log?: AuthLog | null;
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

const ONE_KEY_SOURCE = 'use one of --auth-secret, --auth-public-key, --auth-jwks and --auth-jwks-url';

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** What jwtVerify checks besides the signature. */
interface ClaimRules {
  algorithms: string[];
  issuer?: string;
  audience?: string[];
}

export class TokenVerifier {
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  private readonly rules: ClaimRules;

  private constructor(key: Uint8Array | KeyObject | JWTVerifyGetKey, algorithms: string[], settings: AuthSettings) {
    this.key = key;
    this.rules = { algorithms };
    if (settings.issuer != null && settings.issuer !== '') this.rules.issuer = settings.issuer;
    if (settings.audience != null && settings.audience.length > 0) this.rules.audience = [...settings.audience];
  }

  /**
   * The verifier for these settings, or null when auth is off (no key source
   * given). Throws on unreadable keys, and for a JWKS URL when the first
   * fetch fails: a gateway must not come up with auth it cannot check.
   */
  static async create(settings: AuthSettings): Promise<TokenVerifier | null> {
    const given = [settings.secret, settings.publicKeyFile, settings.jwksFile, settings.jwksUrl].filter((v) => v != null && v !== '');
    if (given.length === 0) {
      if (settings.issuer || (settings.audience ?? []).length > 0) throw new Error('--auth-issuer and --auth-audience need a key source');
      return null;
    }
    if (given.length > 1) throw new Error(ONE_KEY_SOURCE);
    if (settings.secret) {
      if (Buffer.byteLength(settings.secret) < 32) throw new Error('--auth-secret must be at least 32 bytes (HS256)');
      return new TokenVerifier(new TextEncoder().encode(settings.secret), ['HS256'], settings);
    }
    if (settings.publicKeyFile) {
      const pem = await readFile(settings.publicKeyFile, 'utf8');
      return new TokenVerifier(createPublicKey(pem), ASYMMETRIC, settings);
    }
    if (settings.jwksUrl) {
      const remote = await RemoteJwks.open(new URL(settings.jwksUrl), {
        cooldownMs: settings.jwksCooldownMs ?? 30_000,
        cacheMaxAgeMs: settings.jwksCacheMaxAgeMs ?? 600_000,
        timeoutMs: settings.jwksTimeoutMs ?? 5_000,
        log: settings.log ?? null,
      });
      return new TokenVerifier(remote.getKey, ASYMMETRIC, settings);
    }
    const jwks = JSON.parse(await readFile(settings.jwksFile!, 'utf8')) as JSONWebKeySet;
    return new TokenVerifier(createLocalJWKSet(jwks), ASYMMETRIC, settings);
  }

  /** Verifies `token` now; throws UnauthorizedError with a reason that is safe to show the client. */
  async verify(token: string): Promise<Grant> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key as Uint8Array, this.rules));
    } catch (err) {
      throw new UnauthorizedError(this.refusalOf(err), { cause: err });
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

  /** Why jose refused a token, in words a client may see. */
  private refusalOf(err: unknown): string {
    if (err instanceof JwksUnavailableError) return "cannot check the token now: the identity provider's keys (JWKS) could not be fetched";
    const { code, claim, reason } = err as { code?: string; claim?: string; reason?: string };
    if (code === 'ERR_JWT_EXPIRED') return 'token expired';
    if (code === 'ERR_JWKS_NO_MATCHING_KEY') return 'no known key matches the token\'s "kid" (JWKS)';
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && (claim === 'iss' || claim === 'aud')) {
      const expected = claim === 'iss' ? this.rules.issuer! : this.rules.audience!.join(' or ');
      return reason === 'missing' ? `token has no "${claim}" claim: expected ${expected}` : `token "${claim}" claim mismatch: expected ${expected}`;
    }
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'nbf') return 'token not valid yet ("nbf" claim)';
    return 'invalid token';
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
