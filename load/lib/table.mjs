/**
 * Plain-text tables and the number formats every report uses.
 */

/** A fixed-width table: first and last columns left-aligned, the rest right-aligned. */
export function textTable(head, rows, leftColumns = [0, head.length - 1]) {
  const cells = rows.map((r) => r.map((c) => String(c ?? '')));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const left = new Set(leftColumns);
  const line = (row) => row.map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

const bad = (n) => n === undefined || n === null || Number.isNaN(n) || !Number.isFinite(n);

/** 1,234,567 (digits after the point as asked). */
export const num = (n, digits = 0) => (bad(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

/** Milliseconds with sensible precision. */
export const ms = (n) => (bad(n) ? '-' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));

/** A ratio such as 1.23x. */
export const ratio = (n) => (bad(n) ? '-' : `${n.toFixed(n < 10 ? 2 : 1)}x`);

/** {4001: 12, 1006: 1} -> "4001 x12, 1006 x1" (or "none"). */
export const closes = (byCode) => {
  const parts = Object.entries(byCode ?? {}).map(([code, n]) => `${code} x${n}`);
  return parts.length ? parts.join(', ') : 'none';
};
