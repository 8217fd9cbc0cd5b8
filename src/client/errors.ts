/**
 * The errors the client hands to applications: one class, a stable string
 * `code` to switch on (the gateway's error codes, plus a few only a client
 * sees), the gateway's message, and the close code that carried it.
 */
import type { ErrorCode } from '../errors.js';

export type ClientErrorCode =
  | ErrorCode
  /** The connection ended before an answer; whether the gateway acted on it is unknown. */
  | 'connection_closed'
  /** The token function threw or returned something that is not a non-empty string. */
  | 'token_unavailable';

export class FanwireClientError extends Error {
  override name = 'FanwireClientError';
  readonly code: ClientErrorCode;
  /** The WebSocket close code that carried the error, or null when it did not come as a close. */
  readonly closeCode: number | null;

  constructor(code: ClientErrorCode, message: string, closeCode: number | null = null) {
    super(message);
    this.code = code;
    this.closeCode = closeCode;
  }
}
