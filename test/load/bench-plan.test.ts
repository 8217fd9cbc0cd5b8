/**
 * What `npm run bench` runs (load/lib/bench-plan.mjs): which servers share an
 * interleaved fan-out group, so each target compares runs of one sequence.
 */
import { describe, expect, it } from 'vitest';
import { fanoutGroups, SCENARIOS, TRIO } from '../../load/lib/bench-plan.mjs';

const EVERY = ['fanwire-uws', 'uws-publish', 'fanwire-ws', 'ws-loop', 'socketio'];

describe('bench plan', () => {
  it('keeps the default run (with scale and its 19k step) in pairs, as before issue 11', () => {
    expect(fanoutGroups(SCENARIOS, EVERY)).toEqual([['fanwire-uws', 'uws-publish'], ['fanwire-ws'], ['ws-loop'], ['socketio']]);
  });

  it('puts fanwire-uws, uws-publish and fanwire-ws in one group without scale', () => {
    expect(TRIO).toEqual(['fanwire-uws', 'uws-publish', 'fanwire-ws']);
    expect(fanoutGroups(['idle', 'burst', 'sustained'], EVERY)).toEqual([TRIO, ['ws-loop'], ['socketio']]);
    expect(fanoutGroups(['burst'], ['fanwire-ws', 'uws-publish'])).toEqual([['uws-publish', 'fanwire-ws']]);
  });
});
