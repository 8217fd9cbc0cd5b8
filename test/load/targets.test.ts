/**
 * Issue #11's targets table (load/lib/targets.mjs) from synthetic scenario
 * rows: no sockets, no timings, so the computation cannot rot unnoticed.
 */
import { describe, expect, it } from 'vitest';
import { bestRows, burstSides, interleaveOrder } from '../../load/lib/interleave.mjs';
import { featureNames } from '../../load/lib/scenario-features.mjs';
import { lowestP99 } from '../../load/lib/scenario-lowrate.mjs';
import { behindWhy, bestSustained } from '../../load/lib/sustained.mjs';
import { issue11Table, issue11Targets, NOT_MEASURED, targetsSummary, type TargetRow } from '../../load/lib/targets.mjs';

const plan = { burst: { subscribers: 10_000 }, lowrate: { subscribers: 10_000, rate: 5 }, sustained: { subscribers: 10_000, rate: 48 }, features: { keys: 100 } };
const ALL = ['scale', 'burst', 'stall', 'storm', 'publish', 'idle', 'lowrate', 'sustained', 'features'];

const burstRow = (server: string, deliveriesPerSec: number, extra: object = {}) => ({ server, deliveriesPerSec, gaps: 0, reorders: 0, latency: { p99Ms: 50 }, error: null, ...extra });
const lowRow = (server: string, p99Ms: number) => ({ server, deliveriesPerSec: 50_000, gaps: 0, reorders: 0, latency: { p99Ms }, error: null });
/** A sustained run at 480k deliveries/s offered; `behindAtEnd` > 0 or a low rate: it did not keep up. */
const sus = (server: string, p99Ms: number, extra: object = {}) => ({ server, kind: 'sustained', deliveriesPerSec: 480_000, offeredPerSec: 480_000, behindAtEnd: 0, gaps: 0, reorders: 0, latency: { p50Ms: p99Ms / 3, p99Ms }, error: null, ...extra });
/** A features burst of one fanwire transport: metrics on, metrics off, or over 100 topic:key filters. */
const feat = (transport: string, variant: 'metrics-on' | 'metrics-off' | 'filtered', deliveriesPerSec: number, extra: object = {}) => {
  const n = featureNames(transport, 100);
  const server = variant === 'metrics-on' ? n.on : variant === 'metrics-off' ? n.off : n.filtered;
  return { server, transport, variant, kind: 'features', deliveriesPerSec, burstDelivered: 1, windowS: 3_000_000 / deliveriesPerSec, gaps: 0, reorders: 0, latency: { p99Ms: 100 }, error: null, ...extra };
};
const pub = (server: string, batch: number, framesPerSec: number) => ({ server, kind: 'publish', batch, framesPerSec, eventsPerSec: framesPerSec * batch, errors: 0, error: null });

/** A run where every measured target is comfortably met. */
function allMet() {
  return {
    burst: [burstRow('fanwire-uws', 3_000_000), burstRow('uws-publish', 2_000_000), burstRow('fanwire-ws', 3_200_000), burstRow('ws-loop', 100_000)],
    /** The same burst in one TCP write (issue 23). */
    burstOneWrite: [burstRow('fanwire-uws', 2_600_000), burstRow('uws-publish', 2_000_000), burstRow('fanwire-ws', 3_100_000)],
    idle: [
      { server: 'fanwire-uws', subscribers: 10_000, beforeKb: 50_000, idleKb: 65_000, perSubscriberKb: 1.5 },
      { server: 'fanwire-ws', subscribers: 10_000, beforeKb: 50_000, idleKb: 110_000, perSubscriberKb: 6 },
      { server: 'uws-publish', subscribers: 10_000, beforeKb: 40_000, idleKb: 51_000, perSubscriberKb: 1.1 },
    ],
    publish: [pub('fanwire-uws', 1, 150_000), pub('fanwire-uws', 100, 12_000), pub('fanwire-ws', 1, 120_000), pub('fanwire-ws', 100, 11_000)],
    lowrate: [lowRow('fanwire-uws', 2), lowRow('fanwire-ws', 2.5), lowRow('ws-loop', 3)],
    sustained: [sus('fanwire-uws', 40), sus('uws-publish', 50), sus('fanwire-ws', 45)],
    features: [
      feat('fanwire-uws', 'metrics-on', 3_000_000),
      feat('fanwire-uws', 'metrics-off', 3_050_000),
      feat('fanwire-uws', 'filtered', 2_700_000),
      feat('fanwire-ws', 'metrics-on', 3_300_000),
      feat('fanwire-ws', 'metrics-off', 3_200_000),
      feat('fanwire-ws', 'filtered', 2_900_000),
    ],
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
    expect(rows).toHaveLength(18);
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
    expect(find(rows, '2', 'fanwire-ws sustained')).toMatchObject({ status: 'met', figure: '0.90x', measured: 'fanwire-ws 45.0 ms vs uws-publish 50.0 ms' });
    expect(find(rows, '2', 'fanwire-ws sustained').target).toContain('480,000 deliveries/s (48 events/s at 10,000 subscribers)');
    expect(find(rows, '3', 'fanwire-uws sustained')).toMatchObject({ status: 'met', figure: '0.80x' });
    expect(find(rows, '7', 'fanwire-uws metrics on vs off')).toMatchObject({ status: 'met', figure: '0.98x', measured: 'fanwire-uws 3.00M/s vs fanwire-uws metrics off 3.05M/s' });
    expect(find(rows, '7', 'fanwire-ws metrics on vs off')).toMatchObject({ status: 'met', figure: '1.03x' });
    expect(find(rows, '7', 'fanwire-uws 100 topic:key filters')).toMatchObject({ status: 'met', figure: '0.90x', measured: 'fanwire-uws 100 filters 2.70M/s vs fanwire-uws 3.00M/s' });
    expect(find(rows, '7', 'fanwire-ws 100 topic:key filters')).toMatchObject({ status: 'met', figure: '0.88x' });
    expect(find(rows, '1', 'fanwire-ws burst peak deliveries/s >= 1.5x uws-publish at 10,000 subscribers, the burst in one write')).toMatchObject({ status: 'met', figure: '1.55x', measured: 'fanwire-ws 3.10M/s vs uws-publish 2.00M/s' });
    expect(find(rows, '3', 'fanwire-uws burst peak deliveries/s >= 1.2x uws-publish at 10,000 subscribers, the burst in one write')).toMatchObject({ status: 'met', figure: '1.30x' });
    expect(targetsSummary(rows)).toEqual({ met: 18, missed: 0, notMeasured: 0 });
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
    s.burstOneWrite = [];
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
    expect(targetsSummary(rows)).toEqual({ met: 2, missed: 0, notMeasured: 16 });
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
    expect(text.split('\n').filter((l) => /^[1-7] /.test(l))).toHaveLength(18);
    expect(text).toContain('18 met, 0 missed, 0 not measured in this run');
    expect(text).toMatch(/MISSED|met/);
  });

  describe('sustained p99 (targets 2 and 3)', () => {
    const judge = (sustained: object[]) => {
      const rows = issue11Targets({ scenarios: { ...allMet(), sustained }, ran: ALL }, plan);
      return { ws: find(rows, '2', 'fanwire-ws sustained'), uws: find(rows, '3', 'fanwire-uws sustained') };
    };

    it('misses above 1.0x the peer, meets exactly at it', () => {
      const { ws, uws } = judge([sus('fanwire-uws', 50), sus('uws-publish', 50), sus('fanwire-ws', 61)]);
      expect(ws).toMatchObject({ status: 'missed', figure: '1.22x', value: 1.22, bound: 1 });
      expect(uws).toMatchObject({ status: 'met', figure: '1.000x' });
    });

    it('a fanwire run that fell behind misses, flagged with why, whatever its p99', () => {
      const { ws, uws } = judge([sus('fanwire-uws', 20, { deliveriesPerSec: 300_000 }), sus('uws-publish', 50), sus('fanwire-ws', 30, { behindAtEnd: 120_000 })]);
      expect(ws.status).toBe('missed');
      expect(ws.note).toBe('fanwire-ws did not keep up: 120,000 deliveries still owed at the end');
      expect(uws.status).toBe('missed');
      expect(uws.note).toContain('fanwire-uws did not keep up: delivered 63% of the offered rate');
    });

    it('a peer that fell behind leaves the rows unmeasured: no ratio to a p99 that grows with the run', () => {
      const { ws, uws } = judge([sus('fanwire-uws', 40), sus('uws-publish', 900, { behindAtEnd: 5 }), sus('fanwire-ws', 45)]);
      for (const r of [ws, uws]) {
        expect(r.status).toBe('not measured');
        expect(r.measured).toContain(`${NOT_MEASURED}: uws-publish did not keep up (5 deliveries still owed at the end)`);
      }
    });

    it('a failed run, a missing server or a scenario not run is not measured', () => {
      const { ws, uws } = judge([sus('fanwire-uws', 40), { server: 'uws-publish', kind: 'sustained', error: 'server exited during the run' }]);
      expect(ws.measured).toBe(`${NOT_MEASURED}: fanwire-ws did not run, uws-publish failed (server exited during the run)`);
      expect(uws.status).toBe('not measured');
      const rows = issue11Targets({ scenarios: allMet(), ran: ['burst'] }, plan);
      expect(find(rows, '2', 'sustained').measured).toBe(`${NOT_MEASURED}: the sustained scenario did not run`);
    });

    it('gaps in a fanwire run miss the target', () => {
      const { ws } = judge([sus('fanwire-uws', 40), sus('uws-publish', 50), sus('fanwire-ws', 10, { gaps: 2 })]);
      expect(ws.status).toBe('missed');
      expect(ws.note).toContain('FAILURE: fanwire-ws 2 gaps');
    });

    it('keeps each server\'s lowest p99 among the runs that kept up, any run only when none did', () => {
      const runs = [
        { ...sus('fanwire-ws', 30, { behindAtEnd: 10 }), run: 1 },
        { ...sus('uws-publish', 60), run: 1 },
        { ...sus('uws-publish', 55), run: 2 },
        { ...sus('fanwire-ws', 70), run: 2 },
        { ...sus('fanwire-uws', 90, { deliveriesPerSec: 100_000 }), run: 1 },
        { ...sus('fanwire-uws', 80, { deliveriesPerSec: 200_000 }), run: 2 },
        { server: 'fanwire-uws', error: 'boom', run: 3 },
      ];
      const best = bestSustained(runs);
      expect(best['fanwire-ws']!.run).toBe(2);
      expect(best['uws-publish']!.run).toBe(2);
      expect(best['fanwire-uws']!.run).toBe(2);
      expect(behindWhy(best['fanwire-uws']!)).toBe('delivered 42% of the offered rate');
      expect(bestRows(runs, bestSustained).map((r) => [r.server, r.runs])).toEqual([['fanwire-ws', 2], ['uws-publish', 2], ['fanwire-uws', 3]]);
    });
  });

  describe('features on (target 7)', () => {
    const judge = (features: object[], ran = ALL) => {
      const rows = issue11Targets({ scenarios: { ...allMet(), features }, ran }, plan);
      return {
        uwsMetrics: find(rows, '7', 'fanwire-uws metrics'),
        wsMetrics: find(rows, '7', 'fanwire-ws metrics'),
        uwsFilters: find(rows, '7', 'fanwire-uws 100 topic:key'),
        wsFilters: find(rows, '7', 'fanwire-ws 100 topic:key'),
      };
    };

    it('misses metrics on more than 3% slower than off, and filters under 0.8x; met exactly at the bounds', () => {
      const r = judge([
        feat('fanwire-uws', 'metrics-on', 2_900_000),
        feat('fanwire-uws', 'metrics-off', 3_000_000),
        feat('fanwire-uws', 'filtered', 210_000),
        feat('fanwire-ws', 'metrics-on', 2_910_000),
        feat('fanwire-ws', 'metrics-off', 3_000_000),
        feat('fanwire-ws', 'filtered', 2_328_000),
      ]);
      expect(r.uwsMetrics).toMatchObject({ status: 'missed', figure: '0.967x' });
      expect(r.wsMetrics).toMatchObject({ status: 'met', figure: '0.970x' });
      expect(r.uwsFilters).toMatchObject({ status: 'missed', figure: '0.07x', bound: 0.8 });
      expect(r.uwsFilters.value).toBeCloseTo(0.0724, 3);
      expect(r.wsFilters).toMatchObject({ status: 'met', figure: '0.800x' });
    });

    it('metrics on faster than off is noise, not a failure', () => {
      const r = judge([feat('fanwire-uws', 'metrics-on', 3_300_000), feat('fanwire-uws', 'metrics-off', 3_000_000)]);
      expect(r.uwsMetrics).toMatchObject({ status: 'met', figure: '1.10x' });
    });

    it('says not measured when the scenario, a side, or a run is missing or failed', () => {
      const r = judge([feat('fanwire-uws', 'metrics-on', 3_000_000), { server: 'fanwire-uws metrics off', transport: 'fanwire-uws', variant: 'metrics-off', error: 'server exited (code 1)' }]);
      expect(r.uwsMetrics.measured).toBe(`${NOT_MEASURED}: fanwire-uws metrics off failed (server exited (code 1))`);
      expect(r.uwsFilters.measured).toBe(`${NOT_MEASURED}: fanwire-uws 100 filters did not run`);
      expect(r.wsMetrics.measured).toBe(`${NOT_MEASURED}: fanwire-ws did not run, fanwire-ws metrics off did not run`);
      expect(judge(allMet().features, ['burst']).wsFilters.measured).toBe(`${NOT_MEASURED}: the features scenario did not run`);
    });

    it('a gap or reorder in either burst misses the row, whatever the ratio', () => {
      const r = judge([
        feat('fanwire-uws', 'metrics-on', 3_000_000),
        feat('fanwire-uws', 'metrics-off', 3_000_000, { reorders: 1 }),
        feat('fanwire-uws', 'filtered', 3_000_000, { gaps: 4 }),
      ]);
      expect(r.uwsMetrics).toMatchObject({ status: 'missed', note: 'FAILURE: fanwire-uws metrics off 0 gaps, 1 reorders' });
      expect(r.uwsFilters).toMatchObject({ status: 'missed', note: 'FAILURE: fanwire-uws 100 filters 4 gaps, 0 reorders' });
    });

    it('a burst that did not all arrive in its time is judged on its rate and flagged', () => {
      const r = judge([feat('fanwire-ws', 'metrics-on', 3_000_000), feat('fanwire-ws', 'filtered', 80_000, { burstDelivered: 0.8, windowS: 30 })]);
      expect(r.wsFilters).toMatchObject({ status: 'missed', figure: '0.03x', note: 'fanwire-ws 100 filters delivered 80.0% of its burst within 30.0 s' });
    });
  });

  describe('the burst in one write (issue 23)', () => {
    const ONE = ', the burst in one write';
    const oneRow = (rows: TargetRow[], id: string, server: string) => {
      const r = rows.find((x) => x.id === id && x.target.startsWith(`${server} burst`) && x.target.endsWith(ONE));
      if (!r) throw new Error(`no one-write row ${id} for ${server}`);
      return r;
    };

    it('judges the one-write rows on their own figures, with the bounds of targets 1 and 3, beside the one-send-per-frame rows', () => {
      const s = allMet();
      s.burstOneWrite = [burstRow('fanwire-uws', 1_400_000), burstRow('uws-publish', 2_000_000), burstRow('fanwire-ws', 3_000_000)];
      const rows = issue11Targets({ scenarios: s, ran: ALL }, plan);
      expect(oneRow(rows, '3', 'fanwire-uws')).toMatchObject({ status: 'missed', figure: '0.70x', value: 0.7, bound: 1.2 });
      expect(oneRow(rows, '1', 'fanwire-ws')).toMatchObject({ status: 'met', figure: '1.500x', bound: 1.5 });
      // The rows read by server name stay the one-send-per-frame burst's.
      expect(find(rows, '3', 'fanwire-uws burst')).toMatchObject({ status: 'met', figure: '1.50x' });
      expect(find(rows, '3', 'fanwire-uws burst').target.endsWith(ONE)).toBe(false);
    });

    it('says not measured for a record without one-write rows, or with a side missing or lossy', () => {
      const s: Record<string, unknown> = allMet();
      delete s.burstOneWrite;
      let rows = issue11Targets({ scenarios: s, ran: ALL }, plan);
      expect(oneRow(rows, '1', 'fanwire-ws').measured).toBe(`${NOT_MEASURED}: the burst (one write) scenario did not run`);
      expect(find(rows, '1', 'fanwire-ws burst').status).toBe('met');
      s.burstOneWrite = [burstRow('fanwire-uws', 3_000_000, { reorders: 2 }), burstRow('uws-publish', 2_000_000)];
      rows = issue11Targets({ scenarios: s, ran: ALL }, plan);
      expect(oneRow(rows, '1', 'fanwire-ws').measured).toBe(`${NOT_MEASURED}: fanwire-ws did not run`);
      expect(oneRow(rows, '3', 'fanwire-uws')).toMatchObject({ status: 'missed', note: 'FAILURE: fanwire-uws 0 gaps, 2 reorders' });
    });

    it('orders the burst runs pattern by pattern, interleaved across servers and patterns, on shared sessions', () => {
      const sides = ['A', 'B'].map((name) => ({ spec: { name }, session: { name }, log: () => {}, dead: false }));
      const order = interleaveOrder(burstSides(sides as never, ['frames', 'one']));
      expect(order.map((x) => `${x.spec.name}-${x.write}`)).toEqual(['A-frames', 'B-frames', 'A-one', 'B-one', 'B-one', 'A-one', 'B-frames', 'A-frames']);
      expect(order[0]!.session).toBe(order[2]!.session);
      sides[1]!.dead = true;
      expect(order.filter((x) => !x.dead).map((x) => `${x.spec.name}-${x.write}`)).toEqual(['A-frames', 'A-one', 'A-one', 'A-frames']);
    });
  });

  it('adds rows for a batch=1 variant only where the run measured it, judged on the same bounds', () => {
    const sc = allMet();
    expect(issue11Targets({ scenarios: sc, ran: ALL }, plan).some((r) => r.target.includes('batch=1'))).toBe(false);
    sc.burst.push(burstRow('fanwire-uws-batch', 2_300_000));
    sc.features.push(feat('fanwire-uws-batch', 'metrics-on', 4_000_000), feat('fanwire-uws-batch', 'filtered', 3_000_000));
    const rows = issue11Targets({ scenarios: sc, ran: ALL }, plan);
    const burst = find(rows, '3', 'fanwire-uws-batch (batch=1) burst');
    expect(burst).toMatchObject({ status: 'missed', figure: '1.15x' });
    const filters = find(rows, '7', 'fanwire-uws-batch (batch=1) 100 topic:key filters');
    expect(filters).toMatchObject({ status: 'missed', figure: '0.75x' });
    // Rows stay grouped by target number.
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort());
  });

  it('interleaves N servers A B C C B A (two: A B B A, one: once)', () => {
    expect(interleaveOrder(['A', 'B', 'C'])).toEqual(['A', 'B', 'C', 'C', 'B', 'A']);
    expect(interleaveOrder(['A', 'B'])).toEqual(['A', 'B', 'B', 'A']);
    expect(interleaveOrder(['A'])).toEqual(['A']);
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
