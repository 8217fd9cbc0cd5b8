/**
 * What both transports do around one HTTP exchange, whatever the server
 * library: reading a request body under its byte limit (TooBigError), the
 * status line of a reply, the 500 'internal' answer for a handler that threw
 * or rejected, and asking the gateway for a reply or an upgrade decision.
 * ws.ts and uws.ts translate their library's request and response objects
 * and call these, so both answer alike.
 */
import http from 'node:http';
import { InternalError, TooBigError } from '../errors.js';
import { httpStatusOf } from '../protocol/index.js';
import type { HttpReply, HttpRequest, TransportHandlers, UpgradeDecision } from './transport.js';

/** `429 Too Many Requests`: the status and Node's standard reason phrase (empty for a code Node does not know). */
export const statusLine = (status: number): string => `${status} ${http.STATUS_CODES[status] ?? ''}`;

/**
 * A reply's headers as sent: JSON unless the reply names its own type (the
 * dashboard page, /metrics). One record, so a header is never sent twice.
 * Header names in replies are lower-case.
 */
export const replyHeaders = (reply: HttpReply): Record<string, string> => ({ 'content-type': 'application/json', ...reply.headers });

/** The answer to a handler that threw or rejected: the documented `internal` code (500). */
export const internalError = (err: unknown): HttpReply => ({
  status: httpStatusOf(InternalError.code),
  body: JSON.stringify({ code: InternalError.code, message: err instanceof Error ? err.message : String(err) }),
});

/**
 * Asks the gateway for the reply to `request` and hands it to `write`.
 * `failed`: the handler rejected, so the reply is the internal error and the
 * connection should close after it. A handler that throws at once is answered
 * the same, without `failed`.
 */
export function answerRequest<C>(handlers: TransportHandlers<C>, request: HttpRequest, write: (reply: HttpReply, failed: boolean) => void): void {
  let reply: Promise<HttpReply> | HttpReply;
  try {
    reply = handlers.request(request);
  } catch (err) {
    reply = internalError(err);
  }
  Promise.resolve(reply).then(
    (r) => write(r, false),
    (err: unknown) => write(internalError(err), true),
  );
}

/** Asks the gateway whether to upgrade `request`; one that throws or rejects is a refusal with the internal error. */
export function decideUpgrade<C>(handlers: TransportHandlers<C>, request: HttpRequest, decided: (decision: UpgradeDecision<C>) => void): void {
  let pending: Promise<UpgradeDecision<C>>;
  try {
    pending = Promise.resolve(handlers.upgrade(request));
  } catch (err) {
    pending = Promise.reject(err);
  }
  pending.then(decided, (err: unknown) => decided({ accept: false, reply: internalError(err) }));
}

/**
 * A request body on its way in, under a byte limit. The transport feeds it
 * the chunks its library delivers; the first of over-the-limit, end or
 * failure settles `readBody`'s promise, and later calls do nothing.
 */
export class BodyCollector {
  /** Settled: chunks that still arrive are ignored. */
  done = false;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly limit: number;
  private readonly resolve: (body: Buffer) => void;
  private readonly reject: (err: Error) => void;

  constructor(limit: number, resolve: (body: Buffer) => void, reject: (err: Error) => void) {
    this.limit = limit;
    this.resolve = resolve;
    this.reject = reject;
  }

  /**
   * Adds a chunk; false once the body is over the limit (then rejected with
   * TooBigError; stop reading). An ArrayBuffer is copied, and only when it
   * fits: a library may reuse it after the call (uWS does).
   */
  push(chunk: Buffer | ArrayBuffer): boolean {
    if (this.done) return false;
    this.size += chunk.byteLength;
    if (this.size > this.limit) {
      this.fail(new TooBigError(`body is over the ${this.limit}-byte limit`));
      return false;
    }
    this.chunks.push(chunk instanceof ArrayBuffer ? Buffer.from(chunk.slice(0)) : chunk);
    return true;
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.resolve(Buffer.concat(this.chunks, this.size));
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.reject(err);
  }
}

/**
 * Reads a body of at most `limit` bytes: refused at once when the declared
 * content-length is over it, else collected by `start`, which hooks the
 * library's data, end and abort events to the collector.
 */
export function readBody(contentLength: string | undefined, limit: number, start: (body: BodyCollector) => void): Promise<Buffer> {
  const declared = Number(contentLength);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new TooBigError(`body of ${declared} bytes is over the ${limit}-byte limit`));
  }
  return new Promise((resolve, reject) => start(new BodyCollector(limit, resolve, reject)));
}
