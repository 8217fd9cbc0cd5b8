/**
 * Token expiry for open connections: a connection authorized by a token
 * with `exp` is closed with 4003 when that moment comes, whatever it is
 * doing. One timer per such connection, re-armed in steps because Node
 * cannot wait longer than about 24.8 days at once.
 */
import type { Grant } from '../auth/index.js';
import { TokenExpiredError } from '../errors.js';
import { closeOf } from '../protocol/index.js';
import type { Connection } from '../transport/index.js';

/** Longest setTimeout delay Node honours (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The canceller of a connection whose token never expires: one shared function, not one per connection. */
const NO_EXPIRY = (): void => {};

/** Closes `conn` with 4003 when its token expires; returns the canceller. */
export function expireWith(conn: Connection, grant: Grant | null): () => void {
  if (grant === null || grant.expiresAt === null) return NO_EXPIRY;
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const left = grant.expiresAt! - Date.now();
    if (left <= 0) {
      const { code, reason } = closeOf(new TokenExpiredError());
      conn.close(code, reason);
    }
    else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  arm();
  return () => clearTimeout(timer);
}
