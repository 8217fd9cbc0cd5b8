/**
 * Where results go: load/results/<prefix>-<ISO time>.<ext>, written atomically.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './servers.mjs';

export const RESULTS_DIR = path.join(ROOT, 'load', 'results');

/** "2026-11-24T23:21:08.123Z" -> "2026-11-24T23-21-08Z" (safe in file names everywhere). */
export const stamp = (iso) => iso.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');

/** Writes `text` to `file` via a temporary file; returns the path. */
export function writeAtomic(file, text) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
  return file;
}

/** Writes a JSON record as load/results/<prefix>-<stamp>.json (or to `file`); returns the path. */
export function writeRecord(prefix, createdAt, record, file = null) {
  return writeAtomic(file ?? path.join(RESULTS_DIR, `${prefix}-${stamp(createdAt)}.json`), `${JSON.stringify(record, null, 2)}\n`);
}
