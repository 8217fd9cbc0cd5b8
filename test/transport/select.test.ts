/** `--transport auto|uws|ws`: which transport serves, why, and a clear failure when uws cannot load. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI, spawnGateway } from '../helpers.js';

const NO_UWS = fileURLToPath(new URL('../fixtures/no-uws.mjs', import.meta.url));

describe('transport selection', () => {
  it('auto picks uWebSockets.js on this machine and logs why', async () => {
    const gw = await spawnGateway();
    try {
      expect(gw.logs[0]).toMatchObject({ msg: 'fanwire listening', transport: 'uws', transportReason: 'auto: uWebSockets.js loaded' });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it('auto falls back to ws when uWebSockets.js does not load, and says why', async () => {
    const gw = await spawnGateway([], { NODE_OPTIONS: `--import ${NO_UWS}` });
    try {
      expect(gw.logs[0]).toMatchObject({ transport: 'ws' });
      expect(gw.logs[0]!.transportReason).toMatch(/^auto: uWebSockets\.js does not load \(.*simulated: no uWS binary.*\), using ws$/);
    } finally {
      await gw.stop();
    }
  });

  it('--transport uws exits 1 with a clear message when uWebSockets.js does not load', () => {
    const result = spawnSync(process.execPath, ['--import', NO_UWS, CLI, '--port', '0', '--transport', 'uws'], { encoding: 'utf8', timeout: 15_000 });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(/^fanwire: --transport uws: uWebSockets\.js does not load on this machine \(.*\); use --transport ws or auto$/);
  });

  it('--transport ws serves on ws even where uWS loads', async () => {
    const gw = await spawnGateway(['--transport', 'ws']);
    try {
      expect(gw.logs[0]).toMatchObject({ transport: 'ws', transportReason: 'asked for with --transport ws' });
    } finally {
      await gw.stop();
    }
  });
});
