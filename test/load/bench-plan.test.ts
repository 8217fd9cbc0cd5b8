/**
 * What `npm run bench` runs (load/lib/bench-plan.mjs): which servers share an
 * interleaved fan-out group, so each target compares runs of one sequence,
 * and what the targets preset expands to.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVERS, fanoutGroups, parseBenchOptions, SCENARIOS, TARGETS_PRESET, TRIO } from '../../load/lib/bench-plan.mjs';

const NATIVE = ['nats-ws', 'nchan', 'nchan-auto'];
const EVERY = ['fanwire-uws', 'uws-publish', 'fanwire-ws', 'ws-loop', 'socketio', ...NATIVE];

describe('bench plan', () => {
  it('keeps the default run (with scale and its 19k step) in pairs, as before issue 11', () => {
    expect(fanoutGroups(SCENARIOS, EVERY)).toEqual([['fanwire-uws', 'uws-publish'], ['fanwire-ws'], ['ws-loop'], ['socketio'], ['nats-ws'], ['nchan'], ['nchan-auto']]);
  });

  it('puts fanwire-uws, uws-publish and fanwire-ws in one group without scale', () => {
    expect(TRIO).toEqual(['fanwire-uws', 'uws-publish', 'fanwire-ws']);
    expect(fanoutGroups(['idle', 'burst', 'sustained'], EVERY)).toEqual([TRIO, ['ws-loop'], ['socketio'], ['nats-ws'], ['nchan'], ['nchan-auto']]);
    expect(fanoutGroups(['burst'], ['fanwire-ws', 'uws-publish'])).toEqual([['uws-publish', 'fanwire-ws']]);
  });

  it('runs the targets preset when nothing is named, so npm run bench prints every issue 11 target', () => {
    expect(parseBenchOptions([])).toEqual(parseBenchOptions(['--scenarios', 'targets']));
  });

  it('runs issue 4\'s six scenarios (suite) on every server but the batch=1 variants, nats-server and nginx + Nchan included, within 480 s plus 140 s per native peer', () => {
    const o = parseBenchOptions(['--scenarios', 'suite']);
    expect(o).toMatchObject({ scenarios: SCENARIOS, servers: EVERY, preset: null });
    expect(DEFAULT_SERVERS).toEqual(EVERY);
    expect(o.plan.budgetSeconds).toBe(480 + 3 * 140);
    expect(parseBenchOptions(['--scenarios', 'suite', '--servers', 'fanwire-uws,nchan']).plan.budgetSeconds).toBe(620);
    expect(parseBenchOptions(['--scenarios', 'suite', '--servers', 'fanwire-uws,uws-publish']).plan.budgetSeconds).toBe(480);
    expect(parseBenchOptions(['--scenarios', 'suite,cluster']).scenarios).toEqual([...SCENARIOS, 'cluster']);
  });

  it('runs the batch=1 variants when named, in the fan-out group of the servers they are compared with', () => {
    const o = parseBenchOptions(['--scenarios', 'burst', '--servers', 'fanwire-uws,uws-publish,fanwire-uws-batch,fanwire-ws-batch']);
    expect(o.servers).toEqual(['fanwire-uws', 'uws-publish', 'fanwire-uws-batch', 'fanwire-ws-batch']);
    expect(fanoutGroups(o.scenarios, o.servers)).toEqual([['fanwire-uws', 'uws-publish', 'fanwire-uws-batch', 'fanwire-ws-batch']]);
    expect(() => parseBenchOptions(['--servers', 'fanwire-uws-batchy'])).toThrow(/unknown "fanwire-uws-batchy"/);
  });

  describe('--scenarios targets', () => {
    it('expands to every scenario the issue 11 table reads, on the servers it compares, with its own budget', () => {
      const o = parseBenchOptions(['--scenarios', 'targets']);
      expect(o.scenarios).toEqual(['idle', 'burst', 'sustained', 'lowrate', 'publish', 'features']);
      expect(o.servers).toEqual(['fanwire-uws', 'uws-publish', 'fanwire-ws', 'ws-loop', 'fanwire-uws-batch']);
      expect(o.preset).toBe('targets');
      expect(o.plan.budgetSeconds).toBe(TARGETS_PRESET.budgetSeconds);
      expect(o.plan.sustained).toMatchObject({ rate: 48, subscribers: 10_000 });
      expect(o.plan.features).toMatchObject({ keys: 100, subscribers: 10_000 });
    });

    it('puts the three servers of targets 1-3 and fanwire-uws-batch in one fan-out group and gives ws-loop none', () => {
      const o = parseBenchOptions(['--scenarios', 'targets']);
      expect(fanoutGroups(o.scenarios, o.servers, o.preset)).toEqual([[...TRIO, 'fanwire-uws-batch']]);
    });

    it('merges with other names, and --servers, --budget and --quick still apply', () => {
      const o = parseBenchOptions(['--scenarios', 'stall,targets,burst', '--servers', 'fanwire-ws,uws-publish', '--budget', '900', '--quick']);
      expect(o.scenarios).toEqual(['stall', 'idle', 'burst', 'sustained', 'lowrate', 'publish', 'features']);
      expect(o.servers).toEqual(['fanwire-ws', 'uws-publish']);
      expect(o.plan.budgetSeconds).toBe(900);
      expect(o.plan.features.subscribers).toBe(1_000);
    });

    it('with scale added, keeps the pairs (three servers at 19k would be 57k subscribers at once)', () => {
      const o = parseBenchOptions(['--scenarios', 'targets,scale']);
      expect(fanoutGroups(o.scenarios, o.servers, o.preset)).toEqual([['fanwire-uws', 'uws-publish'], ['fanwire-ws'], ['ws-loop'], ['fanwire-uws-batch']]);
    });
  });
});
