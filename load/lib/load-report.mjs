/**
 * The human table of load runs (load.mjs prints one row; bench.mjs reuses
 * the columns), plus the lines under it: laggards, RSS, failures.
 */
import { closes, ms, num, textTable } from './table.mjs';

export const LOAD_COLUMNS = ['server', 'subs', 'deliveries/s', '% offered', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'per-sub min/max', 'RSS KB/sub', 'server CPU %', 'client CPU %', 'other CPU %', 'drops by close code', 'gaps/reorders'];

/** One row of LOAD_COLUMNS for a run record (from run.mjs, with `idleRssPerSubscriberKb`). */
export function loadRow(r) {
  if (r.error) return [r.server, num(r.subscribers), 'FAILED', '', '', '', '', '', '', '', '', '', '', '', '', r.error.slice(0, 80)];
  const l = r.latency;
  const anomalies = r.gaps + r.reorders ? `FAILURE: ${r.gaps} gaps, ${r.reorders} reorders` : '0 / 0';
  return [
    r.server,
    num(r.subscribers),
    num(r.deliveriesPerSec),
    r.offeredPerSec ? num((100 * r.deliveriesPerSec) / r.offeredPerSec, 1) : '-',
    ms(l.p50Ms),
    ms(l.p90Ms),
    ms(l.p99Ms),
    ms(l.p999Ms),
    ms(l.maxMs),
    `${num(r.perSubscriber.min)}/${num(r.perSubscriber.max)}`,
    num(r.idleRssPerSubscriberKb, 2),
    num(r.cpuPercent.server),
    r.cpuPercent.subscribers.map((c) => num(c)).join('+') + (r.cpuPercent.laggards !== null ? ` (+${num(r.cpuPercent.laggards)} lag)` : ''),
    num(r.cpuPercent.otherProcesses),
    closes(r.closes),
    anomalies,
  ];
}

/** The table and the notes under it. */
export function loadReport(records) {
  const lines = [textTable(LOAD_COLUMNS, records.map(loadRow), [0, 14, 15])];
  for (const r of records) {
    if (r.error) continue;
    const extra = [];
    if (r.kind === 'burst') extra.push(`burst of ${num(r.burst)} events delivered over ${r.windowS.toFixed(2)} s (latency is from the burst's start)`);
    if (r.behindAtEnd) extra.push(`${num(r.behindAtEnd)} deliveries still owed when the drain wait ended`);
    if (r.connectFailures) extra.push(`CONNECT FAILURES: ${r.connectFailures}`);
    if (r.laggards) {
      extra.push(`laggards: ${r.laggards} stopped reading for the window; closes ${closes(r.laggardCloses)}; still connected at the end ${r.laggardsLiveAtEnd}`);
    }
    if (Number.isFinite(r.rssKb?.start)) extra.push(`server RSS during the window: ${mib(r.rssKb.start)} at its start, ${mib(r.rssKb.max)} max, ${mib(r.rssKb.end)} at its end`);
    const dropped = r.serverStats?.totals?.dropped;
    if (dropped) extra.push(`fanwire /v1/stats dropped: ${JSON.stringify(dropped)}`);
    if (r.publisher?.tickLateness) extra.push(`publisher ticks late: p50 ${ms(r.publisher.tickLateness.p50Ms)} ms, p99 ${ms(r.publisher.tickLateness.p99Ms)} ms (part of every latency)`);
    for (const f of r.failures ?? []) extra.push(`FAILURE: ${f}`);
    if (extra.length) lines.push('', `${r.server}:`, ...extra.map((e) => `  ${e}`));
  }
  return lines.join('\n');
}

const mib = (kb) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MiB` : '-');
