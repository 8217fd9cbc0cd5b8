/** `--transport auto|uws|ws`: auto is ws, uws is an opt-in that never quietly falls back, and each says why in the startup log. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UWS_BINARIES, uwsBinaryName } from '../../src/transport/index.js';
import { CLI, spawnGateway, TRANSPORTS } from '../helpers.js';

const NO_UWS = fileURLToPath(new URL('../fixtures/no-uws.mjs', import.meta.url));
// Where uWebSockets.js does not load, helpers.ts has warned (and under CI keeps uws, so these fail).
const HAVE_UWS = TRANSPORTS.includes('uws');

describe('transport selection', () => {
  it('auto serves on ws even where uWebSockets.js loads, and logs that uws is opt-in', async () => {
    const gw = await spawnGateway();
    try {
      expect(gw.logs[0]).toMatchObject({ msg: 'fanwire listening', transport: 'ws', transportReason: 'auto: ws (uws is opt-in, see docs/protocol.md)' });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it.skipIf(!HAVE_UWS)('--transport uws serves on uWebSockets.js and logs the package and the verified binary', async () => {
    const gw = await spawnGateway(['--transport', 'uws']);
    try {
      expect(gw.logs[0]).toMatchObject({
        msg: 'fanwire listening',
        transport: 'uws',
        transportReason: `asked for with --transport uws (${UWS_BINARIES.package}@${UWS_BINARIES.version}, ${uwsBinaryName()} sha256 verified)`,
      });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it.skipIf(!HAVE_UWS)('--transport uws exits 1 with a clear message when the verified binary does not open here', () => {
    const result = spawnSync(process.execPath, ['--import', NO_UWS, CLI, '--port', '0', '--transport', 'uws'], { encoding: 'utf8', timeout: 15_000 });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^fanwire: --transport uws: uWebSockets\.js does not load on this machine \(\/.*\/uws_[a-z0-9]+_[a-z0-9]+_\d+\.node, sha256 verified: simulated: no uWS binary for this platform\); --transport ws serves without it$/,
    );
  });

  it('--transport ws serves on ws', async () => {
    const gw = await spawnGateway(['--transport', 'ws']);
    try {
      expect(gw.logs[0]).toMatchObject({ transport: 'ws', transportReason: 'asked for with --transport ws' });
    } finally {
      await gw.stop();
    }
  });
});
