/**
 * Issue #11's performance targets, checked against the scenarios one
 * `npm run bench` run measured: one row per target (and per transport where
 * the target names both), each with what was compared, the ratio or figure,
 * and met / MISSED / not measured. Pure: it reads only the `scenarios`
 * object bench.mjs builds (and the plan for labels), so it is unit-tested
 * with synthetic records (test/load/targets.test.ts).
 *
 * A row whose scenario did not run, whose server did not run or failed, or
 * that needs a scenario the bench does not have yet says so explicitly
 * ("not measured in this run: ..."); it is never counted as met or missed.
 * A fanwire run with gaps or reorders is MISSED whatever its figure: no
 * target may be bought with lost or reordered events.
 */
import { featureNames } from './scenario-features.mjs';
import { behindWhy } from './sustained.mjs';
import { ms, num, ratio, textTable } from './table.mjs';
import { BATCH_SERVERS } from './servers.mjs';

export const NOT_MEASURED = 'not measured in this run';

/** 2,400,000 -> "2.40M", 120,500 -> "120.5k". */
const rate = (n) => (!Number.isFinite(n) ? '-' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));

/** Usable rows by server: errors and missing figures left out. */
const byServer = (rows) => Object.fromEntries((rows ?? []).filter((r) => r && !r.error).map((r) => [r.server, r]));
const failedRun = (rows, server) => (rows ?? []).find((r) => r && r.server === server && r.error);
const anomaliesOf = (r) => (r && (r.gaps || r.reorders) ? `${r.gaps ?? 0} gaps, ${r.reorders ?? 0} reorders` : null);

/**
 * Why a row could not be measured, or null if every server it needs has a
 * usable row. `ran` says whether the scenario was run at all.
 */
function missingWhy(ran, rows, servers, scenario) {
  if (!ran) return `${NOT_MEASURED}: the ${scenario} scenario did not run`;
  const s = byServer(rows);
  const gone = servers.filter((n) => !s[n]);
  if (!gone.length) return null;
  const why = gone.map((n) => {
    const f = failedRun(rows, n);
    return f ? `${n} failed (${String(f.error).slice(0, 60)})` : `${n} did not run`;
  });
  return `${NOT_MEASURED}: ${why.join(', ')}`;
}

const row = (id, target, measured, figure, status, note = '') => ({ id, target, measured, figure, status, ...(note ? { note } : {}) });
const notMeasured = (id, target, why) => row(id, target, why, '-', 'not measured');
/** met / missed from `ok`, unless a fanwire run lost or reordered events. */
const judged = (id, target, measured, figure, ok, fanwireRuns) => {
  const bad = fanwireRuns.map((r) => [r?.server, anomaliesOf(r)]).filter(([, a]) => a);
  if (bad.length) return row(id, target, measured, figure, 'missed', `FAILURE: ${bad.map(([n, a]) => `${n} ${a}`).join('; ')}`);
  return row(id, target, measured, figure, ok ? 'met' : 'missed');
};

/**
 * fanwire over a peer for a "higher is better" (or "lower") figure.
 * @returns a row: `measured` shows both figures, `figure` the ratio.
 */
function versus(id, target, { ran, rows, scenario, a, b, get, fmt, bound, higher, checked = [a] }) {
  const why = missingWhy(ran, rows, [a, b], scenario);
  if (why) return notMeasured(id, target, why);
  const s = byServer(rows);
  const va = get(s[a]);
  const vb = get(s[b]);
  const v = va / vb;
  if (!Number.isFinite(v)) return notMeasured(id, target, `${NOT_MEASURED}: ${a} ${fmt(va)} vs ${b} ${fmt(vb)} gives no ratio`);
  // Next to the bound, two digits could show 1.50x for a missed 1.497x: show three.
  const shown = Math.abs(v - bound) < 0.01 ? `${v.toFixed(3)}x` : ratio(v);
  return { ...judged(id, target, `${a} ${fmt(va)} vs ${b} ${fmt(vb)}`, shown, higher ? v >= bound : v <= bound, checked.map((n) => s[n])), value: v, bound };
}

/**
 * Target 7: one fanwire burst over another of the same transport (both are
 * fanwire, so gaps in either miss it). A burst that did not all arrive in
 * its time still has a rate (deliveries over that time), so it is judged,
 * with a note saying how much arrived.
 */
function featureVersus(id, target, { ran, rows, a, b, bound }) {
  const judgedRow = versus(id, target, { ran, rows, scenario: 'features', a, b, get: (r) => r.deliveriesPerSec, fmt: (v) => `${rate(v)}/s`, bound, higher: true, checked: [a, b] });
  if (judgedRow.status === 'not measured') return judgedRow;
  const s = byServer(rows);
  const short = [a, b].filter((n) => s[n].burstDelivered < 1).map((n) => `${n} delivered ${num(100 * s[n].burstDelivered, 1)}% of its burst within ${num(s[n].windowS, 1)} s`);
  return short.length ? { ...judgedRow, note: [judgedRow.note, ...short].filter(Boolean).join('; ') } : judgedRow;
}

/**
 * Sustained p99, fanwire over uws-publish, at a rate both should keep up
 * with. A run that fell behind is flagged rather than judged on its p99:
 * fanwire behind misses the target (it could not carry the rate); the peer
 * behind leaves the row unmeasured (its p99 grows with the run's length, so
 * any ratio to it would flatter fanwire).
 */
function sustainedVersus(id, target, { ran, rows, a, b }) {
  const judgedRow = versus(id, target, { ran, rows, scenario: 'sustained', a, b, get: (r) => r.latency?.p99Ms, fmt: (v) => `${ms(v)} ms`, bound: 1, higher: false });
  if (judgedRow.status === 'not measured') return judgedRow;
  const s = byServer(rows);
  const peerBehind = behindWhy(s[b]);
  if (peerBehind) return notMeasured(id, target, `${NOT_MEASURED}: ${b} did not keep up (${peerBehind}), so its p99 is no sustained figure (${judgedRow.measured})`);
  const ownBehind = behindWhy(s[a]);
  if (ownBehind) return { ...judgedRow, status: 'missed', note: [`${a} did not keep up: ${ownBehind}`, judgedRow.note].filter(Boolean).join('; ') };
  return judgedRow;
}

/** A fanwire figure against an absolute bound. */
function figure(id, target, { ran, rows, scenario, server, pick, get, fmt, bound, higher, about }) {
  const usable = (rows ?? []).filter(pick);
  const why = missingWhy(ran, usable, [server], scenario);
  if (why) return notMeasured(id, target, why);
  const r = byServer(usable)[server];
  const v = get(r);
  if (!Number.isFinite(v)) return notMeasured(id, target, `${NOT_MEASURED}: no figure in ${server}'s ${scenario} run`);
  return { ...judged(id, target, `${server} ${fmt(v)}${about ? `; ${about(r)}` : ''}`, fmt(v), higher ? v >= bound : v <= bound, [r]), value: v, bound };
}

/**
 * @param {{scenarios: object, ran?: string[]}} rec `scenarios` as bench.mjs
 *   builds it (`idle`, `burst` (one send per frame), `burstOneWrite` (the same burst in one TCP write), `sustained`, `publish`, `lowrate`, `features` arrays of rows); `ran`,
 *   the scenarios this run was asked for (without it, a scenario counts as run
 *   when it has rows)
 * @param {{burst?: {subscribers: number}, lowrate?: {subscribers: number, rate: number}, sustained?: {subscribers: number, rate: number}, features?: {keys: number}}} [p] the plan, for labels only
 * @returns {{id: string, target: string, measured: string, figure: string, status: 'met' | 'missed' | 'not measured', note?: string, value?: number, bound?: number}[]}
 *   `value`: the ratio (fanwire over the peer) or the figure, `bound` the target's, where measured
 */
export function issue11Targets(rec, p = {}) {
  const sc = rec.scenarios ?? {};
  const ran = (name) => (rec.ran ? rec.ran.includes(name) : Boolean(sc[name]?.length));
  const subs = (n) => (n ? ` at ${num(n)} subscribers` : '');
  const burstAt = subs(p.burst?.subscribers);
  const sustainedAt = p.sustained ? `${num(p.sustained.rate * p.sustained.subscribers)} deliveries/s (${p.sustained.rate} events/s${subs(p.sustained.subscribers)})` : '~480k deliveries/s';
  const lowAt = p.lowrate ? `${num(p.lowrate.rate * p.lowrate.subscribers)} deliveries/s (${p.lowrate.rate} events/s${subs(p.lowrate.subscribers)})` : '50k deliveries/s (5 events/s at 10,000 subscribers)';
  const perSec = (r) => `${rate(r)}/s`;
  const kb = (v) => `${num(v, 2)} KB`;
  const ackAbout = (r) => `ack p99 ${ms(r.ackLatency?.p99Ms)} ms${r.errors ? `, ${num(r.errors)} errors` : ''}`;
  const t = [];

  // Issue 23: the burst's rows by server read the one-send-per-frame pattern, as before; the same burst in one TCP
  // write (burstOneWrite) gets rows of its own, with the same bounds. Records from before it have no such rows.
  const oneWrite = { ran: ran('burst') && Array.isArray(sc.burstOneWrite), rows: sc.burstOneWrite, scenario: 'burst (one write)' };
  const burstVs = (id, a, bound, label = a) => [
    versus(id, `${label} burst peak deliveries/s >= ${bound}x uws-publish${burstAt}`, { ran: ran('burst'), rows: sc.burst, scenario: 'burst', a, b: 'uws-publish', get: (r) => r.deliveriesPerSec, fmt: perSec, bound, higher: true }),
    versus(id, `${label} burst peak deliveries/s >= ${bound}x uws-publish${burstAt}, the burst in one write`, { ...oneWrite, a, b: 'uws-publish', get: (r) => r.deliveriesPerSec, fmt: perSec, bound, higher: true }),
  ];
  t.push(...burstVs('1', 'fanwire-ws', 1.5));
  t.push(sustainedVersus('2', `fanwire-ws sustained p99 <= 1.0x uws-publish at ${sustainedAt}`, { ran: ran('sustained'), rows: sc.sustained, a: 'fanwire-ws', b: 'uws-publish' }));
  t.push(...burstVs('3', 'fanwire-uws', 1.2));
  t.push(sustainedVersus('3', `fanwire-uws sustained p99 <= 1.0x uws-publish at ${sustainedAt}`, { ran: ran('sustained'), rows: sc.sustained, a: 'fanwire-uws', b: 'uws-publish' }));
  // The opt-in batch=1 extension (docs/protocol.md), reported only where this run measured it.
  const batched = BATCH_SERVERS.filter((n) => (sc.burst ?? []).some((r) => r?.server === n) || (sc.features ?? []).some((r) => r?.transport === n));
  for (const f of batched.filter((n) => (sc.burst ?? []).some((r) => r?.server === n))) {
    const id = f.includes('-uws') ? '3' : '1';
    const bound = f.includes('-uws') ? 1.2 : 1.5;
    t.push(...burstVs(id, f, bound, `${f} (batch=1)`));
  }
  for (const f of ['fanwire-uws', 'fanwire-ws']) {
    const target = `${f} p99 <= 1.0x ws-loop at ${lowAt}`;
    t.push(versus('4', target, { ran: ran('lowrate'), rows: sc.lowrate, scenario: 'lowrate', a: f, b: 'ws-loop', get: (r) => r.latency?.p99Ms, fmt: (v) => `${ms(v)} ms`, bound: 1, higher: false }));
  }
  for (const [f, bound] of [['fanwire-uws', 2], ['fanwire-ws', 7]]) {
    t.push(figure('5', `${f} idle RSS <= ${bound} KB per subscriber`, { ran: ran('idle'), rows: sc.idle, scenario: 'idle', server: f, pick: () => true, get: (r) => r.perSubscriberKb, fmt: kb, bound, higher: false, about: (r) => `RSS ${num(r.beforeKb / 1024)} -> ${num(r.idleKb / 1024)} MiB with ${num(r.subscribers)} idle subscribers` }));
  }
  for (const f of ['fanwire-uws', 'fanwire-ws']) {
    t.push(figure('6', `${f} publish >= 1M events/s accepted in batches of 100`, { ran: ran('publish'), rows: sc.publish, scenario: 'publish', server: f, pick: (r) => r.batch === 100 || r.error, get: (r) => r.eventsPerSec, fmt: (v) => `${rate(v)} events/s`, bound: 1e6, higher: true, about: ackAbout }));
    t.push(figure('6', `${f} publish >= 100k single-event frames/s acked`, { ran: ran('publish'), rows: sc.publish, scenario: 'publish', server: f, pick: (r) => r.batch === 1 || r.error, get: (r) => r.framesPerSec, fmt: (v) => `${rate(v)} frames/s`, bound: 1e5, higher: true, about: ackAbout }));
  }
  const keys = p.features?.keys ?? 100;
  for (const f of ['fanwire-uws', 'fanwire-ws']) {
    const n = featureNames(f, keys);
    t.push(featureVersus('7', `${f} metrics on vs off: burst peak deliveries/s differ by < 3% (on/off >= 0.97x)${burstAt}`, { ran: ran('features'), rows: sc.features, a: n.on, b: n.off, bound: 0.97 }));
  }
  for (const f of ['fanwire-uws', 'fanwire-ws', ...batched.filter((n) => (sc.features ?? []).some((r) => r?.transport === n))]) {
    const n = featureNames(f, keys);
    const label = f.endsWith('-batch') ? `${f} (batch=1)` : f;
    t.push(featureVersus('7', `${label} ${keys} topic:key filters: burst peak deliveries/s >= 0.8x unfiltered${burstAt}`, { ran: ran('features'), rows: sc.features, a: n.filtered, b: n.on, bound: 0.8 }));
  }
  return t;
}

/** met / missed / not measured counts. */
export function targetsSummary(rows) {
  const n = (s) => rows.filter((r) => r.status === s).length;
  return { met: n('met'), missed: n('missed'), notMeasured: n('not measured') };
}

/** The printed table: one line per row, then the counts. */
export function issue11Table(rows, { quick = false } = {}) {
  const c = targetsSummary(rows);
  const status = (r) => (r.status === 'met' ? 'met' : r.status === 'missed' ? 'MISSED' : 'not measured');
  return [
    `Targets (issue 11), from this run${quick ? ' (QUICK: a tenth of the subscribers, a check that everything runs, not a measurement)' : ''}: ratios are fanwire over the peer, best of each side`,
    '',
    textTable(['#', 'target', 'measured', 'ratio/figure', 'result'], rows.map((r) => [r.id, r.target, r.note ? `${r.measured}; ${r.note}` : r.measured, r.figure, status(r)]), [0, 1, 2, 4]),
    `  ${c.met} met, ${c.missed} missed, ${c.notMeasured} not measured in this run`,
  ].join('\n');
}
