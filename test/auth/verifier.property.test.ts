/**
 * Property (fast-check): with an issuer and audiences configured, a token is
 * accepted if and only if its `iss` is the issuer and its `aud` (a string or
 * a list) holds one of the audiences; a refused one is refused with a
 * message naming a claim that is in fact wrong. Random `iss`/`aud` values
 * over a small alphabet, so that matches and near misses are both common.
 * The code under test is the real TokenVerifier (jose underneath); the
 * oracle is the rule in docs/security.md. fast-check prints the failing case
 * and its seed.
 */
import fc from 'fast-check';
import { SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/index.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const key = new TextEncoder().encode(SECRET);

const names = fc.constantFrom('https://idp.example.com/', 'https://idp.example.com', 'https://other.example.com/', 'fanwire', 'fanwire-admin', 'app', '');
const issuerClaim = fc.option(names, { nil: undefined });
const audienceClaim = fc.option(fc.oneof(names, fc.array(names, { maxLength: 3 })), { nil: undefined });

describe('TokenVerifier issuer and audience', () => {
  it('accepts a token iff its "iss" is the issuer and its "aud" holds a configured audience, and names a wrong claim otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(names.filter((n) => n !== ''), fc.uniqueArray(names.filter((n) => n !== ''), { minLength: 1, maxLength: 2 }), issuerClaim, audienceClaim, async (issuer, audience, iss, aud) => {
        const verifier = (await TokenVerifier.create({ secret: SECRET, issuer, audience }))!;
        const claims: JWTPayload = { topics: '*' };
        if (iss !== undefined) claims.iss = iss;
        if (aud !== undefined) claims.aud = aud;
        const jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime('1h').sign(key);

        const issRight = iss === issuer;
        const audRight = aud !== undefined && (Array.isArray(aud) ? aud : [aud]).some((a) => (audience as string[]).includes(a));
        const outcome = await verifier.verify(jwt).then(
          () => null,
          (err: Error & { code?: string }) => err,
        );
        if (issRight && audRight) {
          expect(outcome).toBeNull();
          return;
        }
        expect(outcome?.code).toBe('unauthorized');
        const named = /"(iss|aud)" claim/.exec(outcome!.message)?.[1];
        expect(named === 'iss' ? !issRight : named === 'aud' ? !audRight : false, outcome!.message).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
