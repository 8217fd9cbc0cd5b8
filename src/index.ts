/**
 * fanwire: the programmatic entry point. `startGateway` runs the same
 * gateway the `fanwire` CLI runs.
 */
export { Gateway, InsecureBindError, startGateway } from './gateway/gateway.js';
export type { GatewayOptions } from './gateway/gateway.js';
export { DEFAULT_CONFIG } from './gateway/config.js';
export type { GatewayConfig } from './gateway/config.js';
export * from './errors.js';
export * from './protocol/index.js';
