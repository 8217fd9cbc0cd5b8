/**
 * The package version, read once from package.json next to dist/ (or src/,
 * under the test runner): what `fanwire --version`, the start log line and
 * the `fanwire_build_info` metric report.
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const VERSION = readVersion();
