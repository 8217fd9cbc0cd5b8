/**
 * The peers that are not Node programs: nats-server with a WebSocket
 * listener (`nats-ws`) and nginx with the Nchan module (`nchan`,
 * `nchan-auto`). This module finds their binaries and writes the config
 * each one is started with, in a temp dir of its own (ServerProcess in
 * servers.mjs creates and removes it). A missing binary is a `skip` reason,
 * never a crash.
 *
 * Every setting below that differs from the server's default is there so the
 * server is measured delivering, not cutting connections or running out of a
 * table; load/README.md lists them with the reason.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openFilesLimit } from './procstat.mjs';

/** Directories where Debian and source builds put server binaries (not on every user's PATH). */
const SBIN = ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/local/nginx/sbin'];

/** nats-server: $NATS_SERVER (if it exists), on PATH, or in an sbin directory (Debian's /usr/sbin); or null. */
export function natsServerBinary() {
  if (process.env.NATS_SERVER) return existsSync(process.env.NATS_SERVER) ? process.env.NATS_SERVER : null; // e.g. NATS_SERVER=none: act as if missing
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), ...SBIN]) {
    if (dir && existsSync(path.join(dir, 'nats-server'))) return path.join(dir, 'nats-server');
  }
  return null;
}

/** nginx: $NGINX, on PATH, or in an sbin directory; or null. */
export function nginxBinary() {
  if (process.env.NGINX) return existsSync(process.env.NGINX) ? process.env.NGINX : null;
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), ...SBIN]) {
    if (dir && existsSync(path.join(dir, 'nginx'))) return path.join(dir, 'nginx');
  }
  return null;
}

/** The Nchan dynamic module (libnginx-mod-nchan): $NCHAN_MODULE, or Debian's module directories; or null. */
export function nchanModule() {
  if (process.env.NCHAN_MODULE) return existsSync(process.env.NCHAN_MODULE) ? process.env.NCHAN_MODULE : null;
  for (const dir of ['/usr/lib/nginx/modules', '/usr/share/nginx/modules', '/usr/local/nginx/modules']) {
    const file = path.join(dir, 'ngx_nchan_module.so');
    if (existsSync(file)) return file;
  }
  return null;
}

/** Why nats-ws cannot run here, or undefined. */
export function natsSkip() {
  return natsServerBinary() ? undefined : 'nats-server is not installed (apt-get install nats-server, or set NATS_SERVER)';
}

/** Why nchan cannot run here, or undefined. */
export function nchanSkip() {
  if (!nginxBinary()) return 'nginx is not installed (apt-get install nginx libnginx-mod-nchan, or set NGINX)';
  if (!nchanModule()) return 'the Nchan module ngx_nchan_module.so is not installed (apt-get install libnginx-mod-nchan, or set NCHAN_MODULE)';
  return undefined;
}

/**
 * nats-server settings (nats-server 2.9 defaults in the comments). Each one a
 * burst or a busy client would otherwise hit:
 * - max_pending (64 MB per connection): the bytes queued for one client
 *   before it is closed as a slow consumer. A burst to a client whose load
 *   process is busy queues there; raised so the benchmark measures delivery.
 * - write_deadline (10 s): how long one flush to a socket may block before
 *   the client is closed as a slow consumer. The load client shares two cores
 *   with the server and may not read a socket for seconds in a burst.
 * - max_connections (64K) and max_payload (1 MB): enough for 19k subscribers
 *   and any --payload the harness takes; written out so the config says so.
 */
export const NATS_SETTINGS = { max_pending: '1GB', write_deadline: '60s', max_connections: 65536, max_payload: '1MB' };

/**
 * Writes nats-ws's config into `dir`; returns nats-server's arguments.
 * The WebSocket listener is on `port` (loopback, no TLS, no compression); the
 * plain NATS port is a random one nobody uses.
 */
export function natsWsArgs(dir, port) {
  const conf = path.join(dir, 'nats.conf');
  const lines = [
    'host: 127.0.0.1',
    'port: -1',
    ...Object.entries(NATS_SETTINGS).map(([k, v]) => `${k}: ${v}`),
    'websocket {',
    `  listen: "127.0.0.1:${port}"`,
    '  no_tls: true',
    '  compression: false',
    '}',
  ];
  writeFileSync(conf, `${lines.join('\n')}\n`);
  return { command: natsServerBinary(), args: ['-c', conf] };
}

/**
 * Nchan's message store (Nchan 1.3 defaults in the comments):
 * - nchan_message_buffer_length (10) and nchan_message_timeout (1h): how
 *   many published messages a channel keeps, and for how long. A connected
 *   WebSocket subscriber is written each message as it is published; the
 *   buffer is for subscribers that come back with a last message id, which
 *   ours never do. Kept at 10, with a 60 s timeout so a long run does not
 *   hold what it published.
 * - nchan_subscriber_first_message (oldest): a new subscriber would first
 *   get the channel's buffered messages (the previous run's, when the scale
 *   scenario adds subscribers to a running server). `newest`: from the next
 *   publish on, as every other peer's subscribers.
 * - nchan_max_reserved_memory (32M): the shared memory holding messages and
 *   channel state across workers. Raised to 128M: 10k subscribers' channel
 *   bookkeeping plus a burst in flight must never fail an allocation.
 */
export const NCHAN_SETTINGS = { nchan_message_buffer_length: 10, nchan_message_timeout: '60s', nchan_max_reserved_memory: '128M' };

/**
 * Writes an nginx config for `workers` ('1' or 'auto') into `dir`; returns
 * nginx's arguments. Runs in the foreground as the current user, with pid,
 * error log, lock and temp paths in `dir`, so the harness can stop it and
 * leave nothing behind. One channel, `t`: the producer publishes on
 * /v1/publish, subscribers subscribe on /v1/subscribe, both WebSocket.
 */
export function nchanArgs(dir, port, workers) {
  const files = Math.min(openFilesLimit(), 1 << 20);
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  const text = `load_module ${nchanModule()};
worker_processes ${workers};
worker_rlimit_nofile ${files};
error_log ${path.join(dir, 'error.log')} warn;
pid ${path.join(dir, 'nginx.pid')};
lock_file ${path.join(dir, 'nginx.lock')};
events {
  worker_connections ${files - 100};
}
http {
  access_log off;
  client_body_temp_path ${path.join(dir, 'body')};
  proxy_temp_path ${path.join(dir, 'proxy')};
  fastcgi_temp_path ${path.join(dir, 'fastcgi')};
  uwsgi_temp_path ${path.join(dir, 'uwsgi')};
  scgi_temp_path ${path.join(dir, 'scgi')};
  nchan_max_reserved_memory ${NCHAN_SETTINGS.nchan_max_reserved_memory};
  server {
    listen 127.0.0.1:${port};
    location = /v1/publish {
      nchan_publisher websocket;
      nchan_channel_id t;
      nchan_message_buffer_length ${NCHAN_SETTINGS.nchan_message_buffer_length};
      nchan_message_timeout ${NCHAN_SETTINGS.nchan_message_timeout};
    }
    location = /v1/subscribe {
      nchan_subscriber websocket;
      nchan_channel_id t;
      nchan_subscriber_first_message newest;
    }
  }
}
`;
  writeFileSync(conf, text);
  return { command: nginxBinary(), args: ['-p', `${dir}/`, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'] };
}
