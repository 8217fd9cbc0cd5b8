#!/usr/bin/env node
/**
 * Renders docs/benchmarks.md from a recorded `npm run bench` run, without
 * running anything: what `npm run bench` does at its end, for a record made
 * earlier (or on another machine) or after a change to the renderer.
 *
 *   node load/bench-docs.mjs [RECORD] [--out FILE]
 *
 * RECORD defaults to the newest load/results/bench-*.json. A record from
 * before the bench kept library versions is rendered with the versions
 * installed now, and the page says so.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCHMARKS_DOC, writeBenchmarksDoc } from './lib/benchmarks-doc.mjs';
import { RESULTS_DIR } from './lib/results.mjs';
import { versions } from './lib/versions.mjs';

function newestRecord() {
  // Stamps sort as text: bench-2026-11-25T09-53-15Z.json.
  const names = existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR).filter((n) => /^bench-.*\.json$/.test(n)).sort() : [];
  if (!names.length) throw new Error(`no bench-*.json in ${path.relative(process.cwd(), RESULTS_DIR)}: run \`npm run bench\` or name a record`);
  return path.join(RESULTS_DIR, names[names.length - 1]);
}

function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void console.log('Usage: node load/bench-docs.mjs [RECORD] [--out FILE]   (default: the newest load/results/bench-*.json into docs/benchmarks.md)');
  const file = positionals[0] ?? newestRecord();
  const record = JSON.parse(readFileSync(file, 'utf8'));
  if (record.benchmark !== 'bench') throw new Error(`${file} is not a \`npm run bench\` record (benchmark: ${record.benchmark})`);
  const out = writeBenchmarksDoc(record, { recordFile: file, versions: versions() }, values.out ? path.resolve(values.out) : BENCHMARKS_DOC);
  console.log(`${path.relative(process.cwd(), out)} rendered from ${path.relative(process.cwd(), file)}`);
}

try {
  main();
} catch (err) {
  console.error(`bench-docs: ${err.message}`);
  process.exitCode = 1;
}
