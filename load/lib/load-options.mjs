/**
 * The options of load.mjs: parsing, defaults, validation and --help.
 */
import { parseArgs } from 'node:util';
import { MIN_PAYLOAD } from './payload.mjs';
import { ALL_SERVERS } from './servers.mjs';

const NUMBERS = { subscribers: 1000, rate: 100, burst: NaN, 'warmup-burst': NaN, payload: 100, topics: 1, keys: 1, batch: 1, duration: 10, warmup: 2, procs: NaN, tick: 5, drain: 5, stall: 0, 'server-pid': NaN };
const FRACTIONAL = new Set(['rate', 'duration', 'warmup', 'tick', 'drain', 'stall']);

export function usage() {
  return `Usage: npm run load -- [options]        (node load/load.mjs [options])

One load run: N lean subscribers (raw sockets, several processes, source
addresses 127.0.0.1-254) and one publisher, against a server this starts
(--server) or one already running (--url). Prints a progress line a second,
then a table, and writes one JSON record to load/results/.

Server:
  --server NAME         ${ALL_SERVERS.join(', ')} (default fanwire-uws)
  --server-args "..."   more flags for fanwire, e.g. "--buffer-size 200 --drop-after-bytes 64KiB"
  --url ws://HOST:PORT  a running server instead (no process started; RSS/CPU only with --server-pid)
  --mode KIND           with --url: fanwire, raw (uws-publish/ws-loop protocol), socketio, nats (a nats-server
                        websocket listener) or nchan (Nchan's /v1/publish and /v1/subscribe) (default fanwire)
  --server-pid PID      with --url: read this process's RSS and CPU

Load:
  --subscribers N       subscribers (laggards included)          (default ${NUMBERS.subscribers})
  --procs N             subscriber processes                     (default: 1, or 2 above 2,000)
  --rate N              events/s published (fixed rate)          (default ${NUMBERS.rate})
  --burst N             instead of --rate: one burst of N events, all stamped with the burst's start
  --warmup-burst N      events of a warm-up burst before it      (default N/5)
  --burst-write HOW     frames: one WebSocket send per frame, as a producer sending events one by one;
                        one: every frame of a burst in one TCP write, as a producer flushing a backlog
                        (the server reads many frames per read) (default frames)
  --payload N           payload bytes, >= ${MIN_PAYLOAD}                      (default ${NUMBERS.payload})
  --topics N            topics; subscriber i takes topic i % N, event k goes to topic k % N (default 1)
  --keys N              fanwire only: N keys per topic, so topics x N streams; subscriber i subscribes
                        to topic=T:key of stream i % streams, event k carries stream k % streams's topic
                        and key; each subscriber checks its stream's sequence (default 1: no key)
  --batch N             events per publish frame (fanwire {events: [...]}; peers: 1 only) (default 1)
  --duration S          measured seconds (fixed rate)            (default ${NUMBERS.duration})
  --warmup S            publishing seconds before that           (default ${NUMBERS.warmup})
  --drain S             wait at most this long for owed deliveries (burst: for the burst) (default ${NUMBERS.drain})
  --tick MS             publisher timer period                   (default ${NUMBERS.tick})
  --stall F             this fraction of the subscribers are laggards (a process of their own, small
                        kernel buffers): they stop reading for the measured window (fixed rate);
                        the latency and count columns are then the healthy subscribers' (default 0)

  --user-agent TEXT     subscribers send this User-Agent on the upgrade (default none). nats-server
                        writes a browser's (\`Mozilla/...\`) messages in frames of at most 4 KiB, so
                        records span frames: \`--user-agent Mozilla/5.0\` measures what browsers get

Output:
  --json FILE           write the record there instead of load/results/load-<time>.json
  --quiet               no progress lines

Exit code 1 when a subscriber saw a gap or a reorder, a subscriber could not
connect, or the run failed.`;
}

/** @param {string[]} argv */
export function parseLoadOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(NUMBERS).map((k) => [k, { type: 'string' }])),
      server: { type: 'string' },
      'server-args': { type: 'string' },
      url: { type: 'string' },
      mode: { type: 'string' },
      json: { type: 'string' },
      'user-agent': { type: 'string' },
      'burst-write': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { help: true };
  const o = {};
  for (const [key, def] of Object.entries(NUMBERS)) {
    const camel = key.replace(/-(\w)/g, (_, c) => c.toUpperCase());
    if (values[key] === undefined) {
      o[camel] = def;
      continue;
    }
    const n = Number(values[key]);
    const integer = !FRACTIONAL.has(key);
    if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new Error(`--${key}: expected a ${integer ? 'whole ' : ''}number >= 0, got "${values[key]}"`);
    o[camel] = n;
  }
  for (const key of ['subscribers', 'rate', 'duration', 'topics', 'keys', 'batch', 'tick']) if (!(o[key] > 0)) throw new Error(`--${key} must be > 0`);
  if (o.payload < MIN_PAYLOAD) throw new Error(`--payload must be at least ${MIN_PAYLOAD} (8-byte time, 4-byte sequence, 4-byte topic)`);
  if (o.stall >= 1) throw new Error('--stall is a fraction of the subscribers, below 1 (e.g. 0.1)');
  if (!Number.isNaN(o.burst) && o.burst <= 0) throw new Error('--burst must be > 0');
  if (o.topics > 256 && values.server !== undefined && !values.server.startsWith('fanwire')) throw new Error('--topics: the peers route at most 256 topics');
  if (Number.isNaN(o.warmupBurst)) o.warmupBurst = Number.isNaN(o.burst) ? 0 : Math.ceil(o.burst / 5);
  o.server = values.server ?? (values.url ? null : 'fanwire-uws');
  if (o.server && !ALL_SERVERS.includes(o.server)) throw new Error(`--server: unknown server "${o.server}" (known: ${ALL_SERVERS.join(', ')})`);
  if (values.url && values.server) throw new Error('give --server or --url, not both');
  o.url = values.url ?? null;
  if (o.url && !/^wss?:\/\//.test(o.url)) throw new Error('--url: expected ws://HOST:PORT');
  o.mode = values.mode ?? 'fanwire';
  if (!['fanwire', 'raw', 'socketio', 'nats', 'nchan'].includes(o.mode)) throw new Error('--mode: fanwire, raw, socketio, nats or nchan');
  if (o.topics > 1 && (o.server ? o.server.startsWith('nchan') : o.mode === 'nchan')) throw new Error('--topics: the nchan peers publish on one channel');
  if (o.keys > 1 && (o.server ? !o.server.startsWith('fanwire') : o.mode !== 'fanwire')) throw new Error('--keys: topic:key filters are fanwire only (the peers route by topic)');
  o.serverArgs = (values['server-args'] ?? '').split(/\s+/).filter(Boolean);
  o.laggards = Math.round(o.subscribers * o.stall);
  if (o.stall > 0 && o.laggards === 0) throw new Error(`--stall ${o.stall} of ${o.subscribers} subscribers is no laggard at all`);
  if (o.stall > 0 && !Number.isNaN(o.burst)) throw new Error('--stall works with --rate runs, not --burst');
  o.healthy = o.subscribers - o.laggards;
  o.json = values.json ?? null;
  o.userAgent = values['user-agent'] ?? '';
  o.burstWrite = values['burst-write'] ?? 'frames';
  if (!['frames', 'one'].includes(o.burstWrite)) throw new Error('--burst-write: frames or one');
  if (values['burst-write'] !== undefined && Number.isNaN(o.burst)) throw new Error('--burst-write goes with --burst');
  if (/[\r\n]/.test(o.userAgent)) throw new Error('--user-agent: one line');
  o.quiet = Boolean(values.quiet);
  return o;
}
