/**
 * docs/benchmarks.md: the page the README's performance figures come from,
 * rendered from one `npm run bench` record. Run records stay out of the
 * repository (load/results/ is ignored); this page is what a reader gets of
 * a run: the machine and software, the command, and one small markdown table
 * per scenario the run measured, with fanwire's ratios to the peers that ran
 * in it, then the targets it checked.
 *
 * Pure apart from `writeBenchmarksDoc`: `renderBenchmarks` reads only the
 * record (the object bench.mjs writes as JSON), so a recorded run renders the
 * same page anywhere (test/load/benchmarks-doc.test.ts renders a trimmed
 * record). Every field is read defensively: records from before a field was
 * added still render, saying what they lack. Measurement notes written by
 * hand live in docs/benchmark-notes.md, which no run touches.
 */
import path from 'node:path';
import { DEFAULT_SERVERS, ORDER, SCENARIOS, TARGETS_PRESET } from './bench-plan.mjs';
import { writeAtomic } from './results.mjs';
import { NATIVE_SERVERS, ROOT } from './servers.mjs';
import { behindWhy } from './sustained.mjs';
import { ms, num, ratio } from './table.mjs';

export const BENCHMARKS_DOC = path.join(ROOT, 'docs', 'benchmarks.md');

const LABELS = {
  'fanwire-uws': 'fanwire on its uWebSockets.js transport (`--transport uws`)',
  'fanwire-ws': 'fanwire on its ws transport (the default)',
  'fanwire-uws-batch': 'fanwire-uws with every subscriber on the opt-in `batch=1`',
  'fanwire-ws-batch': 'fanwire-ws with every subscriber on the opt-in `batch=1`',
  'uws-publish': 'plain uWebSockets.js, its native `app.publish`',
  'ws-loop': 'plain ws, a loop calling `send` for each client',
  socketio: 'Socket.IO 4, one `io.emit` broadcast per event',
  'nats-ws': 'nats-server with a `websocket` listener; subscribers speak the NATS text protocol (`MSG` records)',
  nchan: 'nginx + Nchan, WebSocket publisher and subscribers on one channel, `worker_processes 1`',
  'nchan-auto': 'nginx + Nchan as `nchan`, `worker_processes auto`',
};
const FANWIRE = ['fanwire-uws', 'fanwire-ws', 'fanwire-uws-batch', 'fanwire-ws-batch'];
const PEERS = ['uws-publish', 'ws-loop', 'socketio', 'nats-ws', 'nchan', 'nchan-auto'];

const cell = (v) => String(v ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** A markdown table; `right` lists the columns holding figures. */
function mdTable(head, rows, right = []) {
  const align = head.map((_, i) => (right.includes(i) ? '---:' : '---'));
  return [head, align, ...rows].map((r, i) => `| ${(i === 1 ? r : r.map(cell)).join(' | ')} |`).join('\n');
}
const same = (a, b) => Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
const inOrder = (rows) => [...rows].sort((a, b) => rank(a.server) - rank(b.server));
const rank = (name) => (ORDER.indexOf(name) === -1 ? ORDER.length : ORDER.indexOf(name));
const usable = (rows) => Object.fromEntries((rows ?? []).filter((r) => r && !r.error).map((r) => [r.server, r]));
const runs = (r) => (r.runs > 1 ? `best of ${r.runs}` : '1');
const anomalies = (r) => (r.gaps || r.reorders ? `**${num(r.gaps ?? 0)} / ${num(r.reorders ?? 0)}**` : '0 / 0');
const pct = (share) => (!Number.isFinite(share) ? '-' : share === 1 ? '100%' : `${num(100 * share, 1)}%`);
const mib = (kb) => (Number.isFinite(kb) ? num(kb / 1024) : '-');
const failed = (r, width) => [r.server, ...Array(width - 2).fill(''), `failed: ${String(r.error).slice(0, 80)}`];

/** "Ratios (...): fanwire-uws / uws-publish 1.58x, ..." for every fanwire server over every peer with a usable row, or null. */
function ratios(rows, get, better, label = 'Ratios') {
  const s = usable(rows);
  const parts = FANWIRE.filter((f) => s[f]).flatMap((f) => PEERS.filter((p) => s[p]).map((p) => `${f} / ${p} **${ratio(get(s[f]) / get(s[p]))}**`));
  return parts.length ? `${label} (${better} is better for fanwire): ${parts.join(', ')}.` : null;
}

/** The default servers of records made before nats-ws and the nchan peers joined them: still `npm run bench:suite`. */
const DEFAULT_SERVERS_BEFORE_NATIVE = DEFAULT_SERVERS.filter((n) => !NATIVE_SERVERS.includes(n));

/** The command that made the record: as typed when the record kept it, else rebuilt from what it ran. */
export function commandOf(rec) {
  if (Array.isArray(rec.argv)) return `npm run bench${rec.argv.length ? ` -- ${rec.argv.join(' ')}` : ''}`;
  const scenarios = rec.scenariosRun;
  if (!Array.isArray(scenarios) || !Array.isArray(rec.servers)) return null;
  if (rec.preset === 'targets' && same(scenarios, TARGETS_PRESET.scenarios) && same(rec.servers, TARGETS_PRESET.servers) && !rec.quick) return 'npm run bench';
  if (!rec.preset && same(scenarios, SCENARIOS) && (same(rec.servers, DEFAULT_SERVERS) || same(rec.servers, DEFAULT_SERVERS_BEFORE_NATIVE)) && !rec.quick) return 'npm run bench:suite';
  return `npm run bench -- --scenarios ${scenarios.join(',')} --servers ${(rec.servers ?? []).join(',')}${rec.quick ? ' --quick' : ''}`;
}

function software(rec, fallback) {
  const v = rec.versions ?? fallback;
  const node = v?.node ?? rec.machine?.node ?? 'unknown';
  const libs = v ? [['fanwire', v.fanwire], ['ws', v.ws], ['uWebSockets.js', v['uWebSockets.js']], ['socket.io', v['socket.io']]].filter(([, x]) => x) : [];
  const list = [`Node ${node}`, ...libs.map(([n, x]) => `${n} ${x}`)].join(', ');
  if (rec.versions) return list;
  return fallback ? `${list} (libraries as installed when this page was rendered: the record does not name them)` : `${list} (the record does not name the libraries' versions)`;
}

function header(rec, o) {
  const m = rec.machine ?? {};
  const other = [rec.scenarios?.scale, rec.scenarios?.burst, rec.scenarios?.burstOneWrite, rec.scenarios?.sustained, rec.scenarios?.features].flat().map((r) => r?.cpuPercent?.otherProcesses).filter(Number.isFinite);
  const when = rec.createdAt ? `${rec.createdAt.slice(0, 10)} ${rec.createdAt.slice(11, 16)} UTC` : 'unknown';
  const servers = inOrder((rec.servers ?? []).map((server) => ({ server })));
  return [
    '# Benchmarks',
    '',
    `<!-- Generated by \`npm run bench\` (load/lib/benchmarks-doc.mjs) from ${o.recordFile ? `load/results/${path.basename(o.recordFile)}` : 'its record'}. The next run rewrites this page: change the renderer, not the page. Notes written by hand: docs/benchmark-notes.md. -->`,
    '',
    'fanwire against the servers people would otherwise run, all driven by the same lean load client in one run. [load/README.md](../load/README.md) explains every scenario and column.',
    '',
    ...(rec.quick ? ['**A `--quick` run: a tenth of the subscribers, shorter waits. It checks that everything runs; it measures nothing.**', ''] : []),
    `- **Machine**: ${m.cpus ?? '?'} x ${m.cpuModel ?? 'unknown CPU'}, ${m.memGiB ?? '?'} GiB, ${m.platform ?? 'unknown OS'}. Server, load client and publisher share these cores, so every server runs at the machine's ceiling and latency is mostly queueing. Compare servers by their ratios within this run, not with figures from another machine or run.`,
    `- **Software**: ${software(rec, o.versions)}.`,
    commandOf(rec) ? `- **Command**: \`${commandOf(rec)}\` (scenarios ${rec.scenariosRun.join(', ')}).` : '- **Command**: not in the record.',
    `- **When**: ${when}${Number.isFinite(rec.wallSeconds) ? `, ${(rec.wallSeconds / 60).toFixed(1)} minutes` : ''}. Other processes used ${Number.isFinite(m.otherCpuPercentAtStart) ? `${num(m.otherCpuPercentAtStart)}%` : '?'} of a core at the start${other.length ? ` and at most ${num(Math.max(...other))}% in a measured window` : ''}.`,
    ...(servers.length ? ['- **Servers**:', ...servers.map(({ server }) => `  - \`${server}\`: ${LABELS[server] ?? server}`)] : []),
  ];
}

function section(title, intro, table, ...lines) {
  return ['', `## ${title}`, '', intro, '', table, ...lines.filter(Boolean).flatMap((l) => ['', l])];
}

/** How a burst reached the server (run.mjs `burstWrite`); records from before issue 23 hold the first only. */
const ARRIVES = { frames: 'a send per frame', one: 'one write' };

/** The burst under both arrival patterns: `rows` one send per frame, `oneWrite` the same burst in one TCP write. */
function burst(rows, p, oneWrite = []) {
  const b = p.burst ?? {};
  const head = ['server', 'burst arrives', 'runs', 'deliveries/s', 'delivered', 'p99 ms', 'gaps / reorders'];
  const rowOf = (how) => (r) => (r.error ? [r.server, how, ...Array(head.length - 3).fill(''), `failed: ${String(r.error).slice(0, 80)}`] : [r.server, how, runs(r), num(r.deliveriesPerSec), pct(r.burstDelivered), ms(r.latency?.p99Ms), anomalies(r)]);
  const body = [...inOrder(rows).map(rowOf(ARRIVES.frames)), ...inOrder(oneWrite).map(rowOf(ARRIVES.one))];
  return section(
    `Peak throughput: a burst of ${num(b.events)} events`,
    `${num(b.subscribers)} subscribers; after a warm-up burst of ${num(b.warmupEvents)}, ${num(b.events)} events of ${num(p.payload)} B (${num(b.events * b.subscribers)} deliveries) all stamped with the burst's start. deliveries/s: from the start to the last delivery, at most ${num(b.cap)} s; p99 is close to the time the whole burst took. "burst arrives": ${ARRIVES.frames}, the producer sends each event as its own WebSocket message (events sent one by one)${oneWrite.length ? `; ${ARRIVES.one}, every frame of the burst in one TCP write (a producer flushing a backlog: the server reads many frames at once). Both patterns ran in one interleaved sequence` : ''}.`,
    mdTable(head, body, [3, 4, 5]),
    ratios(rows, (r) => r.deliveriesPerSec, 'higher', oneWrite.length ? `Ratios, ${ARRIVES.frames}` : 'Ratios'),
    oneWrite.length ? ratios(oneWrite, (r) => r.deliveriesPerSec, 'higher', `Ratios, ${ARRIVES.one}`) : null,
  );
}

function sustained(rows, p) {
  const s = p.sustained ?? {};
  const head = ['server', 'runs', 'deliveries/s', '% offered', 'p50 ms', 'p99 ms', 'kept up'];
  const body = inOrder(rows).map((r) => (r.error ? failed(r, head.length) : [r.server, runs(r), num(r.deliveriesPerSec), pct(r.deliveriesPerSec / r.offeredPerSec), ms(r.latency?.p50Ms), ms(r.latency?.p99Ms), behindWhy(r) ?? 'yes']));
  return section(
    `Sustained: ${num(s.rate * s.subscribers)} deliveries/s`,
    `${num(s.rate)} events/s of ${num(p.payload)} B to ${num(s.subscribers)} subscribers, ${num(s.warmup)} s warm-up, ${num(s.duration)} s measured; latency from each event's scheduled send time.`,
    mdTable(head, body, [2, 3, 4, 5]),
    // Only runs that kept up: a p99 that grows with the run's length is no figure to compare.
    ratios(rows.filter((r) => !r.error && !behindWhy(r)), (r) => r.latency?.p99Ms, 'lower', 'p99 ratios'),
  );
}

function scale(rows, p) {
  const sc = p.scale ?? {};
  const steps = [...new Set(rows.map((r) => r.subscribers))];
  const servers = inOrder([...new Set(rows.map((r) => r.server))].map((server) => ({ server }))).map((r) => r.server);
  const at = (n, server) => rows.find((r) => r.subscribers === n && r.server === server);
  const show = (r) => (!r ? '' : r.error ? 'failed' : `${num(r.deliveriesPerSec)}/s, p99 ${ms(r.latency?.p99Ms)} ms${r.behindAtEnd > 0 ? `, ${num(r.behindAtEnd)} owed` : ''}`);
  const first = rows.filter((r) => r.subscribers === steps[0]);
  return section(
    `Fan-out scale: ${num(sc.deliveriesPerSec)} deliveries/s offered`,
    `${num(p.payload)} B events at ${num(sc.deliveriesPerSec)} / subscribers per second, ${num(sc.warmup)} s warm-up, ${num(sc.duration)} s measured at each step; "owed": deliveries still due when the step ended (the server could not keep up).`,
    mdTable(['subscribers', ...servers], steps.map((n) => [num(n), ...servers.map((s) => show(at(n, s)))]), servers.map((_, i) => i + 1)),
    ratios(first, (r) => r.deliveriesPerSec, 'higher', `At ${num(steps[0])} subscribers, deliveries/s ratios`),
    ratios(first, (r) => r.latency?.p99Ms, 'lower', `p99 ratios`),
  );
}

function stall(rows, p) {
  const s = p.stall ?? {};
  const head = ['server', 'unstalled p99 ms', 'stalled p99 ms', 'stalled / unstalled', 'laggards closed 4001', 'RSS MiB, unstalled / stalled max', 'gaps / reorders'];
  const body = inOrder(rows).map((x) => {
    const b = x.baseline;
    const st = x.stalled;
    if (x.error || !b || b.error) return [x.server, '', '', '', '', '', `failed: ${String(x.error ?? b?.error ?? '').slice(0, 80)}`];
    if (!st || st.error) return [x.server, ms(b.latency?.p99Ms), '', '', x.skipped ?? `failed: ${String(st?.error ?? '').slice(0, 80)}`, mib(b.rssKb?.end), anomalies(b)];
    const d = st.serverStats?.totals?.dropped;
    const closed = d ? `${num(d.lagged + d.backpressure)} of ${num(x.laggards)}` : `${num(st.laggardCloses?.['4001'] ?? 0)} seen by the laggards`;
    return [x.server, ms(b.latency?.p99Ms), ms(st.latency?.p99Ms), ratio(st.latency?.p99Ms / b.latency?.p99Ms), closed, `${mib(b.rssKb?.end)} / ${mib(st.rssKb?.max)}`, anomalies(st)];
  });
  return section(
    `Slow consumers: ${num(100 * s.laggardFraction)}% stop reading`,
    `${num(s.subscribers)} subscribers, of which ${num(s.laggardFraction * s.subscribers)} (small kernel buffers) stop reading for ${num(s.stalled)} s; ${num(s.rate)} events/s of ${num(s.payload)} B (${num(s.rate * s.subscribers)} deliveries/s offered). p99 is the healthy subscribers'. fanwire runs with \`${(s.fanwireArgs ?? []).join(' ')}\` so it drops its laggards within the run; the peers run as they are.`,
    mdTable(head, body, [1, 2, 3]),
  );
}

function storm(rows, p) {
  const s = p.storm ?? {};
  const head = ['server', 'subscribers', 'all back after s', 'attempts retried', 'gave up', 'owed after drain', 'gaps / reorders', 'hello with gap'];
  const body = inOrder(rows).map((r) => (r.error ? failed(r, head.length) : [r.server, num(r.subscribers), r.allLiveSeconds === null ? `not within ${num(s.cap)}` : r.allLiveSeconds?.toFixed(2), num(r.resumeRetries), num(r.resumeFailures), num(r.missedDeliveries), anomalies(r), num(r.helloGaps)]));
  return section(
    'Resume storm',
    `${num(s.subscribers)} subscribers drop their sockets at once and reconnect with \`index=<last + 1>&epoch=...\` while ${num(s.rate)} events/s are published; a failed attempt is retried after 0.25-1 s, for up to ${num(s.cap)} s. "owed after drain": events the resumed subscribers had not received ${num(s.drain)} s after publishing stopped. fanwire only: the peers have no index to resume from.`,
    mdTable(head, body, [1, 2, 3, 4, 5, 7]),
  );
}

function lowrate(rows, p) {
  const l = p.lowrate ?? {};
  const head = ['server', 'runs', 'deliveries/s', 'p50 ms', 'p99 ms', 'gaps / reorders'];
  const body = inOrder(rows).map((r) => (r.error ? failed(r, head.length) : [r.server, runs(r), num(r.deliveriesPerSec), ms(r.latency?.p50Ms), ms(r.latency?.p99Ms), anomalies(r)]));
  return section(
    `Low rate: ${num(l.rate * l.subscribers)} deliveries/s`,
    `${num(l.rate)} events/s of ${num(p.payload)} B to ${num(l.subscribers)} subscribers, ${num(l.warmup)} s warm-up, ${num(l.duration)} s measured: at this rate every server delivers everything, so latency is the figure.`,
    mdTable(head, body, [2, 3, 4]),
    ratios(rows, (r) => r.latency?.p99Ms, 'lower', 'p99 ratios'),
  );
}

function features(rows, p) {
  const f = p.features ?? {};
  const head = ['server', 'runs', 'deliveries/s', 'delivered', 'p99 ms', 'gaps / reorders'];
  const ordered = [...rows].sort((a, b) => rank(a.transport) - rank(b.transport));
  const body = ordered.map((r) => (r.error ? failed(r, head.length) : [r.server, runs(r), num(r.deliveriesPerSec), pct(r.burstDelivered), ms(r.latency?.p99Ms), anomalies(r)]));
  const by = Object.fromEntries(rows.filter((r) => !r.error).map((r) => [`${r.transport} ${r.variant}`, r]));
  const lines = [...new Set(ordered.map((r) => r.transport))].map((t) => {
    const on = by[`${t} metrics-on`];
    const off = by[`${t} metrics-off`];
    const fl = by[`${t} filtered`];
    const parts = [on && off && `metrics on / off **${ratio(on.deliveriesPerSec / off.deliveriesPerSec)}**`, on && fl && `${num(f.keys)} filters / unfiltered **${ratio(fl.deliveriesPerSec / on.deliveriesPerSec)}**`].filter(Boolean);
    return parts.length ? `- ${t}: ${parts.join(', ')}` : null;
  });
  return section(
    'Features on: metrics and topic:key filters',
    `fanwire alone, per transport: the burst above with metrics on (as started by default) and with \`--metrics off\`, then the same ${num(f.subscribers)} subscribers spread over ${num(f.keys)} \`topic:key\` filters with ${num(f.keys)} times the events (as many deliveries); every side with \`${(f.fanwireArgs ?? []).join(' ')}\`.`,
    mdTable(head, body, [2, 3, 4]),
    lines.filter(Boolean).join('\n'),
  );
}

function publish(rows, p) {
  const head = ['server', 'events per frame', 'events/s acked', 'frames/s', 'ack p50 ms', 'ack p99 ms', 'errors'];
  const body = inOrder(rows).map((r) => (r.error ? failed(r, head.length) : [r.server, num(r.batch), num(r.eventsPerSec), num(r.framesPerSec), ms(r.ackLatency?.p50Ms), ms(r.ackLatency?.p99Ms), num(r.errors)]));
  return section(
    'Publish path',
    `One producer on a raw socket, ${num(p.publish?.window)} frames in flight, a new one per ack, no subscribers; single events, then batches (one frame, one index, one ack). fanwire only: the peers do not acknowledge.`,
    mdTable(head, body, [1, 2, 3, 4, 5, 6]),
  );
}

function idle(rows) {
  const head = ['server', 'subscribers', 'RSS before / idle MiB', 'KB per subscriber'];
  const body = inOrder(rows).map((r) => [r.server, num(r.subscribers), `${mib(r.beforeKb)} / ${mib(r.idleKb)}`, num(r.perSubscriberKb, 2)]);
  return section('Idle memory', 'Server RSS with every subscriber connected and idle for 1 s, minus RSS before the first connected, per subscriber.', mdTable(head, body, [1, 2, 3]), ratios(rows, (r) => r.perSubscriberKb, 'lower'));
}

function cluster(c, p) {
  const name = { single: 'single node (embedded)', 'cluster-1': 'one cluster node', 'cluster-2': 'two cluster nodes' };
  const head = ['setup', 'subscribers', 'deliveries/s', 'p50 ms', 'p99 ms', 'gaps / reorders'];
  const table = (rows) => mdTable(head, rows.map((r) => (r.error ? [name[r.server] ?? r.server, '', '', '', '', `failed: ${String(r.error).slice(0, 80)}`] : [name[r.server] ?? r.server, num(r.subscribers), num(r.deliveriesPerSec), ms(r.latency?.p50Ms), ms(r.latency?.p99Ms), anomalies(r)])), [1, 2, 3, 4]);
  return [
    ...section('Cluster mode', `${c.server ?? 'fanwire'} as one embedded node, one cluster node and two cluster nodes on a local ${c.nats?.version ?? 'nats-server'} (every node, nats-server and the load client share the machine). At ${num(p.cluster?.deliveriesPerSec)} deliveries/s offered to ${num(p.cluster?.subscribers)} subscribers:`, table(c.throughput ?? [])),
    '',
    `Light load, ${num(p.cluster?.latency?.rate)} events/s to ${num(p.cluster?.latency?.subscribers)} subscribers (the path's own latency, publish to delivery):`,
    '',
    table(c.latency ?? []),
  ];
}

function targetRows(rec) {
  const out = [];
  const t11 = rec.targetsIssue11 ?? [];
  const shown = t11.filter((t) => t.status !== 'not measured');
  if (shown.length) {
    out.push(
      ...section(
        'Targets',
        "The performance targets fanwire is held to, as this run measured them (fanwire's figure over the peer's, or its own figure). A fanwire run that lost or reordered an event misses its target whatever its figure.",
        mdTable(['#', 'target', 'measured', 'figure', 'result'], shown.map((t) => [t.id, t.target, [t.measured, t.note].filter(Boolean).join('; '), t.figure, t.status === 'met' ? 'met' : '**missed**'])),
        t11.length > shown.length ? `${t11.length - shown.length} more not measured in this run (their scenarios or servers did not run).` : null,
      ),
    );
  }
  // The suite's own targets, where the run was not the targets preset (as bench.mjs prints them).
  const suite = rec.preset === 'targets' ? [] : (rec.targets ?? []).filter((t) => t.ok !== null);
  if (suite.length) out.push(...section('Suite targets', 'The six-scenario suite\'s own targets, as this run measured them.', mdTable(['target', 'measured', 'result'], suite.map((t) => [t.target, t.measured, t.ok ? 'met' : '**missed**']))));
  return out;
}

/** bench.mjs's "<scenario> on <server>: <why>" lines, one per scenario and reason: "sustained on ws-loop, fanwire-uws-batch: ...". */
function notRun(skipped) {
  const groups = new Map();
  for (const line of skipped) {
    const m = /^(\S+) on ([\w-]+): (.*)$/.exec(line);
    const key = m ? `${m[1]}\0${m[3]}` : line;
    if (!groups.has(key)) groups.set(key, { m, servers: [] });
    if (m) groups.get(key).servers.push(m[2]);
  }
  return [...groups].map(([key, g]) => (g.m ? `${g.m[1]} on ${g.servers.join(', ')}: ${g.m[3]}` : key));
}

/**
 * The whole page for one bench record.
 * @param {object} rec the record bench.mjs writes (load/results/bench-<time>.json)
 * @param {{recordFile?: string, versions?: object}} [o] `recordFile`: the record's path, named on the page;
 *   `versions`: what to print when the record does not name the libraries' versions (marked as such)
 */
export function renderBenchmarks(rec, o = {}) {
  const sc = rec.scenarios ?? {};
  const p = rec.plan ?? {};
  const has = (k) => Array.isArray(sc[k]) && sc[k].length > 0;
  const lines = [
    ...header(rec, o),
    ...(has('burst') || has('burstOneWrite') ? burst(sc.burst ?? [], p, sc.burstOneWrite ?? []) : []),
    ...(has('sustained') ? sustained(sc.sustained, p) : []),
    ...(has('scale') ? scale(sc.scale, p) : []),
    ...(has('lowrate') ? lowrate(sc.lowrate, p) : []),
    ...(has('stall') ? stall(sc.stall, p) : []),
    ...(has('storm') ? storm(sc.storm, p) : []),
    ...(has('features') ? features(sc.features, p) : []),
    ...(has('publish') ? publish(sc.publish, p) : []),
    ...(has('idle') ? idle(sc.idle) : []),
    ...(sc.cluster?.throughput?.length || sc.cluster?.latency?.length ? cluster(sc.cluster, p) : []),
    ...targetRows(rec),
    ...((rec.skipped ?? []).length ? ['', '## Not run', '', ...notRun(rec.skipped).map((s) => `- ${cell(s)}`)] : []),
    '',
    '## More',
    '',
    '- [benchmark-notes.md](benchmark-notes.md): measurement notes, earlier runs and investigations, written by hand.',
    '- [load/README.md](../load/README.md): every scenario, server and column, and how the load client works.',
    '',
  ];
  return lines.join('\n');
}

/** Renders `rec` into docs/benchmarks.md (or `file`), atomically; returns the path. */
export function writeBenchmarksDoc(rec, o = {}, file = BENCHMARKS_DOC) {
  return writeAtomic(file, renderBenchmarks(rec, o));
}
