/**
 * Issue #11's targets table (load/lib/targets.mjs) from synthetic scenario
 * rows: no sockets, no timings, so the computation cannot rot unnoticed.
 */
import { describe, expect, it } from 'vitest';
import { lowestP99 } from '../../load/lib/scenario-lowrate.mjs';
import { issue11Table, issue11Targets, NOT_MEASURED, targetsSummary, type TargetRow } from '../../load/lib/targets.mjs';

const plan = { burst: { subscribers: 10_000 }, lowrate: { subscribers: 10_000, rate: 5 } };
const ALL = ['scale', 'burst', 'stall', 'storm', 'publish', 'idle', 'lowrate'];

const burstRow = (server: string, deliveriesPerSec: number, extra: object = {}) => ({ server, deliveriesPerSec, gaps: 0, reorders: 0, latency: { p99Ms: 50 }, error: null, ...extra });
const lowRow = (server: string, p99Ms: number) => ({ server, deliveriesPerSec: 50_000, gaps: 0, reorders: 0, latency: { p99Ms }, error: null });
const pub = (server: string, batch: number, framesPerSec: number) => ({ server, kind: 'publish', batch, framesPerSec, eventsPerSec: framesPerSec * batch, errors: 0, error: null });

/** A run where every measured target is comfortably met. */
function allMet() {
  return {
    burst: [burstRow('fanwire-uws', 3_000_000), burstRow('uws-publish', 2_000_000), burstRow('fanwire-ws', 3_200_000), burstRow('ws-loop', 100_000)],
    idle: [
      { server: 'fanwire-uws', subscribers: 10_000, beforeKb: 50_000, idleKb: 65_000, perSubscriberKb: 1.5 },
      { server: 'fanwire-ws', subscribers: 10_000, beforeKb: 50_000, idleKb: 110_000, perSubscriberKb: 6 },
      { server: 'uws-publish', subscribers: 10_000, beforeKb: 40_000, idleKb: 51_000, perSubscriberKb: 1.1 },
    ],
    publish: [pub('fanwire-uws', 1, 150_000), pub('fanwire-uws', 100, 12_000), pub('fanwire-ws', 1, 120_000), pub('fanwire-ws', 100, 11_000)],
    lowrate: [lowRow('fanwire-uws', 2), lowRow('fanwire-ws', 2.5), lowRow('ws-loop', 3)],
    scale: [],
    stall: [],
    storm: [],
  };
}

const find = (rows: TargetRow[], id: string, has: string) => {
  const r = rows.find((x) => x.id === id && x.target.includes(has));
  if (!r) throw new Error(`no row ${id} with "${has}"`);
  return r;
};

describe('issue 11 targets', () => {
  it('has a row for every target, 1 to 7, in order', () => {
    const rows = issue11Targets({ scenarios: {} }, plan);
    expect([...new Set(rows.map((r) => r.id))]).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(rows).toHaveLength(14);
  });

  it('marks every measured target met when the figures pass', () => {
    const rows = issue11Targets({ scenarios: allMet(), ran: ALL }, plan);
    const t1 = find(rows, '1', 'fanwire-ws burst');
    expect(t1).toMatchObject({ status: 'met', figure: '1.60x' });
    expect(t1.measured).toBe('fanwire-ws 3.20M/s vs uws-publish 2.00M/s');
    expect(t1.value).toBeCloseTo(1.6);
    expect(t1.bound).toBe(1.5);
    expect(find(rows, '5', 'fanwire-uws idle').measured).toContain('with 10,000 idle subscribers');
    expect(find(rows, '3', 'fanwire-uws burst')).toMatchObject({ status: 'met', figure: '1.50x' });
    expect(find(rows, '4', 'fanwire-uws p99')).toMatchObject({ status: 'met', figure: '0.67x' });
    expect(find(rows, '4', 'fanwire-ws p99')).toMatchObject({ status: 'met', figure: '0.83x' });
    expect(find(rows, '5', 'fanwire-uws idle')).toMatchObject({ status: 'met', figure: '1.50 KB' });
    expect(find(rows, '5', 'fanwire-ws idle')).toMatchObject({ status: 'met', figure: '6.00 KB' });
    expect(find(rows, '6', 'fanwire-uws publish >= 1M')).toMatchObject({ status: 'met', figure: '1.20M events/s' });
    expect(find(rows, '6', 'fanwire-ws publish >= 100k')).toMatchObject({ status: 'met', figure: '120.0k frames/s' });
    // Targets with no scenario yet stay "not measured", never met.
    for (const r of rows.filter((x) => x.status !== 'met')) {
      expect(['2', '3', '7']).toContain(r.id);
      expect(r.status).toBe('not measured');
      expect(r.measured).toContain(NOT_MEASURED);
    }
    expect(targetsSummary(rows)).toEqual({ met: 10, missed: 0, notMeasured: 4 });
  });

  it('marks targets missed at the wrong side of each bound, and met exactly at it', () => {
    const s = allMet();
    s.burst = [burstRow('fanwire-uws', 2_000_000), burstRow('uws-publish', 2_000_000), burstRow('fanwire-ws', 2_900_000)];
    s.idle = [
      { server: 'fanwire-uws', subscribers: 10_000, beforeKb: 0, idleKb: 0, perSubscriberKb: 2 },
      { server: 'fanwire-ws', subscribers: 10_000, beforeKb: 0, idleKb: 0, perSubscriberKb: 7.4 },
    ];
    s.publish = [pub('fanwire-uws', 1, 99_000), pub('fanwire-uws', 100, 10_000), pub('fanwire-ws', 1, 100_000), pub('fanwire-ws', 100, 9_000)];
    s.lowrate = [lowRow('fanwire-uws', 3), lowRow('fanwire-ws', 6), lowRow('ws-loop', 3)];
    const rows = issue11Targets({ scenarios: s, ran: ALL }, plan);
    expect(find(rows, '1', 'fanwire-ws burst')).toMatchObject({ status: 'missed', figure: '1.45x' });
    expect(find(rows, '3', 'fanwire-uws burst')).toMatchObject({ status: 'missed', figure: '1.00x' });
    // Next to a bound the figure gets a third digit, so a miss never reads as the bound itself.
    s.burst = [burstRow('fanwire-ws', 2_994_000), burstRow('uws-publish', 2_000_000)];
    expect(find(issue11Targets({ scenarios: s, ran: ALL }, plan), '1', 'fanwire-ws burst')).toMatchObject({ status: 'missed', figure: '1.497x' });
    expect(find(rows, '4', 'fanwire-uws p99').status).toBe('met');
    expect(find(rows, '4', 'fanwire-ws p99')).toMatchObject({ status: 'missed', figure: '2.00x' });
    expect(find(rows, '5', 'fanwire-uws idle').status).toBe('met');
    expect(find(rows, '5', 'fanwire-ws idle').status).toBe('missed');
    expect(find(rows, '6', 'fanwire-uws publish >= 1M').status).toBe('met');
    expect(find(rows, '6', 'fanwire-uws publish >= 100k').status).toBe('missed');
    expect(find(rows, '6', 'fanwire-ws publish >= 1M').status).toBe('missed');
    expect(find(rows, '6', 'fanwire-ws publish >= 100k').status).toBe('met');
  });

  it('says "not measured in this run" for scenarios not run, servers not run and failed runs', () => {
    const s = allMet();
    s.burst = [burstRow('fanwire-ws', 3_000_000), { server: 'uws-publish', error: 'server did not start', failures: ['server did not start'] } as never];
    s.publish = [pub('fanwire-uws', 1, 150_000), pub('fanwire-uws', 100, 12_000)];
    const rows = issue11Targets({ scenarios: s, ran: ['burst', 'publish'] }, plan);
    const t1 = find(rows, '1', 'fanwire-ws burst');
    expect(t1.status).toBe('not measured');
    expect(t1.measured).toBe(`${NOT_MEASURED}: uws-publish failed (server did not start)`);
    expect(find(rows, '3', 'fanwire-uws burst').measured).toContain('fanwire-uws did not run');
    expect(find(rows, '5', 'fanwire-uws idle').measured).toBe(`${NOT_MEASURED}: the idle scenario did not run`);
    expect(find(rows, '4', 'fanwire-ws p99').measured).toBe(`${NOT_MEASURED}: the lowrate scenario did not run`);
    expect(find(rows, '6', 'fanwire-uws publish >= 1M').status).toBe('met');
    expect(find(rows, '6', 'fanwire-ws publish >= 1M').measured).toContain('fanwire-ws did not run');
    expect(targetsSummary(rows)).toEqual({ met: 2, missed: 0, notMeasured: 12 });
  });

  it('without `ran`, a scenario with rows counts as run', () => {
    const rows = issue11Targets({ scenarios: { idle: allMet().idle } }, plan);
    expect(find(rows, '5', 'fanwire-uws idle').status).toBe('met');
    expect(find(rows, '1', 'fanwire-ws burst').measured).toBe(`${NOT_MEASURED}: the burst scenario did not run`);
  });

  it('a fanwire run with gaps or reorders misses its target whatever its figure', () => {
    const s = allMet();
    s.burst[2] = burstRow('fanwire-ws', 9_000_000, { gaps: 3 });
    const rows = issue11Targets({ scenarios: s, ran: ALL }, plan);
    const t1 = find(rows, '1', 'fanwire-ws burst');
    expect(t1.status).toBe('missed');
    expect(t1.note).toContain('fanwire-ws 3 gaps');
    expect(find(rows, '3', 'fanwire-uws burst').status).toBe('met');
  });

  it('prints a table with every row and the counts', () => {
    const rows = issue11Targets({ scenarios: allMet(), ran: ALL }, plan);
    const text = issue11Table(rows, { quick: true });
    expect(text).toContain('Targets (issue 11)');
    expect(text).toContain('QUICK');
    expect(text.split('\n').filter((l) => /^[1-7] /.test(l))).toHaveLength(14);
    expect(text).toContain('10 met, 0 missed, 4 not measured in this run');
    expect(text).toMatch(/MISSED|met/);
  });

  it('the lowrate scenario keeps the run with the lowest p99 of each server, failed runs left out', () => {
    const runs = [
      { ...lowRow('fanwire-uws', 4), run: 1 },
      { ...lowRow('ws-loop', 3), run: 1 },
      { ...lowRow('ws-loop', 5), run: 2 },
      { ...lowRow('fanwire-uws', 2), run: 2 },
      { server: 'fanwire-ws', error: 'server exited', run: 1 },
    ];
    const best = lowestP99(runs);
    expect(Object.keys(best).sort()).toEqual(['fanwire-uws', 'ws-loop']);
    expect(best['fanwire-uws']!.run).toBe(2);
    expect(best['ws-loop']!.run).toBe(1);
  });
});
