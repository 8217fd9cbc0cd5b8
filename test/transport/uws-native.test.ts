/**
 * src/transport/uws-native.ts declares the part of uWebSockets.js's API we
 * use, so the build needs no package; this keeps it honest against the
 * package's own declarations where the package is installed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IN_CI } from '../helpers.js';
import { INSTALLED_UWS_DIR, ROOT } from './uws-package.js';

const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

describe('uws-native', () => {
  // Where the package is absent helpers.ts has warned; under CI this runs and fails.
  it.skipIf(INSTALLED_UWS_DIR === null && !IN_CI)('declares only members and signatures that the installed uWebSockets.js declares too', () => {
    const result = spawnSync(process.execPath, [TSC, '-p', path.join(ROOT, 'test/transport/uws-native-types/tsconfig.json')], { encoding: 'utf8', timeout: 60_000 });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
