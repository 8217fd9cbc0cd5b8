/**
 * auth/: JWT verification (jose) and the read/publish permissions a token
 * grants. Off unless a key is configured; see docs/security.md.
 */
export { TokenVerifier, tokenOf, SUBPROTOCOL } from './verifier.js';
export type { AuthSettings, Grant } from './verifier.js';
export type { AuthLog } from './remote-jwks.js';
export { Permission } from './permissions.js';
export type { Publishable } from './permissions.js';
