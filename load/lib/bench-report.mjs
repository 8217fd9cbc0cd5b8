/**
 * The tables `npm run bench` prints, one per scenario, with fanwire's ratios
 * to the peers, and the issue's targets checked against the numbers.
 */
import { ORDER } from './bench-plan.mjs';
import { KEPT_UP_SHARE, behindWhy } from './sustained.mjs';
import { closes, ms, num, ratio, textTable } from './table.mjs';

const PAIRS = [
  ['fanwire-uws', 'uws-publish'],
  ['fanwire-ws', 'uws-publish'],
  ['fanwire-ws', 'ws-loop'],
  ['fanwire-uws', 'socketio'],
  ['fanwire-ws', 'socketio'],
  ['fanwire-uws', 'nats-ws'],
  ['fanwire-uws', 'nchan'],
  ['fanwire-uws', 'nchan-auto'],
];
const short = { 'fanwire-uws': 'fw-uws', 'fanwire-ws': 'fw-ws', 'uws-publish': 'uws', 'ws-loop': 'ws-loop', socketio: 'sio', 'nats-ws': 'nats', nchan: 'nchan', 'nchan-auto': 'nchan-auto' };
const pairName = ([a, b]) => `${short[a]}/${short[b]}`;

const runs = (r) => (r.runs > 1 ? `best of ${r.runs}` : '1');
const anomalies = (r) => (r.gaps || r.reorders ? `FAILURE: ${r.gaps} gaps, ${r.reorders} reorders` : '0 / 0');
const cpu = (r) => `${num(r.cpuPercent?.server)} / ${num(r.cpuPercent?.otherProcesses)}`;
const byServer = (rows) => Object.fromEntries(rows.filter((r) => r && !r.error).map((r) => [r.server, r]));

/** Ratio lines a/b for the given metric over the pairs that both ran. */
function ratioLine(label, rows, get, better) {
  const s = byServer(rows);
  const parts = PAIRS.filter(([a, b]) => s[a] && s[b]).map((pair) => `${pairName(pair)} ${ratio(get(s[pair[0]]) / get(s[pair[1]]))}`);
  return parts.length ? `  ${label} (${better} is better for fanwire): ${parts.join('   ')}` : null;
}

export function scaleTable(scale, p) {
  const rows = [...scale].sort((a, b) => a.subscribers - b.subscribers || ORDER.indexOf(a.server) - ORDER.indexOf(b.server));
  const head = ['subs', 'server', 'runs', 'deliveries/s', '% offered', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'per-sub min/max', 'CPU server/other %', 'drops by close code', 'gaps/reorders', 'owed at end'];
  const body = rows.map((r) =>
    r.error
      ? [num(r.subscribers), r.server, runs(r), 'FAILED', '', '', '', '', '', '', '', '', '', r.error.slice(0, 60), '']
      : [num(r.subscribers), r.server, runs(r), num(r.deliveriesPerSec), num((100 * r.deliveriesPerSec) / r.offeredPerSec, 1), ms(r.latency.p50Ms), ms(r.latency.p90Ms), ms(r.latency.p99Ms), ms(r.latency.p999Ms), ms(r.latency.maxMs), `${num(r.perSubscriber.min)}/${num(r.perSubscriber.max)}`, cpu(r), closes(r.closes), anomalies(r), num(r.behindAtEnd)],
  );
  const lines = [`Scenario 1: fan-out scale at ${num(p.scale.deliveriesPerSec)} deliveries/s offered (${p.payload} B events, ${p.scale.warmup} s warm-up, ${p.scale.duration} s measured). "best of 2": two runs interleaved A B B A with the other server of the pair, the better one shown (all are in the JSON)`, '', textTable(head, body, [1, 12, 13]), ''];
  for (const n of [...new Set(rows.map((r) => r.subscribers))]) {
    const at = rows.filter((r) => r.subscribers === n);
    lines.push(`  ${num(n)} subscribers:`);
    lines.push(ratioLine('deliveries/s', at, (r) => r.deliveriesPerSec, 'higher'), ratioLine('p99', at, (r) => r.latency.p99Ms, 'lower'));
  }
  return lines.filter((l) => l !== null).join('\n');
}

/** How a burst reached the server (run.mjs `burstWrite`), as the tables name it. */
export const ARRIVES = { frames: 'a send per frame', one: 'one write' };

/**
 * Scenario 2 under both arrival patterns: `burst` sent one WebSocket send per frame, `oneWrite` the same burst in
 * one TCP write (issue 23); one row per server and pattern, a ratio line per pattern.
 */
export function burstTable(burst, p, oneWrite = []) {
  const head = ['server', 'burst arrives', 'runs', 'subs', 'deliveries/s', 'delivered', 'in s', 'p50 ms', 'p99 ms', 'max ms', 'CPU server/other %', 'drops by close code', 'gaps/reorders'];
  const rowOf = (r, how) =>
    r.error
      ? [r.server, how, runs(r), '', 'FAILED', '', '', '', '', '', '', '', r.error.slice(0, 60)]
      : [r.server, how, runs(r), num(r.subscribers), num(r.deliveriesPerSec), `${num((100 * (r.received - r.subscribers * p.burst.warmupEvents)) / (r.subscribers * p.burst.events), 1)}%`, r.windowS.toFixed(2), ms(r.latency.p50Ms), ms(r.latency.p99Ms), ms(r.latency.maxMs), cpu(r), closes(r.closes), anomalies(r)];
  const body = [...burst.map((r) => rowOf(r, ARRIVES.frames)), ...oneWrite.map((r) => rowOf(r, ARRIVES.one))];
  const perPattern = [
    [burst, ARRIVES.frames],
    [oneWrite, ARRIVES.one],
  ].filter(([rows]) => rows.length);
  return [
    `Scenario 2: peak throughput, a burst of ${p.burst.events} events of ${p.payload} B (after a warm-up burst of ${p.burst.warmupEvents}) to ${num(p.burst.subscribers)} subscribers; latency from the burst's start; a server gets at most ${p.burst.cap} s; "best of 2" as in scenario 1. "burst arrives": ${ARRIVES.frames} (one WebSocket send per frame, a producer sending events one by one) or ${ARRIVES.one} (every frame of the burst in one TCP write, a producer flushing a backlog), both in one interleaved sequence`,
    '',
    textTable(head, body, [0, 1, 11, 12]),
    ...perPattern.flatMap(([rows, how]) => [ratioLine(`deliveries/s, ${how}`, rows, (r) => r.deliveriesPerSec, 'higher'), ratioLine(`p99, ${how}`, rows, (r) => r.latency.p99Ms, 'lower')]),
  ]
    .filter((l) => l !== null)
    .join('\n');
}

/** Issue 11's targets 2 and 3 (sustained): p99 at 480k deliveries/s, fanwire on both transports vs native uWS publish. */
export function sustainedTable(sustained, p) {
  const x = p.sustained;
  const head = ['server', 'runs', 'subs', 'deliveries/s', '% offered', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'CPU server/other %', 'owed at end', 'kept up', 'gaps/reorders'];
  const body = sustained.map((r) =>
    r.error
      ? [r.server, runs(r), '', 'FAILED', '', '', '', '', '', '', '', '', r.error.slice(0, 60)]
      : [r.server, runs(r), num(r.subscribers), num(r.deliveriesPerSec), num((100 * r.deliveriesPerSec) / r.offeredPerSec, 1), ms(r.latency.p50Ms), ms(r.latency.p90Ms), ms(r.latency.p99Ms), ms(r.latency.maxMs), cpu(r), num(r.behindAtEnd), behindWhy(r) ? `NO: ${behindWhy(r)}` : 'yes', anomalies(r)],
  );
  const s = byServer(sustained);
  const vs = ['fanwire-uws', 'fanwire-ws'].filter((f) => s[f] && s['uws-publish']).map((f) => `${short[f]}/uws ${ratio(s[f].latency.p99Ms / s['uws-publish'].latency.p99Ms)}`);
  return [
    `Sustained (issue 11, targets 2 and 3): ${x.rate} events/s of ${p.payload} B to ${num(x.subscribers)} subscribers (${num(x.rate * x.subscribers)} deliveries/s), ${x.warmup} s warm-up, ${x.duration} s measured, ${x.drain} s to drain; on the fan-out sessions, runs interleaved A B C C B A, the lowest p99 of each among the runs that kept up shown (all are in the JSON). "kept up": nothing owed after the drain and >= ${KEPT_UP_SHARE * 100}% of the offered rate delivered; a p99 of a run that did not is not a sustained figure`,
    '',
    textTable(head, body, [0, 11, 12]),
    vs.length ? `  p99 (lower is better for fanwire, target <= 1.00x): ${vs.join('   ')}` : null,
  ]
    .filter((l) => l !== null)
    .join('\n');
}

/** Issue 11's target 7: each transport's burst with metrics on and off, and over topic:key filters. */
export function featuresTable(features, p) {
  const f = p.features;
  const b = p.burst;
  const pct = (x) => (Number.isFinite(x) ? `${num(100 * x, 1)}%` : '-');
  const head = ['server', 'runs', 'subs', 'burst events', 'deliveries/s', 'delivered', 'in s', 'p50 ms', 'p99 ms', 'CPU server/other %', 'drops by close code', 'gaps/reorders'];
  const body = features.map((r) =>
    r.error
      ? [r.server, runs(r), '', '', 'FAILED', '', '', '', '', '', '', r.error.slice(0, 60)]
      : [r.server, runs(r), num(r.subscribers), num(r.burst), num(r.deliveriesPerSec), pct(r.burstDelivered), r.windowS.toFixed(2), ms(r.latency.p50Ms), ms(r.latency.p99Ms), cpu(r), closes(r.closes), anomalies(r)],
  );
  const s = Object.fromEntries(features.filter((r) => !r.error).map((r) => [`${r.transport} ${r.variant}`, r]));
  const lines = ['fanwire-uws', 'fanwire-ws'].flatMap((t) => {
    const on = s[`${t} metrics-on`];
    const off = s[`${t} metrics-off`];
    const fl = s[`${t} filtered`];
    const parts = [on && off && `metrics on/off ${ratio(on.deliveriesPerSec / off.deliveriesPerSec)} (target >= 0.97x)`, on && fl && `${f.keys} filters/unfiltered ${ratio(fl.deliveriesPerSec / on.deliveriesPerSec)} (target >= 0.80x)`].filter(Boolean);
    return parts.length ? [`  ${t}: ${parts.join('   ')}`] : [];
  });
  return [
    `Features on (issue 11, target 7), fanwire only: per transport, the burst of scenario 2 (${b.events} events after ${b.warmupEvents}, ${num(f.subscribers)} subscribers, at most ${b.cap} s) with metrics on (as started by default) and with --metrics off, then the same subscribers over ${f.keys} topic:key filters (subscriber n: topic=t:k<n mod ${f.keys}>) and a burst of ${num(b.events * f.keys)} events after ${num(b.warmupEvents * f.keys)} (as many deliveries; at most ${f.filteredCap} s); every side with ${f.fanwireArgs.join(' ')}; runs interleaved A B C C B A, the best of each shown. "delivered": the share of the burst's deliveries that arrived in its time`,
    '',
    textTable(head, body, [0, 10, 11]),
    ...lines,
  ].join('\n');
}

/** Issue 11's target 4: p99 at a low rate, fanwire on both transports vs the plain ws loop. */
export function lowrateTable(lowrate, p) {
  const l = p.lowrate;
  const head = ['server', 'runs', 'subs', 'deliveries/s', '% offered', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'CPU server/other %', 'drops by close code', 'gaps/reorders'];
  const body = lowrate.map((r) =>
    r.error
      ? [r.server, runs(r), '', 'FAILED', '', '', '', '', '', '', '', r.error.slice(0, 60)]
      : [r.server, runs(r), num(r.subscribers), num(r.deliveriesPerSec), num((100 * r.deliveriesPerSec) / r.offeredPerSec, 1), ms(r.latency.p50Ms), ms(r.latency.p90Ms), ms(r.latency.p99Ms), ms(r.latency.maxMs), cpu(r), closes(r.closes), anomalies(r)],
  );
  const s = byServer(lowrate);
  const vs = ['fanwire-uws', 'fanwire-ws'].filter((f) => s[f] && s['ws-loop']).map((f) => `${short[f]}/ws-loop ${ratio(s[f].latency.p99Ms / s['ws-loop'].latency.p99Ms)}`);
  return [
    `Low rate (issue 11, target 4): ${l.rate} events/s of ${p.payload} B to ${num(l.subscribers)} subscribers (${num(l.rate * l.subscribers)} deliveries/s), ${l.warmup} s warm-up, ${l.duration} s measured; every server up side by side, runs interleaved A B C C B A, the lower p99 of each shown (all are in the JSON)`,
    '',
    textTable(head, body, [0, 10, 11]),
    vs.length ? `  p99 (lower is better for fanwire, target <= 1.00x): ${vs.join('   ')}` : null,
  ]
    .filter((x) => x !== null)
    .join('\n');
}

export function stallTable(stall, p) {
  const s = p.stall;
  const head = ['server', 'healthy', 'unstalled deliv/s', 'unstalled p99', 'stalled deliv/s', 'stalled p99', 'p99 ratio', 'RSS MiB unstalled', 'RSS MiB stalled start/max/end', 'laggard closes (client)', 'server dropped', 'gaps/reorders'];
  const mib = (kb) => (Number.isFinite(kb) ? (kb / 1024).toFixed(0) : '-');
  const body = stall.map((x) => {
    const b = x.baseline;
    const st = x.stalled;
    if (x.error || !b || b.error) return [x.server, num(x.subscribers), 'FAILED', '', '', '', '', '', '', '', '', (x.error ?? b?.error ?? '').slice(0, 60)];
    const dropped = st?.serverStats?.totals?.dropped;
    return [
      x.server,
      num(x.subscribers),
      num(b.deliveriesPerSec),
      ms(b.latency.p99Ms),
      st ? num(st.deliveriesPerSec) : 'skipped',
      st ? ms(st.latency.p99Ms) : '',
      st ? ratio(st.latency.p99Ms / b.latency.p99Ms) : '',
      mib(b.rssKb.end),
      st ? `${mib(st.rssKb.start)}/${mib(st.rssKb.max)}/${mib(st.rssKb.end)}` : '',
      st ? `${closes(st.laggardCloses)}; ${st.laggardsLiveAtEnd} open` : '',
      dropped ? num(dropped.lagged + dropped.backpressure) : st ? 'n/a' : '',
      st ? anomalies(st) : anomalies(b),
    ];
  });
  const notes = stall.filter((x) => x.skipped).map((x) => `  ${x.server}: ${x.skipped}`);
  return [
    `Scenario 3: slow-consumer isolation, ${num(s.subscribers)} subscribers of which ${Math.round(s.laggardFraction * 100)}% laggards (small kernel buffers) stop reading for ${s.stalled} s (unstalled run: ${s.baseline} s; each after ${s.warmup} s of warm-up); ${s.rate} events/s of ${s.payload} B (${num(s.rate * s.subscribers)} deliveries/s offered); p99 and deliveries are the healthy subscribers'; fanwire with ${s.fanwireArgs.join(' ')}`,
    '',
    textTable(head, body, [0, 9, 11]),
    ...notes,
  ].join('\n');
}

export function stormTable(storm, p) {
  const head = ['server', 'subscribers', 'all back after s', 'resumed', 'attempts retried', 'gave up', 'owed after drain', 'gaps/reorders', 'hello gap: true', 'published', 'why retried'];
  const body = storm.map((r) =>
    r.error
      ? [r.server, '', 'FAILED', '', '', '', '', r.error.slice(0, 60), '', '', '']
      : [r.server, num(r.subscribers), r.allLiveSeconds === null ? `not within ${p.storm.cap}` : r.allLiveSeconds.toFixed(2), num(r.resumed), num(r.resumeRetries), num(r.resumeFailures), num(r.missedDeliveries), anomalies(r), num(r.helloGaps), num(r.published), r.notes?.['resume retried']?.examples[0] ?? ''],
  );
  return [
    `Scenario 4: resume storm, ${num(p.storm.subscribers)} subscribers drop their sockets at once and reconnect with index=last+1&epoch=... while ${p.storm.rate} events/s of ${p.payload} B are published (${num(p.storm.rate * p.storm.subscribers)} deliveries/s); a failed attempt is retried after 0.25-1 s until ${p.storm.cap} s. "owed after drain": events the resumed subscribers had not received ${p.storm.drain} s after publishing stopped (late or lost; with 0 gaps none was skipped). fanwire only: the peers have no index to resume from`,
    '',
    textTable(head, body, [0, 7, 10]),
  ].join('\n');
}

export function publishTable(publish, limitOff) {
  const head = ['server', 'batch', 'events/s accepted', 'frames/s', 'ack p50 ms', 'ack p99 ms', 'CPU server/producer %', 'errors'];
  const body = publish.map((r) => (r.error ? [r.server, num(r.batch), 'FAILED', '', '', '', '', r.error.slice(0, 60)] : [r.server, num(r.batch), num(r.eventsPerSec), num(r.framesPerSec), ms(r.ackLatency.p50Ms), ms(r.ackLatency.p99Ms), `${num(r.cpuPercent.server)} / ${num(r.cpuPercent.producer)}`, num(r.errors)]));
  const w = publish.find((r) => r.window)?.window;
  const limit = limitOff ? '; --max-publish-rate 0, so the path is measured and not the per-producer rate limit' : '';
  return [`Scenario 5: publish path, one producer, acked, ${w} frames in flight, no subscribers (fanwire only: the peers do not acknowledge)${limit}`, '', textTable(head, body, [0, 7])].join('\n');
}

/** Cluster mode: single embedded node vs one and two cluster nodes, at load and at light load. */
export function clusterTable(cluster, p) {
  const c = p.cluster;
  const cpuOf = (r) => (r.clusterCpu ? `${r.clusterCpu.nodes.map((x) => num(x)).join('+')} / ${num(r.clusterCpu.nats)}` : '-');
  const setupName = { single: 'single node (embedded)', 'cluster-1': 'one cluster node', 'cluster-2': 'two cluster nodes' };
  const rowsOf = (rows) =>
    rows.map((r) =>
      r.error
        ? [setupName[r.server] ?? r.server, runs(r), '', 'FAILED', '', '', '', '', '', r.error.slice(0, 60)]
        : [setupName[r.server] ?? r.server, runs(r), num(r.subscribers), num(r.deliveriesPerSec), num((100 * r.deliveriesPerSec) / r.offeredPerSec, 1), ms(r.latency.p50Ms), ms(r.latency.p99Ms), ms(r.latency.maxMs), cpuOf(r), anomalies(r)],
    );
  const head = ['setup', 'runs', 'subs', 'deliveries/s', '% offered', 'p50 ms', 'p99 ms', 'max ms', 'CPU nodes / nats %', 'gaps/reorders'];
  const s = byServer(cluster.throughput);
  const l = byServer(cluster.latency);
  const vs = (rows, get, a, b) => (rows[a] && rows[b] ? ratio(get(rows[a]) / get(rows[b])) : '-');
  return [
    `Cluster mode (${cluster.server}, ${cluster.nats?.version ?? 'nats-server'} on the same machine; every node, nats-server and the load client share its cores). Latency is publish (scheduled send) to delivery, through JetStream for the cluster setups; "best of 2" interleaved A B C C B A`,
    '',
    `  at ${num(c.deliveriesPerSec)} deliveries/s offered to ${num(c.subscribers)} subscribers (two nodes: half on each; the publisher on the first):`,
    textTable(head, rowsOf(cluster.throughput), [0, 9]),
    `  two cluster nodes / single node: deliveries/s ${vs(s, (r) => r.deliveriesPerSec, 'cluster-2', 'single')}, p99 ${vs(s, (r) => r.latency.p99Ms, 'cluster-2', 'single')}`,
    '',
    `  light load, ${c.latency.rate} events/s to ${num(c.latency.subscribers)} subscribers (the path's own latency, little queueing):`,
    textTable(head, rowsOf(cluster.latency), [0, 9]),
    `  publish-to-deliver p50 / p99: single ${ms(l.single?.latency.p50Ms)} / ${ms(l.single?.latency.p99Ms)} ms, one cluster node ${ms(l['cluster-1']?.latency.p50Ms)} / ${ms(l['cluster-1']?.latency.p99Ms)} ms, two cluster nodes ${ms(l['cluster-2']?.latency.p50Ms)} / ${ms(l['cluster-2']?.latency.p99Ms)} ms`,
  ].join('\n');
}

export function idleTable(idle) {
  const head = ['server', 'subscribers', 'RSS before MiB', 'RSS idle MiB', 'KB per subscriber'];
  const body = idle.map((r) => [r.server, num(r.subscribers), num(r.beforeKb / 1024), num(r.idleKb / 1024), num(r.perSubscriberKb, 2)]);
  return [
    'Scenario 6: idle memory, server RSS with every subscriber connected and idle for 1 s, minus RSS before the first connected',
    '',
    textTable(head, body, [0]),
    ratioLine('KB per subscriber', idle, (r) => r.perSubscriberKb, 'lower'),
  ]
    .filter((l) => l !== null)
    .join('\n');
}

/**
 * The issue's targets, each checked against this run's numbers.
 * @returns {{target: string, measured: string, ok: boolean | null}[]}
 */
export function targets(rec, p) {
  const burst = byServer(rec.scenarios.burst ?? []);
  const at10k = byServer((rec.scenarios.scale ?? []).filter((r) => r.subscribers === p.scale.subscribers[0]));
  const idle = byServer(rec.scenarios.idle ?? []);
  const stall = Object.fromEntries((rec.scenarios.stall ?? []).map((x) => [x.server, x]));
  const storm = byServer(rec.scenarios.storm ?? []);
  const t = [];
  const b = `burst at ${num(p.burst.subscribers)}`;
  const rt = (a, b, get) => (a && b ? get(a) / get(b) : NaN);
  const add = (target, value, ok, measured) => t.push({ target, measured: Number.isNaN(value) ? 'not measured' : measured, ok: Number.isNaN(value) ? null : ok(value) });
  let v = rt(burst['fanwire-uws'], burst['uws-publish'], (r) => r.deliveriesPerSec);
  add(`fanwire-uws deliveries/s >= 1.0x uws-publish (${b})`, v, (x) => x >= 1, `${ratio(v)} (${num(burst['fanwire-uws']?.deliveriesPerSec)} vs ${num(burst['uws-publish']?.deliveriesPerSec)})`);
  v = rt(at10k['fanwire-uws'], at10k['uws-publish'], (r) => r.latency.p99Ms);
  add(`fanwire-uws p99 <= 1.0x uws-publish (${num(p.scale.deliveriesPerSec)} deliveries/s at ${num(p.scale.subscribers[0])})`, v, (x) => x <= 1, `${ratio(v)} (${ms(at10k['fanwire-uws']?.latency.p99Ms)} vs ${ms(at10k['uws-publish']?.latency.p99Ms)} ms)`);
  v = rt(burst['fanwire-uws'], burst['uws-publish'], (r) => r.latency.p99Ms);
  add(`fanwire-uws burst p99 <= 1.0x uws-publish (${b})`, v, (x) => x <= 1, `${ratio(v)} (${ms(burst['fanwire-uws']?.latency.p99Ms)} vs ${ms(burst['uws-publish']?.latency.p99Ms)} ms)`);
  v = rt(burst['fanwire-ws'], burst['ws-loop'], (r) => r.deliveriesPerSec);
  add(`fanwire-ws deliveries/s >= 5x ws-loop (${b})`, v, (x) => x >= 5, ratio(v));
  for (const f of ['fanwire-uws', 'fanwire-ws']) {
    v = rt(burst[f], burst.socketio, (r) => r.deliveriesPerSec);
    add(`${f} deliveries/s >= 10x socketio (${b})`, v, (x) => x >= 10, ratio(v));
  }
  v = idle['fanwire-uws']?.perSubscriberKb ?? NaN;
  add('fanwire-uws idle RSS <= 2 KB per subscriber', v, (x) => x <= 2, `${num(v, 2)} KB`);
  v = idle['fanwire-ws']?.perSubscriberKb ?? NaN;
  add('fanwire-ws idle RSS <= 8 KB per subscriber', v, (x) => x <= 8, `${num(v, 2)} KB`);
  for (const f of ['fanwire-uws', 'fanwire-ws']) {
    const x = stall[f];
    v = x?.stalled && x.baseline && !x.stalled.error ? x.stalled.latency.p99Ms / x.baseline.latency.p99Ms : NaN;
    add(`${f} healthy p99 with 10% stalled <= 1.25x unstalled`, v, (y) => y <= 1.25, `${ratio(v)} (${ms(x?.stalled?.latency?.p99Ms)} vs ${ms(x?.baseline?.latency?.p99Ms)} ms)`);
    const d = x?.stalled?.serverStats?.totals?.dropped;
    const lag = d ? d.lagged + d.backpressure : NaN;
    add(`${f} drops its laggards (4001) within the stall`, lag, (y) => y === x.laggards, `${num(lag)} of ${num(x?.laggards)} by the server's count; ${num(x?.stalled?.laggardCloses?.['4001'] ?? 0)} close frames read by the laggards`);
  }
  for (const f of ['fanwire-uws', 'fanwire-ws']) {
    const r = storm[f];
    v = r ? r.missedDeliveries + r.gaps + r.reorders + r.helloGaps + (r.subscribers - r.resumed) : NaN;
    add(`${f} resume storm misses nothing`, v, (x) => x === 0, r ? `${num(r.subscribers - r.resumed)} not back within ${p.storm.cap} s, ${r.gaps} gaps, ${num(r.missedDeliveries)} deliveries still owed to the resumed after the drain${r.allLiveSeconds !== null ? `; all back in ${r.allLiveSeconds.toFixed(2)} s` : ''}` : '');
  }
  return t;
}

export function targetsTable(list) {
  return ['Targets (issue 4)', '', textTable(['target', 'measured', 'result'], list.map((x) => [x.target, x.measured, x.ok === null ? 'not measured' : x.ok ? 'met' : 'MISSED']), [0, 1, 2])].join('\n');
}
