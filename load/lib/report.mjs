/**
 * Turns run records into the human table, the ratios, and the JSON file.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Whether run `a` beats run `b`: more deliveries/s, or (within 1%, i.e. both kept up) a lower p99. */
function better(a, b) {
  const d = (a.deliveriesPerSec - b.deliveriesPerSec) / Math.max(a.deliveriesPerSec, b.deliveriesPerSec, 1);
  return Math.abs(d) < 0.01 ? a.latency.p99Ms < b.latency.p99Ms : d > 0;
}

/** The best successful run of each server. */
export function bestRuns(results) {
  const best = {};
  for (const r of results) {
    if (r.error) continue;
    if (!best[r.server] || better(r, best[r.server])) best[r.server] = r;
  }
  return best;
}

const RATIOS = [
  { a: 'fanwire-uws', b: 'uws-publish', what: 'deliveries/s', get: (r) => r.deliveriesPerSec, better: 'higher' },
  { a: 'fanwire-uws', b: 'uws-publish', what: 'p99 latency', get: (r) => r.latency.p99Ms, better: 'lower' },
  { a: 'fanwire-ws', b: 'ws-loop', what: 'deliveries/s', get: (r) => r.deliveriesPerSec, better: 'higher' },
  { a: 'fanwire-uws', b: 'nats-ws', what: 'deliveries/s', get: (r) => r.deliveriesPerSec, better: 'higher' },
  { a: 'fanwire-uws', b: 'nats-ws', what: 'p99 latency', get: (r) => r.latency.p99Ms, better: 'lower' },
  { a: 'fanwire-uws', b: 'nchan', what: 'deliveries/s', get: (r) => r.deliveriesPerSec, better: 'higher' },
  { a: 'fanwire-uws', b: 'nchan-auto', what: 'deliveries/s', get: (r) => r.deliveriesPerSec, better: 'higher' },
];

export function ratios(best) {
  return RATIOS.map(({ a, b, what, get, better }) => ({
    name: `${a} / ${b} ${what}`,
    value: best[a] && best[b] ? get(best[a]) / get(best[b]) : null,
    better,
    missing: [a, b].filter((n) => !best[n]),
  }));
}

const num = (n, digits = 0) => (n === undefined || n === null || Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ms = (n) => (Number.isNaN(n) || n === undefined ? '-' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));

function troubles(r) {
  const parts = [];
  if (r.connectFailures) parts.push(`${r.connectFailures} connect failed`);
  for (const [kind, n] of Object.entries(r.notes ?? {})) if (kind.startsWith('closed')) parts.push(`${kind} x${n.count}`);
  if (r.gaps) parts.push(`GAPS ${r.gaps}`);
  if (r.reorders) parts.push(`REORDERS ${r.reorders}`);
  if (r.unexpected) parts.push(`${r.unexpected} unexpected msgs`);
  if (r.behindAtEnd) parts.push(`${num(r.behindAtEnd)} owed at end`);
  return parts.length ? parts.join(', ') : 'none';
}

/** Rows for the given records, in the given order. */
export function table(rows) {
  const head = ['server', 'run', 'subs', 'deliveries/s', '% offered', 'p50 ms', 'p99 ms', 'max ms', 'RSS KB/sub', 'server CPU %', 'client CPU %', 'other CPU %', 'drops/gaps'];
  const body = rows.map((r) =>
    r.error
      ? [r.server, String(r.run), num(r.ready ?? 0), 'FAILED', '', '', '', '', '', '', '', '', r.error.slice(0, 80)]
      : [
          r.server,
          String(r.run),
          num(r.ready),
          num(r.deliveriesPerSec),
          num((100 * r.deliveriesPerSec) / r.offeredPerSec, 1),
          ms(r.latency.p50Ms),
          ms(r.latency.p99Ms),
          ms(r.latency.maxMs),
          num(r.rssPerSubscriberKb, 2),
          num(r.cpuPercent.server),
          r.cpuPercent.subscribers.map((c) => num(c)).join('+'),
          num(r.cpuPercent.otherProcesses),
          troubles(r),
        ],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const left = new Set([0, head.length - 1]);
  const line = (row) => row.map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function ratioLines(list) {
  return list
    .map((r) => `  ${r.name.padEnd(42)} ${r.value === null ? `n/a (no result for ${r.missing.join(', ')})` : `${r.value.toFixed(2)}x  (${r.better} is better for fanwire)`}`)
    .join('\n');
}

/** Writes the full record atomically; returns its path. */
export function writeJson(dir, record) {
  mkdirSync(dir, { recursive: true });
  const stamp = record.createdAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const file = path.join(dir, `transports-${stamp}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}

export function machine() {
  return { node: process.version, platform: `${os.type()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30) };
}
