/**
 * A hand-written SVG chart of the fan-out scale scenario: deliveries/s (left)
 * and p99 latency on a log scale (right) against subscribers, one line per
 * server. No dependency; the file opens in any browser and renders on GitHub.
 */

const COLORS = { 'fanwire-uws': '#d62728', 'fanwire-ws': '#ff7f0e', 'uws-publish': '#1f77b4', 'ws-loop': '#2ca02c', socketio: '#9467bd', 'nats-ws': '#8c564b', nchan: '#e377c2', 'nchan-auto': '#7f7f7f' };
const W = 960;
const H = 420;
const PANEL = { w: 400, h: 280, top: 70 };
const LEFT = [70, 550];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n) => (n >= 1e6 ? `${+(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${+(n / 1e3).toFixed(1)}k` : `${+n.toFixed(1)}`);

/** Round numbers for a linear axis from 0 to at least `max`. */
function linearTicks(max) {
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const ticks = [];
  for (let v = 0; v <= max + step * 0.001; v += step) ticks.push(v);
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

/** Powers of ten around [min, max]. */
function logTicks(min, max) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) ticks.push(10 ** e);
  return ticks;
}

/**
 * @param {{title: string, xLabel: string, yLabel: string, x0: number, series: {name: string, points: [number, number][]}[], log?: boolean}} panel
 */
function drawPanel(panel) {
  const all = panel.series.flatMap((s) => s.points);
  const xt = linearTicks(Math.max(...all.map((p) => p[0]), 1));
  const ys = all.map((p) => p[1]).filter((y) => y > 0);
  const yt = panel.log ? logTicks(Math.min(...ys, 1), Math.max(...ys, 10)) : linearTicks(Math.max(...ys, 1));
  const [xmax, ymin, ymax] = [xt[xt.length - 1], panel.log ? yt[0] : 0, yt[yt.length - 1]];
  const x = (v) => panel.x0 + (v / xmax) * PANEL.w;
  const y = (v) => PANEL.top + PANEL.h - (panel.log ? (Math.log10(v) - Math.log10(ymin)) / (Math.log10(ymax) - Math.log10(ymin)) : (v - ymin) / (ymax - ymin)) * PANEL.h;
  const out = [`<text x="${panel.x0 + PANEL.w / 2}" y="${PANEL.top - 14}" text-anchor="middle" font-weight="bold">${esc(panel.title)}</text>`];
  for (const v of yt) out.push(`<line x1="${panel.x0}" x2="${panel.x0 + PANEL.w}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${panel.x0 - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  for (const v of xt) out.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${PANEL.top + PANEL.h}" y2="${PANEL.top + PANEL.h + 4}" stroke="#333"/><text x="${x(v)}" y="${PANEL.top + PANEL.h + 18}" text-anchor="middle">${fmt(v)}</text>`);
  out.push(`<rect x="${panel.x0}" y="${PANEL.top}" width="${PANEL.w}" height="${PANEL.h}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${panel.x0 + PANEL.w / 2}" y="${PANEL.top + PANEL.h + 38}" text-anchor="middle">${esc(panel.xLabel)}</text>`);
  out.push(`<text transform="translate(${panel.x0 - 52} ${PANEL.top + PANEL.h / 2}) rotate(-90)" text-anchor="middle">${esc(panel.yLabel)}</text>`);
  for (const s of panel.series) {
    const pts = s.points.filter((p) => p[1] > 0).sort((a, b) => a[0] - b[0]);
    if (!pts.length) continue;
    const c = COLORS[s.name] ?? '#555';
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s.name}: ${fmt(p[1])} at ${fmt(p[0])} subscribers`)}</title></circle>`);
  }
  return out.join('\n');
}

/**
 * @param {object[]} scale run records of the scale scenario
 * @param {{title: string, subtitle: string, offered: number}} meta
 */
export function scaleChart(scale, meta) {
  const ok = scale.filter((r) => !r.error);
  const names = [...new Set(ok.map((r) => r.server))];
  const series = (get) => names.map((name) => ({ name, points: ok.filter((r) => r.server === name).map((r) => [r.subscribers, get(r)]) }));
  const legend = names.map((n, i) => `<rect x="${70 + i * 170}" y="${H - 26}" width="14" height="4" fill="${COLORS[n] ?? '#555'}"/><text x="${90 + i * 170}" y="${H - 20}">${esc(n)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(meta.title)}</text>
<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(meta.subtitle)}</text>
${drawPanel({ title: `deliveries/s (offered: ${fmt(meta.offered)})`, xLabel: 'subscribers', yLabel: 'deliveries/s', x0: LEFT[0], series: series((r) => r.deliveriesPerSec) })}
${drawPanel({ title: 'p99 latency, ms (log scale)', xLabel: 'subscribers', yLabel: 'p99 ms', x0: LEFT[1], series: series((r) => r.latency.p99Ms), log: true })}
${legend.join('\n')}
</svg>
`;
}
