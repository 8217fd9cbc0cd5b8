/**
 * The `fanwire` command's body (src/cli.ts is the entry): starts a gateway
 * from flags, FANWIRE_* variables and a config file, logs JSON lines (pino)
 * to stdout, and stops gracefully on SIGTERM/SIGINT.
 * Exit codes: 0 after a clean stop, 1 for bad configuration or a failed start.
 */
import pino from 'pino';
import { CliError, parseCli, usage } from './options.js';
import type { GatewayConfig } from '../gateway/config.js';
import { Gateway } from '../gateway/gateway.js';
import { VERSION } from '../version.js';

export async function main(): Promise<void> {
  let options;
  try {
    options = parseCli(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`fanwire: ${err.message} (see fanwire --help)\n`);
      process.exit(1);
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  if (options.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }

  // Log through process.stdout rather than pino's default direct fd writer:
  // when the reader of our stdout goes away (a log shipper crash, `| head`),
  // that writer's exit-time flush retries EPIPE forever and SIGTERM never
  // finishes. Here EPIPE just turns logging off.
  const logger = pino({ level: options.logLevel, base: { service: 'fanwire' } }, process.stdout);
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') logger.level = 'silent';
    else throw err;
  });
  // Cluster mode: a node whose stream was replaced under it stops (subscribers
  // get 1001 and resume elsewhere) and exits 1, for its supervisor to restart.
  const onFatal = (): void => {
    gateway.stop().finally(() => process.exit(1));
  };
  const gateway = new Gateway({ ...options.config, logger, onFatal });
  // Handlers go in before the port is bound: whoever reads "fanwire listening"
  // may signal at once, and the default action would skip the graceful stop.
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    gateway.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let address;
  try {
    address = await gateway.start();
  } catch (err) {
    // Configuration problems explain themselves; socket errors get the address they were about.
    const socketError = (err as NodeJS.ErrnoException).code !== undefined || /could not listen/.test((err as Error).message);
    if (socketError) process.stderr.write(`fanwire: cannot listen on ${options.config.host}:${options.config.port}: ${(err as Error).message}\n`);
    else process.stderr.write(`fanwire: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const { config } = gateway;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  const scheme = config.tlsCertFile !== null ? 'https' : 'http';
  const metricsUrl = !config.metrics ? null : gateway.metricsPort !== null ? `http://${host}:${gateway.metricsPort}/metrics` : `${scheme}://${host}:${address.port}/metrics`;
  logger.info(
    {
      url: `${scheme}://${host}:${address.port}`,
      metrics: metricsUrl,
      transport: gateway.transportName,
      transportReason: gateway.transportReason,
      compression: config.compression,
      auth: authSummary(config),
      epoch: gateway.epoch,
      cluster: config.cluster === null ? 'off' : { servers: config.cluster, stream: config.clusterStream, subject: config.clusterSubject, lastSequence: gateway.cluster?.lastSequence },
      bufferSize: config.bufferSize,
      bufferTtlMs: config.bufferTtlMs,
      heartbeatMs: config.heartbeatMs,
      maxFrameBytes: config.maxFrameBytes,
      highWaterBytes: config.highWaterBytes,
      dropAfterBytes: config.dropAfterBytes,
      version: VERSION,
      node: process.version,
      nodeFlags: process.execArgv,
    },
    'fanwire listening',
  );
}

/** The key source, issuer and audience, for the start line (no secret, no URL credentials). */
function authSummary(config: GatewayConfig): string | Record<string, unknown> {
  const keys = config.authSecret
    ? 'hs256 secret'
    : config.authPublicKeyFile
      ? `public key ${config.authPublicKeyFile}`
      : config.authJwksFile
        ? `jwks ${config.authJwksFile}`
        : config.authJwksUrl
          ? `jwks url ${jwksWhere(config.authJwksUrl)}`
          : 'off';
  if (config.authIssuer === null && config.authAudience === null) return keys;
  return { keys, issuer: config.authIssuer, audience: config.authAudience };
}

function jwksWhere(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}
