/**
 * Suites that need a system binary (nats-server, nginx): where to find it,
 * and a `describe` that runs when it is there, skips loudly when it is not,
 * and fails under CI=true (where .ci/run installs it).
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';

/** The binary: $<envVar> (`none`: act as if missing), else on PATH, else Debian's /usr/sbin (not on a normal user's PATH). */
export function findBinary(name: string, envVar: string): string | null {
  const given = process.env[envVar];
  if (given) return given === 'none' ? null : given;
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin']) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

export interface Binary {
  /** Its path, or null when missing. */
  path: string | null;
  /** The command name and the Debian package that installs it. */
  name: string;
  envVar: string;
  /** What goes untested without it, for the warning ("Cluster mode"). */
  covers: string;
  /** Which suites need it, for the CI failure ("the cluster suites"). */
  suites: string;
}

/**
 * `describe` when the binary is there. Otherwise: under CI a suite whose one
 * test fails naming what is missing; locally a skipped suite and a warning.
 */
export function describeWithBinary(binary: Binary, name: string, body: () => void): void {
  describeWithBinaries([binary], name, body);
}

/** describeWithBinary for a suite that needs several binaries: the first one missing decides. */
export function describeWithBinaries(binaries: readonly Binary[], name: string, body: () => void): void {
  const missing = binaries.find((b) => b.path === null);
  if (missing !== undefined && process.env.CI === 'true') {
    describe(name, () => {
      it(`needs ${missing.name} (apt-get install ${missing.name}; .ci/run does it)`, () => {
        throw new Error(`${missing.name} is not installed, and CI=true: ${missing.suites} must run in CI`);
      });
    });
    return;
  }
  if (missing !== undefined) {
    console.warn(`\n*** SKIPPED "${name}": ${missing.name} is not installed (apt-get install ${missing.name}, or set ${missing.envVar}). ${missing.covers} is NOT tested in this run. ***\n`);
  }
  describe.skipIf(missing !== undefined)(name, body);
}
