#!/usr/bin/env node
/**
 * Summarizes a V8 .cpuprofile of a server (BENCH_SERVER_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=DIR", see lib/servers.mjs): self time by function and by
 * file, and inclusive time by function, over the profile's last long busy
 * period (in a burst run: the measured burst; the connects and the warm-up
 * burst come before it) or, with --all, the whole profile. Native work
 * called from JS (uWS's send, cork, publish) counts as its JS caller's self
 * time: V8 does not sample inside API callbacks.
 *
 * Usage: node load/cpuprofile-summary.mjs FILE.cpuprofile [--all] [--top N]
 */
import { readFileSync } from 'node:fs';
const args = process.argv.slice(2);
const file = args[0];
const all = args.includes('--all');
const top = Number(args[args.indexOf('--top') + 1]) || 15;
const prof = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
// sample times
const t = [];
let acc = prof.startTime;
for (const d of prof.timeDeltas) t.push((acc += d));
const name = (n) => n.callFrame.functionName || '(anonymous)';
const idle = (id) => name(nodes.get(id)) === '(idle)';
// bins of 50 ms: busy share
const BIN = 50_000;
const bins = new Map();
for (let i = 0; i < t.length; i++) {
  const b = Math.floor((t[i] - prof.startTime) / BIN);
  const x = bins.get(b) ?? { busy: 0, n: 0 };
  x.n++;
  if (!idle(prof.samples[i])) x.busy++;
  bins.set(b, x);
}
const maxBin = Math.max(...bins.keys());
const busyBin = (b) => {
  const x = bins.get(b);
  return x && x.busy / x.n > 0.5;
};
// periods of busy bins (gaps of up to 2 bins bridged)
const periods = [];
let cur = null;
for (let b = 0; b <= maxBin; b++) {
  if (busyBin(b)) {
    if (cur && b - cur.end <= 3) cur.end = b;
    else periods.push((cur = { start: b, end: b }));
  }
}
let from = prof.startTime;
let to = Infinity;
if (!all) {
  // the measured burst: the last busy period that is not the shutdown (shutdown periods are short)
  const long = periods.filter((p) => p.end - p.start >= 2);
  const pick = long[long.length - 1] ?? periods[periods.length - 1];
  from = prof.startTime + pick.start * BIN;
  to = prof.startTime + (pick.end + 1) * BIN;
  console.log(`busy periods (s): ${periods.map((p) => `${((p.start * BIN) / 1e6).toFixed(2)}-${(((p.end + 1) * BIN) / 1e6).toFixed(2)}`).join(' ')}; summarizing ${((from - prof.startTime) / 1e6).toFixed(2)}-${((to - prof.startTime) / 1e6).toFixed(2)} s`);
}
const self = new Map();
const byFile = new Map();
const inclusive = new Map();
let total = 0;
let idleN = 0;
for (let i = 0; i < t.length; i++) {
  if (t[i] < from || t[i] >= to) continue;
  const id = prof.samples[i];
  const n = nodes.get(id);
  const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
  if (name(n) === '(idle)') {
    idleN += dt;
    continue;
  }
  total += dt;
  const cf = n.callFrame;
  const key = `${name(n)} ${cf.url ? cf.url.replace(/^.*\/(src|dist|node_modules)\//, '$1/') + ':' + (cf.lineNumber + 1) : '(native)'}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  const f = cf.url ? cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:') : `(${name(n).startsWith('(') ? name(n).slice(1, -1) : 'native: ' + name(n)})`;
  byFile.set(f, (byFile.get(f) ?? 0) + dt);
  // inclusive by function (once per stack)
  const seen = new Set();
  for (let p = id; p !== undefined; p = parent.get(p)) {
    const pn = nodes.get(p);
    const k = `${name(pn)} ${pn.callFrame.url ? pn.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/') + ':' + (pn.callFrame.lineNumber + 1) : '(native)'}`;
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
}
const show = (title, m, n = top) => {
  console.log(`\n${title} (busy ${total.toFixed(0)} ms, idle ${idleN.toFixed(0)} ms)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${v.toFixed(0).padStart(7)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
};
show('self time by function', self);
show('self time by file', byFile);
show('inclusive time by function', inclusive, top + 10);
