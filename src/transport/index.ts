/**
 * transport/: the one interface the gateway serves through, and its
 * implementations. Only this folder imports a socket library.
 */
export type {
  Connection,
  ConnectionHandlers,
  HttpReply,
  HttpRequest,
  ListenAddress,
  Transport,
  TransportFactory,
  TransportHandlers,
  TransportOptions,
  UpgradeDecision,
} from './transport.js';
export { clientAddressOf, TrustedProxies } from './client-address.js';
export { selectTransport, TransportUnavailableError, TRANSPORT_CHOICES } from './select.js';
export type { TransportChoice, TransportSelection } from './select.js';
export { loadUws, UwsLoadError, uwsBinaryName } from './uws-loader.js';
export type { LoadedUws, LoadUwsOptions, UwsLoadFailure } from './uws-loader.js';
export { UWS_BINARIES } from './uws-binaries.js';
export type { UwsBinaries } from './uws-binaries.js';
export { createWsTransport } from './ws.js';
export { frameMessage } from './ws-framing.js';
export type { WsTransportOptions } from './ws.js';
