#!/usr/bin/env node
/**
 * `npm run bench:lag`: issue 9's load scenario. 10% of the subscribers read
 * at 10% of the event rate; each laggard policy (drop, skip, conflate) gets
 * a fresh fanwire server on which every subscriber asks for it. Reports the
 * healthy subscribers' p99 against the same server's run without slow
 * readers, the slow subscribers' staleness (age of the newest event they
 * hold), what the policy did, and the server's RSS. Writes
 * load/results/lag-<time>.json. See load/README.md.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanupOnExit } from './lib/children.mjs';
import { checkLimits } from './lib/limits.mjs';
import { machine } from './lib/report.mjs';
import { writeRecord } from './lib/results.mjs';
import { lagScenario } from './lib/scenario-lag.mjs';
import { inspectFanwire, serverSpec } from './lib/servers.mjs';
import { hasPython } from './lib/subscriber-group.mjs';
import { ms, num, ratio, textTable } from './lib/table.mjs';

const POLICIES = { drop: 'lag=drop', skip: 'lag=skip', 'skip-tail': 'lag=skip&skip_to=tail', conflate: 'lag=conflate' };
const DEFAULTS = {
  subscribers: 10_000,
  slow: 0.1,
  speed: 0.1,
  rate: 50,
  payload: 1000,
  duration: 10,
  warmup: 10,
  'slow-warmup': 30,
  drain: 3,
  procs: 2,
  tick: 5,
};
const SERVER_ARGS = ['--buffer-size', '1000', '--high-water-bytes', '16KiB', '--drop-after-bytes', '64KiB'];
/** --capped-kernel: socket buffers a server can see past, set in a network namespace of the run's own. */
const CAPPED = { 'net.ipv4.tcp_wmem': '4096 16384 65536', 'net.ipv4.tcp_notsent_lowat': '16384' };

function usage() {
  return `Usage: npm run bench:lag -- [options]        (node load/bench-lag.mjs [options]; npm run bench:lag builds first)

Issue 9's scenario: a share of the subscribers read slowly. For each laggard
policy, two fanwire servers (flags: ${SERVER_ARGS.join(' ')}): one with the
healthy subscribers only (the no-slow run), one with the slow readers too,
throttled from the start. One topic, events without a key.

  --policies LIST   a subset of ${Object.keys(POLICIES).join(',')} (default: all)
  --transport T     uws or ws (default uws)
  --subscribers N   subscribers, slow ones included (default ${DEFAULTS.subscribers})
  --slow F          share of them that read slowly (default ${DEFAULTS.slow})
  --speed F         how fast they read, as a share of the stream's bytes/s (default ${DEFAULTS.speed})
  --rate N          events per second (default ${DEFAULTS.rate})
  --payload N       payload bytes (default ${DEFAULTS.payload})
  --duration S      measured seconds per run (default ${DEFAULTS.duration}), after --warmup S (default ${DEFAULTS.warmup})
  --slow-warmup S   warm-up of the run with slow readers (default ${DEFAULTS['slow-warmup']}): their sockets take
                    tens of seconds to reach a steady state (see load/README.md)
  --procs N         healthy subscriber processes (default ${DEFAULTS.procs})
  --server-args=".." more fanwire flags (after the ones above)
  --json FILE       where the record goes (default load/results/lag-<time>.json)
  --capped-kernel   run everything in a new network namespace (needs root: unshare -n) whose TCP
                    send buffers are capped (${Object.entries(CAPPED).map(([k, v]) => `${k}=${v}`).join(', ')}),
                    so unsent bytes wait where the gateway can see them; the host is untouched`;
}

function parse(argv) {
  const options = { policies: { type: 'string' }, transport: { type: 'string' }, 'server-args': { type: 'string' }, 'capped-kernel': { type: 'boolean' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } };
  for (const k of Object.keys(DEFAULTS)) options[k] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options });
  if (values.help) return { help: true };
  const s = { ...DEFAULTS };
  for (const k of Object.keys(DEFAULTS)) {
    if (values[k] === undefined) continue;
    const n = Number(values[k]);
    if (!(n > 0)) throw new Error(`--${k}: a number > 0`);
    s[k] = n;
  }
  const policies = (values.policies ?? Object.keys(POLICIES).join(',')).split(',').map((p) => p.trim());
  for (const p of policies) if (!POLICIES[p]) throw new Error(`--policies: unknown "${p}" (known: ${Object.keys(POLICIES).join(', ')})`);
  const transport = values.transport ?? 'uws';
  if (transport !== 'uws' && transport !== 'ws') throw new Error('--transport: uws or ws');
  return { json: values.json ?? null, capped: Boolean(values['capped-kernel']), s: { ...s, slowFraction: s.slow, slowSpeed: s.speed, slowWarmup: s['slow-warmup'], smallSockets: { rcvbuf: 4096, mss: 536 } }, policies, transport, extra: (values['server-args'] ?? '').split(/\s+/).filter(Boolean) };
}

/** Runs this script again inside `unshare -n` with the capped buffers; resolves with its exit code. */
function inCappedNamespace() {
  const sysctls = Object.entries(CAPPED).map(([k, v]) => `sysctl -qw ${k}='${v}'`).join(' && ');
  const self = [process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('unshare', ['-n', 'sh', '-c', `ip link set lo up && ${sysctls} && exec ${self}`], { stdio: 'inherit', env: { ...process.env, BENCH_LAG_NETNS: '1' } });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

async function main() {
  const o = parse(process.argv.slice(2));
  if (o.help) return void console.log(usage());
  if (o.capped && process.env.BENCH_LAG_NETNS !== '1') {
    process.exitCode = await inCappedNamespace();
    return;
  }
  cleanupOnExit();
  const { s } = o;
  checkLimits(s.subscribers, s.procs);
  const t0 = performance.now();
  const say = (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${String(Math.round((performance.now() - t0) / 1000)).padStart(3)}s ${line}`);
  const fanwire = inspectFanwire();
  if (!fanwire.ok) throw new Error(fanwire.why);
  if (fanwire.stale) say('note: src/ has files newer than dist/cli.js; `npm run bench:lag` builds first, `node load/bench-lag.mjs` does not');
  if (!hasPython()) say('!! python3 is missing: slow readers get ordinary sockets');
  const spec = serverSpec(`fanwire-${o.transport}`, fanwire, [...SERVER_ARGS, ...o.extra]);
  if (spec.skip) throw new Error(spec.skip);
  const createdAt = new Date().toISOString();
  const results = [];
  for (const name of o.policies) {
    results.push(await lagScenario(spec, { name, query: POLICIES[name] }, s, (line) => say(`[${name}] ${line}`)));
  }
  const kernel = o.capped ? CAPPED : 'host defaults';
  const record = { benchmark: 'lag', createdAt, kernel, wallSeconds: (performance.now() - t0) / 1000, machine: machine(), settings: s, serverArgs: [...SERVER_ARGS, ...o.extra], transport: o.transport, results };
  const file = writeRecord('lag', createdAt, record, o.json);

  const rows = results.map((r) => {
    const b = r.baseline;
    const w = r.slow;
    const lag = w?.laggardLag;
    const policySaid = lag ? [lag.conflatedMessages && `${num(lag.conflatedMessages)} conflated`, lag.gapMessages && `${num(lag.gapMessages)} gaps`, lag.redials && `${num(lag.redials)} x 4001`].filter(Boolean).join(', ') || 'none' : '-';
    const fails = [r.error, b?.error, w?.error, ...(b?.failures ?? []), ...(w?.failures ?? [])].filter(Boolean);
    return [
      r.policy,
      num(w?.subscribers),
      ms(b?.latency?.p99Ms),
      ms(w?.latency?.p99Ms),
      ratio(w?.latency?.p99Ms / b?.latency?.p99Ms),
      ms(w?.laggardStaleness?.p50Ms),
      ms(w?.laggardStaleness?.p99Ms),
      w ? num(w.laggardWindowReceived / w.windowS / Math.max(1, w.laggards), 1) : '-',
      policySaid,
      `${b ? num(b.rssKb.max / 1024) : '-'} / ${w ? num(w.rssKb.max / 1024) : '-'}`,
      [...new Set(fails)].join('; ') || 'ok',
    ];
  });
  console.log(`\nLaggard policies: ${num(s.subscribers)} subscribers, ${Math.round(s.slowFraction * 100)}% reading at ${Math.round(s.slowSpeed * 100)}% of the stream (${num(results[0]?.slowBytesPerSec)} B/s), ${s.rate} events/s of ${s.payload} B, ${s.duration} s measured, fanwire-${o.transport}${o.capped ? ', capped kernel send buffers' : ''}\n`);
  console.log(
    textTable(
      ['policy', 'healthy', 'p99 no-slow ms', 'p99 slow ms', 'ratio', 'stale p50 ms', 'stale p99 ms', 'slow events/s', 'policy did (slow run)', 'RSS max MiB no-slow / slow', 'failures'],
      rows,
    ),
  );
  console.log(`\nstale: age of the newest event a slow subscriber holds, sampled every 100 ms in the window. Record: ${file}`);
  if (results.some((r) => r.error || r.baseline?.failures?.length || r.slow?.failures?.length)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`bench-lag: ${err.message}`);
  process.exitCode = 1;
});
