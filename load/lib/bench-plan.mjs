/**
 * What `npm run bench` runs: the six scenarios' parameters, the servers
 * each one makes sense for, the options, and the time budget.
 */
import { parseArgs } from 'node:util';
import { ALL_SERVERS, BATCH_SERVERS, NATIVE_SERVERS, SERVER_NAMES } from './servers.mjs';

export const SCENARIOS = ['scale', 'burst', 'stall', 'storm', 'publish', 'idle'];
/**
 * Run only when asked for (`--scenarios cluster,lowrate`): cluster needs
 * nats-server; lowrate, sustained and features (issue 11's targets 4, 2, 3
 * and 7) would take the default run past its 10 minutes.
 */
export const OPTIONAL_SCENARIOS = ['cluster', 'lowrate', 'sustained', 'features'];
export const FANWIRE = ['fanwire-uws', 'fanwire-ws'];
/**
 * `--scenarios targets`: every scenario issue 11's targets table reads, so
 * one run prints every row measured; on the servers those rows compare
 * (ws-loop only for lowrate), with its own time budget.
 */
export const TARGETS_PRESET = {
  scenarios: ['idle', 'burst', 'sustained', 'lowrate', 'publish', 'features'],
  /** fanwire-uws-batch: the uws transport with subscribers on the opt-in batch=1 extension, in the burst group and features. */
  servers: ['fanwire-uws', 'uws-publish', 'fanwire-ws', 'ws-loop', 'fanwire-uws-batch'],
  budgetSeconds: 720,
  /** Each interleaved block twice (A B C C B A A B C C B A): best of 4 runs per server instead of 2. */
  passes: 2,
};
/** Issue 11's burst and sustained targets compare these three: one interleaved group unless the scale scenario runs. */
export const TRIO = ['fanwire-uws', 'uws-publish', 'fanwire-ws'];

/** Run order of the servers; the stall scenario runs it backwards (A B C D E, then E D C B A). */
export const ORDER = ['fanwire-uws', 'uws-publish', 'fanwire-ws', 'ws-loop', 'socketio', ...NATIVE_SERVERS, ...BATCH_SERVERS];
/**
 * `npm run bench` without --servers: the batch=1 variants run only when named (or with the targets preset).
 * nats-ws, nchan and nchan-auto are in it, each skipped with the reason when its binary is not installed.
 */
export const DEFAULT_SERVERS = [...SERVER_NAMES, 'socketio', ...NATIVE_SERVERS];
/**
 * Budget added per native peer in a run without the preset: its fan-out session (four scale steps, burst,
 * idle) and its stall run. 100 s each was the estimate from --quick runs; the first full suite run with all
 * three (2026-12-06 06:44, 12.8 min) reached the stall scenario's end at 765 s of its 780 and had to leave out
 * fanwire's publish and storm runs, so 140 (Nchan falls behind at 1M deliveries/s and is restarted between
 * scale steps; both burst arrival patterns run on every peer). Without it the stall scenario, which runs the
 * servers in reverse order, would run out of budget before reaching fanwire.
 */
export const NATIVE_BUDGET_SECONDS = 140;

/** The full plan; `--quick` divides subscriber counts by 10 and shortens the waits (a check that everything runs, not a measurement). */
export function plan(quick) {
  const k = quick ? 10 : 1;
  return {
    payload: 100,
    procs: 2,
    tick: 5,
    /** Times each interleaved block (A B C C B A) runs; the targets preset runs 2, for less noise in its best-of figures. */
    passes: 1,
    scale: { subscribers: [10_000, 19_000, 5_000, 1_000].map((n) => n / k), deliveriesPerSec: 1_000_000 / k, warmup: 1, duration: 3, drain: 2 },
    /**
     * `writes`: how the burst reaches the server, each measured in the same interleaved sequence (issue 23):
     * 'frames', one WebSocket send per frame (a producer sending events one by one; the rows issue 4's and
     * issue 11's burst targets read), and 'one', every frame of the burst in one TCP write (a producer flushing a backlog).
     */
    burst: { subscribers: 10_000 / k, events: 300, warmupEvents: 50, cap: quick ? 4 : 8, writes: ['frames', 'one'] },
    stall: {
      subscribers: 10_000 / k,
      laggardFraction: 0.1,
      payload: 1000,
      rate: 50,
      warmup: 2, // the first second at 1000 B grows the server's buffers: not steady state yet
      baseline: 5,
      stalled: quick ? 6 : 15,
      drain: 2,
      settle: 5,
      fanwireArgs: ['--buffer-size', '100', '--high-water-bytes', '16KiB', '--drop-after-bytes', '64KiB'],
      smallSockets: { rcvbuf: 4096, mss: 536 },
    },
    storm: { subscribers: 10_000 / k, rate: 20, warmup: 1, after: 1, cap: quick ? 10 : 30, drain: 5, concurrency: Infinity },
    /** `fanwireArgs` only where dist/cli.js knows the flag: the default publish rate limit would be what is measured. */
    publish: { batches: [1, 100], window: 128, warmup: 1, duration: 3, fanwireArgs: ['--max-publish-rate', '0'] },
    /** Cluster mode (issue 8): single node vs one and two cluster nodes on a local nats-server; then a light load for the path's own latency. */
    cluster: { subscribers: 2_000 / k, deliveriesPerSec: 1_000_000 / k, warmup: 1, duration: 3, drain: 3, latency: { subscribers: 100 / (quick ? 5 : 1), rate: 200 } },
    /** Issue 11's target 4: 5 events/s of 100 B to 10k subscribers (50,000 deliveries/s), fanwire on both transports vs the plain ws loop, A B C C B A. */
    lowrate: { subscribers: 10_000 / k, rate: 5, warmup: 2, duration: quick ? 3 : 10, drain: 2 },
    /**
     * Issue 11's targets 2 and 3 (sustained): 48 events/s of 100 B to 10k subscribers (480,000 deliveries/s),
     * a rate every one of `servers` keeps up with; runs in the fan-out sessions (no extra connect), lowest p99 of each.
     */
    sustained: { subscribers: 10_000 / k, rate: 48, warmup: 2, duration: quick ? 3 : 6, drain: 2, servers: TRIO },
    /**
     * Issue 11's target 7 (fanwire only, each transport): the burst above with metrics on and off, and with the subscribers
     * over `keys` topic:key filters (a burst of events x keys, as many deliveries); `filteredCap` s for the filtered burst
     * (slow until the fan-out stops walking every item for every cursor). `fanwireArgs` on every side, where dist/cli.js has them.
     */
    features: { subscribers: 10_000 / k, keys: 100, filteredCap: quick ? 10 : 30, fanwireArgs: ['--max-publish-rate', '0', '--buffer-size', '50000'] },
    /**
     * Stop starting new work past this many seconds (the whole bench, build included, must end within 10 minutes
     * without the native peers); `NATIVE_BUDGET_SECONDS` more for each native peer in the run.
     */
    budgetSeconds: 480,
  };
}

/** Which servers a scenario runs on, and why the others are skipped. */
export function serversFor(scenario) {
  if (scenario === 'storm') return { servers: FANWIRE, why: 'resume by index (index=last+1&epoch=...) exists only on fanwire; the peers have no event index' };
  if (scenario === 'publish') return { servers: FANWIRE, why: 'acked publishing (one ack per frame, batches of events) exists only on fanwire; the peers forward frames without replies' };
  if (scenario === 'lowrate') return { servers: ['fanwire-uws', 'fanwire-ws', 'ws-loop'], why: "issue 11's target 4 compares fanwire's p99 with the plain ws loop's only" };
  if (scenario === 'features') return { servers: [...FANWIRE, ...BATCH_SERVERS], why: "issue 11's target 7 compares fanwire with itself (metrics off, topic:key filters)" };
  if (scenario === 'sustained') return { servers: TRIO, why: "issue 11's targets 2 and 3 compare fanwire's sustained p99 with uws-publish's only" };
  return { servers: ORDER, why: '' };
}

/**
 * The fan-out sessions' groups (servers up side by side, runs interleaved):
 * with the scale scenario (its 19k step) fanwire-uws and uws-publish pair up
 * and the others run alone, as before issue 11; without it fanwire-uws,
 * uws-publish and fanwire-ws share one group, so issue 11's targets 1 and 3
 * compare runs of one A B C C B A sequence (the batch=1 variants, when
 * named, join that group). Sockets: each server holds its
 * own subscribers (10k; 19k at most, in the scale pair), each session's
 * subscribers are split over `procs` load processes (5k each; 9.5k at
 * 19k), so no process comes near the 19k per process of limits.mjs.
 * The targets preset runs the fan-out scenarios on the three and
 * fanwire-uws-batch only (its targets read no other server's burst or idle
 * figure).
 */
export function fanoutGroups(scenarios, servers, preset = null) {
  const groups = scenarios.includes('scale')
    ? [['fanwire-uws', 'uws-publish'], ['fanwire-ws'], ['ws-loop'], ['socketio'], ...NATIVE_SERVERS.map((n) => [n]), ...BATCH_SERVERS.map((n) => [n])]
    : preset === 'targets'
      ? [[...TRIO, ...BATCH_SERVERS]]
      : [[...TRIO, ...BATCH_SERVERS], ['ws-loop'], ['socketio'], ...NATIVE_SERVERS.map((n) => [n])];
  return groups.map((g) => g.filter((n) => servers.includes(n))).filter((g) => g.length);
}

export function benchUsage() {
  return `Usage: npm run bench -- [options]        (node load/bench.mjs [options]; npm run bench builds first)

Without --scenarios: the targets preset (below), every row of issue 11's
targets table measured in one run, ratios to the peers printed at the end.
Writes load/results/bench-<time>.json (and .svg with the scale scenario), and
renders that run's tables into docs/benchmarks.md.

  --scenarios LIST   the preset, or any of ${SCENARIOS.join(',')}
                     (scale, burst and idle share one session per server; without scale,
                     fanwire-uws, uws-publish and fanwire-ws share one, runs A B C C B A; the burst
                     reaches every server two ways, a send per frame and in one TCP write), or
                       suite      = ${SCENARIOS.join(',')} (issue 4's six scenarios, every server;
                                  about 7 minutes, plus about 1.5 per native peer installed;
                                  \`npm run bench:suite\`)
                     plus, only when named:
                       cluster    one vs two cluster nodes on a local nats-server (needs nats-server,
                                  skipped with a note without it)
                       lowrate    issue 11's target 4: 5 events/s to 10k subscribers, fanwire-uws,
                                  fanwire-ws and ws-loop interleaved, p99; about 2 minutes
                       sustained  issue 11's targets 2 and 3: 48 events/s to 10k subscribers (480k
                                  deliveries/s) on the fan-out sessions of fanwire-uws, uws-publish and
                                  fanwire-ws, p99 of the runs that kept up; about 1.5 minutes
                       features   issue 11's target 7, fanwire on each transport: the burst with metrics
                                  on and off, and over 100 topic:key filters; about 3 minutes
                     or the preset (the default)
                       targets    = ${TARGETS_PRESET.scenarios.join(',')} on ${TARGETS_PRESET.servers.join(', ')}
                                  (fanwire-uws, uws-publish, fanwire-ws and fanwire-uws-batch in one
                                  interleaved group, ws-loop only for lowrate): every row of issue 11's
                                  targets table measured in one run, each interleaved block twice (best of
                                  4 runs per server). About 9 minutes here; budget ${TARGETS_PRESET.budgetSeconds} s
  --servers LIST     a subset of the servers (${ALL_SERVERS.join(', ')});
                     the -batch ones only run when named or with the preset
  --quick            subscriber counts / 10, shorter waits: checks that everything runs, measures nothing
                     (and leaves docs/benchmarks.md as it is)
  --no-docs          leave docs/benchmarks.md as it is (e.g. for a run of a few scenarios)
  --budget S         stop starting new runs after S seconds (default 480, plus ${NATIVE_BUDGET_SECONDS} per native peer
                     in --servers (nats-ws, nchan, nchan-auto: 900 for suite); ${TARGETS_PRESET.budgetSeconds} with the targets preset)`;
}

export function parseBenchOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { scenarios: { type: 'string' }, servers: { type: 'string' }, quick: { type: 'boolean' }, budget: { type: 'string' }, 'no-docs': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return { help: true };
  const list = (v, known, what) => {
    if (!v) return [...known];
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    for (const i of items) if (!known.includes(i)) throw new Error(`--${what}: unknown "${i}" (known: ${known.join(', ')})`);
    return items;
  };
  // Nothing named: the targets preset (issue 11: `npm run bench` prints every target's ratio).
  const named = values.scenarios ? list(values.scenarios, [...SCENARIOS, ...OPTIONAL_SCENARIOS, 'targets', 'suite'], 'scenarios') : ['targets'];
  const preset = named.includes('targets') ? 'targets' : null;
  // Presets expand in place (and merge with anything else named).
  const scenarios = [...new Set(named.flatMap((n) => (n === 'targets' ? TARGETS_PRESET.scenarios : n === 'suite' ? SCENARIOS : [n])))];
  const servers = preset && !values.servers ? [...TARGETS_PRESET.servers] : values.servers ? list(values.servers, ALL_SERVERS, 'servers') : [...DEFAULT_SERVERS];
  // A quick run measures nothing, so it never replaces the page the README cites.
  const o = { scenarios, servers, quick: Boolean(values.quick), preset, docs: !values.quick && !values['no-docs'] };
  o.plan = plan(o.quick);
  o.plan.budgetSeconds += NATIVE_BUDGET_SECONDS * servers.filter((n) => NATIVE_SERVERS.includes(n)).length;
  if (preset) {
    o.plan.budgetSeconds = TARGETS_PRESET.budgetSeconds;
    o.plan.passes = TARGETS_PRESET.passes;
  }
  if (values.budget !== undefined) {
    const b = Number(values.budget);
    if (!(b > 0)) throw new Error('--budget: seconds > 0');
    o.plan.budgetSeconds = b;
  }
  return o;
}
