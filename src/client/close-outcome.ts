/**
 * What a client does after the gateway (or the network) closed its
 * connection, decided from the close code alone, in one place for the
 * subscription and the publisher (docs/protocol.md, "Close codes").
 *
 * - resume: a drop (4001) or a restart (1001) is news, not trouble; come
 *   back at once, by index.
 * - refresh: the token expired (4003); fetch a new one and come back at once.
 * - reauthorize: the token was refused (4401); only a new one can help, so
 *   with a token function fetch one and retry with backoff (a provider that
 *   keeps handing out bad tokens must not make a hot loop); with a fixed
 *   token it is final.
 * - final: retrying the same request cannot help (4400, 4403, 4410, 1007,
 *   1008, 1009): end, and say why.
 * - retry: anything else (network faults, 1006 for HTTP 429/503 answers,
 *   1011): retry with backoff.
 */
import { CloseCode } from '../protocol/close-codes.js';
import { FanwireClientError, type ClientErrorCode } from './errors.js';

export type CloseOutcome =
  | { action: 'resume'; reason: 'dropped' | 'going_away' }
  | { action: 'refresh'; error: FanwireClientError }
  | { action: 'reauthorize'; error: FanwireClientError }
  | { action: 'final'; error: FanwireClientError }
  | { action: 'retry' };

/** Close codes whose error code is fixed; 44xx carry `<code>: <message>` in the reason. */
const FINAL: ReadonlyMap<number, ClientErrorCode> = new Map<number, ClientErrorCode>([
  [CloseCode.BAD_QUERY, 'bad_query'],
  [CloseCode.FORBIDDEN, 'forbidden'],
  [CloseCode.INDEX_GONE, 'index_gone'],
  [CloseCode.INVALID_PAYLOAD, 'invalid_payload'],
  [CloseCode.POLICY_VIOLATION, 'policy_violation'],
  [CloseCode.MESSAGE_TOO_BIG, 'too_big'],
]);

export function closeOutcome(code: number, reason: string): CloseOutcome {
  if (code === CloseCode.DROPPED) return { action: 'resume', reason: 'dropped' };
  if (code === CloseCode.GOING_AWAY) return { action: 'resume', reason: 'going_away' };
  if (code === CloseCode.TOKEN_EXPIRED) return { action: 'refresh', error: errorOf('token_expired', code, reason) };
  if (code === CloseCode.UNAUTHORIZED) return { action: 'reauthorize', error: errorOf('unauthorized', code, reason) };
  const final = FINAL.get(code);
  if (final !== undefined) return { action: 'final', error: errorOf(final, code, reason) };
  return { action: 'retry' };
}
/** The error a close stands for: its message is the reason without the `<code>: ` prefix the gateway puts on refusals. */
function errorOf(code: ClientErrorCode, closeCode: number, reason: string): FanwireClientError {
  const prefix = `${code}: `;
  const message = reason.startsWith(prefix) ? reason.slice(prefix.length) : reason || `closed with ${closeCode}`;
  return new FanwireClientError(code, message, closeCode);
}
