/**
 * The keys of an identity provider, fetched from its JWKS URL
 * (`--auth-jwks-url`) by jose's `createRemoteJWKSet`, which owns the cache:
 *
 *   token ──► getKey ──► cached set fresh and has the kid? ──► key
 *                          │ stale (older than cacheMaxAge), or the kid is
 *                          │ unknown and the last fetch is older than cooldown
 *                          ▼
 *                        fetch (below) ──► new set, try again ──► key, or
 *                                                                  "no key"
 *
 * So a key rotation at the provider (a new kid) is picked up by the first
 * token that carries it, at most one fetch per cooldown however many
 * unknown kids arrive (a flood of made-up kids cannot make us hammer the
 * provider). A removed key stops verifying once a fetch has replaced the set.
 *
 * What this module adds is the fetch itself, so that a provider that cannot
 * be reached costs little and says so once:
 * - a failed fetch (network error, timeout, a status other than 200, a body
 *   that is not a JWKS) is not retried before the cooldown has passed: until
 *   then, a token that needs a fetch is refused at once, without a request;
 * - failures are logged once when they start, then at most once a minute
 *   while they last (with a count), and once when a fetch succeeds again:
 *   never once per token;
 * - the error a token gets (JwksUnavailableError) carries no URL or network
 *   detail: those go to the log, not to clients.
 *
 * `open` fetches once before anything is served: a gateway whose keys cannot
 * be loaded does not start (docs/security.md, "Identity providers").
 */
import { createRemoteJWKSet, customFetch, type FetchImplementation, type RemoteJWKSet } from 'jose';

/** The subset of a pino logger this module writes to. */
export interface AuthLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface RemoteJwksOptions {
  /** At most one fetch per this, for an unknown kid (after a success) or a retry (after a failure). */
  cooldownMs: number;
  /** Keys older than this are fetched again before use. */
  cacheMaxAgeMs: number;
  /** A fetch (response and body) taking longer fails. */
  timeoutMs: number;
  log?: AuthLog | null;
}

/** The provider's keys could not be fetched, so a token needing them cannot be checked now. */
export class JwksUnavailableError extends Error {
  override name = 'JwksUnavailableError';
}

/** While fetches fail: when it started, the attempts made, the last attempt and the last log line. */
interface Outage {
  since: number;
  attempts: number;
  lastAttempt: number;
  lastLogged: number;
}

/** While fetches keep failing, one "still failing" line per this. */
const OUTAGE_LOG_INTERVAL_MS = 60_000;

export class RemoteJwks {
  /** For jose's jwtVerify; `reload()` fetches now. */
  readonly getKey: RemoteJWKSet;
  /** The URL without credentials or query, for log lines and start errors. */
  readonly where: string;
  private readonly cooldownMs: number;
  private readonly log: AuthLog | null;
  private outage: Outage | null = null;
  /** Logging starts once the first fetch succeeded: a failed start is reported by `open`'s error. */
  private opened = false;

  private constructor(url: URL, options: RemoteJwksOptions) {
    this.where = `${url.origin}${url.pathname}`;
    this.cooldownMs = options.cooldownMs;
    this.log = options.log ?? null;
    const fetchKeys: FetchImplementation = (href, init) => this.fetchKeys(href, init);
    this.getKey = createRemoteJWKSet(url, {
      cooldownDuration: options.cooldownMs,
      cacheMaxAge: options.cacheMaxAgeMs,
      timeoutDuration: options.timeoutMs,
      [customFetch]: fetchKeys,
    });
  }

  /** Fetches the set once; rejects with an error naming the URL and why when it cannot. */
  static async open(url: URL, options: RemoteJwksOptions): Promise<RemoteJwks> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`JWKS URL must be http: or https:, got ${url.protocol}`);
    const jwks = new RemoteJwks(url, options);
    try {
      await jwks.getKey.reload();
    } catch (err) {
      throw new Error(`cannot fetch the JWKS at ${jwks.where}: ${(err as Error).message}`, { cause: err });
    }
    jwks.opened = true;
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      jwks.log?.warn({ jwks: jwks.where }, 'auth: the JWKS is fetched over plain http: whoever sits on that path can substitute keys; use https');
    }
    return jwks;
  }

  private async fetchKeys(href: string, init: Parameters<FetchImplementation>[1]): Promise<Response> {
    const now = Date.now();
    if (this.outage !== null && now < this.outage.lastAttempt + this.cooldownMs) {
      throw new JwksUnavailableError('the last fetch failed; not retried before the cooldown passed');
    }
    try {
      const res = await fetch(href, init);
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      const body = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        throw new Error('the response is not JSON');
      }
      const keys = (json as { keys?: unknown } | null)?.keys;
      if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'object' && k !== null)) throw new Error('the response is not a JWKS ({"keys": [...]})');
      this.fetched(keys as Array<{ kid?: unknown }>);
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' || init.signal.aborted ? `timed out` : describe(err);
      this.failed(now, why);
      throw new JwksUnavailableError(why, { cause: err });
    }
  }

  private fetched(keys: Array<{ kid?: unknown }>): void {
    if (this.outage !== null && this.opened) {
      this.log?.info({ jwks: this.where, failedAttempts: this.outage.attempts, downForMs: Date.now() - this.outage.since }, 'auth: JWKS fetched again; tokens are checked again');
    }
    this.outage = null;
    this.log?.debug({ jwks: this.where, kids: keys.map((k) => k.kid) }, 'auth: JWKS fetched');
  }

  private failed(now: number, why: string): void {
    const outage = this.outage;
    if (outage === null) {
      this.outage = { since: now, attempts: 1, lastAttempt: now, lastLogged: now };
      if (this.opened) this.log?.warn({ jwks: this.where, err: why }, 'auth: JWKS fetch failed; tokens that need a fetch are refused until one succeeds');
      return;
    }
    outage.attempts++;
    outage.lastAttempt = now;
    if (now - outage.lastLogged >= OUTAGE_LOG_INTERVAL_MS) {
      outage.lastLogged = now;
      this.log?.warn({ jwks: this.where, err: why, failedAttempts: outage.attempts, downForMs: now - outage.since }, 'auth: JWKS fetches still failing');
    }
  }
}

/** A fetch error's own words: Node's fetch says "fetch failed" and puts the reason (ECONNREFUSED…) in `cause`. */
function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
