import { describe, expect, it } from 'vitest';
import {
  BadQueryError,
  DroppedError,
  ForbiddenError,
  InternalError,
  PolicyViolationError,
  RateLimitedError,
  ShuttingDownError,
  TokenExpiredError,
  TooBigError,
  UnauthorizedError,
} from '../../src/errors.js';
import { CloseCode, closeOf, MAX_CLOSE_REASON_BYTES, refusalOf } from '../../src/protocol/index.js';

describe('closeOf: every close the gateway decides comes from the error table', () => {
  it('answers each closing error with its documented close code and its message as the reason', () => {
    expect(closeOf(new ShuttingDownError('shutting down'))).toEqual({ code: CloseCode.GOING_AWAY, reason: 'shutting down' });
    expect(closeOf(new TokenExpiredError())).toEqual({ code: CloseCode.TOKEN_EXPIRED, reason: 'token expired' });
    expect(closeOf(new PolicyViolationError('subscribers may not send messages'))).toEqual({
      code: CloseCode.POLICY_VIOLATION,
      reason: 'subscribers may not send messages',
    });
    expect(closeOf(new TooBigError('message too big')).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    expect(closeOf(new InternalError('internal error')).code).toBe(CloseCode.INTERNAL_ERROR);
  });

  it('takes a reason that carries more than the message (a drop names where to resume)', () => {
    const frame = closeOf(new DroppedError('lagged', 41), 'dropped: fell 9 events behind; resume index=42 epoch=e1');
    expect(frame).toEqual({ code: CloseCode.DROPPED, reason: 'dropped: fell 9 events behind; resume index=42 epoch=e1' });
  });

  it('cuts a long reason to the 123 bytes RFC 6455 allows, on a character boundary', () => {
    const frame = closeOf(new InternalError('é'.repeat(200)));
    expect(Buffer.byteLength(frame.reason)).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
    expect(frame.reason).toBe('é'.repeat(61));
  });

  it('answers an error that never closes a connection as internal (1011), not with an undocumented code', () => {
    expect(closeOf(new RateLimitedError('slow down'))).toEqual({ code: CloseCode.INTERNAL_ERROR, reason: 'internal error' });
  });
});

describe('refusalOf: a refused upgrade a browser can see', () => {
  it('gives 4000 + the HTTP status and "<code>: <message>" for the refusals browsers must tell apart', () => {
    expect(refusalOf(new UnauthorizedError('no token'))).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'unauthorized: no token' });
    expect(refusalOf(new ForbiddenError('topic a'))).toEqual({ code: CloseCode.FORBIDDEN, reason: 'forbidden: topic a' });
    expect(refusalOf(new BadQueryError('bad'))).toEqual({ code: CloseCode.BAD_QUERY, reason: 'bad_query: bad' });
  });

  it('leaves load refusals as HTTP answers (null)', () => {
    expect(refusalOf(new ShuttingDownError())).toBeNull();
  });
});
