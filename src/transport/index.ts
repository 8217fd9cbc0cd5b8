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
  TransportHandlers,
  UpgradeDecision,
} from './transport.js';
export { createWsTransport, frameMessage } from './ws.js';
export type { WsTransportOptions } from './ws.js';
