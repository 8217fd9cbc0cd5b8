/**
 * docs/benchmarks.md, which the README's performance figures come from, is
 * rendered by `npm run bench` from its record (load/lib/benchmarks-doc.mjs).
 * These tests render two recorded runs, trimmed to the fields a page reads
 * (test/fixtures/bench-targets.json from a targets run, bench-suite.json from
 * a `--scenarios suite` run with two of its four scale steps), and check the
 * lines a reader relies on, so the renderer cannot break without notice.
 * The targets fixture's `burstOneWrite` rows (the burst in one TCP write,
 * issue 23) come from a later run of the burst scenario on a busy machine;
 * the suite fixture predates them and shows how such records still render.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBenchOptions } from '../../load/lib/bench-plan.mjs';
import { commandOf, renderBenchmarks, writeBenchmarksDoc } from '../../load/lib/benchmarks-doc.mjs';
import { versions } from '../../load/lib/versions.mjs';

type Rec = Record<string, any>;
const fixture = (name: string): Rec => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const VERSIONS = { node: 'v20.20.2', fanwire: '0.1.0', ws: '8.23.0', 'uWebSockets.js': 'uwebsockets@3.0.6', 'socket.io': '4.8.4' };
/** A targets run as bench.mjs records it now: with its command line and library versions. */
const targetsRun = (): Rec => ({ ...fixture('bench-targets.json'), argv: [], versions: VERSIONS });
const lines = (page: string) => page.split('\n');
const headings = (page: string) => lines(page).filter((l) => l.startsWith('## '));

/** Every markdown table of the page, as rows of cells (the header first, the alignment row left out). */
function tables(page: string): string[][][] {
  const out: string[][][] = [];
  let cur: string[][] | null = null;
  for (const l of lines(page)) {
    if (!l.startsWith('|')) {
      cur = null;
      continue;
    }
    if (!cur) out.push((cur = []));
    if (/^\| (-{3}|-{3}:)( \| (-{3}|-{3}:))* \|$/.test(l)) continue;
    cur.push(l.slice(2, -2).split(/(?<!\\) \| /));
  }
  return out;
}

describe('docs/benchmarks.md renderer', () => {
  describe('a targets run (npm run bench)', () => {
    const page = renderBenchmarks(targetsRun(), { recordFile: '/x/load/results/bench-2026-11-25T09-53-15Z.json' });

    it('describes the machine, the software, the command and the date', () => {
      expect(lines(page)[0]).toBe('# Benchmarks');
      expect(page).toContain('from load/results/bench-2026-11-25T09-53-15Z.json.');
      expect(page).toContain('- **Machine**: 2 x AMD EPYC, 24 GiB, Linux 6.18.44-fc-v669. Server, load client and publisher share these cores');
      expect(lines(page)).toContain('- **Software**: Node v20.20.2, fanwire 0.1.0, ws 8.23.0, uWebSockets.js uwebsockets@3.0.6, socket.io 4.8.4.');
      expect(lines(page)).toContain('- **Command**: `npm run bench` (scenarios idle, burst, sustained, lowrate, publish, features).');
      expect(page).toContain('- **When**: 2026-11-25 09:53 UTC, 8.1 minutes.');
      expect(lines(page)).toContain('  - `uws-publish`: plain uWebSockets.js, its native `app.publish`');
    });

    it('has one section per scenario the run measured, then the targets and what did not run', () => {
      expect(headings(page)).toEqual([
        '## Peak throughput: a burst of 300 events',
        '## Sustained: 480,000 deliveries/s',
        '## Low rate: 50,000 deliveries/s',
        '## Features on: metrics and topic:key filters',
        '## Publish path',
        '## Idle memory',
        '## Targets',
        '## Not run',
        '## More',
      ]);
    });

    it('shows each server best-of figure and fanwire over each peer', () => {
      expect(lines(page)).toContain('| fanwire-ws | a send per frame | best of 4 | 5,319,117 | 100% | 557 | 0 / 0 |');
      expect(lines(page)).toContain('Ratios, a send per frame (higher is better for fanwire): fanwire-uws / uws-publish **1.58x**, fanwire-ws / uws-publish **1.96x**, fanwire-uws-batch / uws-publish **2.16x**.');
      expect(lines(page)).toContain('| fanwire-uws | best of 4 | 481,115 | 100.2% | 55.6 | 127 | yes |');
      expect(lines(page)).toContain('p99 ratios (lower is better for fanwire): fanwire-uws / uws-publish **0.71x**, fanwire-ws / uws-publish **0.57x**.');
      expect(lines(page)).toContain('p99 ratios (lower is better for fanwire): fanwire-uws / ws-loop **0.88x**, fanwire-ws / ws-loop **1.01x**.');
      expect(lines(page)).toContain('- fanwire-ws: metrics on / off **0.95x**, 100 filters / unfiltered **0.82x**');
      expect(lines(page)).toContain('| fanwire-ws | 100 | 1,177,467 | 11,775 | 8.64 | 69.6 | 0 |');
      expect(lines(page)).toContain('| fanwire-ws | 10,000 | 69 / 115 | 4.65 |');
    });

    it('shows the burst under both arrival patterns, a row per server and pattern, with the ratios of each', () => {
      expect(page).toContain('"burst arrives": a send per frame, the producer sends each event as its own WebSocket message');
      expect(page).toContain('one write, every frame of the burst in one TCP write (a producer flushing a backlog');
      expect(lines(page)).toContain('| fanwire-uws | one write | best of 2 | 4,714,672 | 100% | 631 | 0 / 0 |');
      expect(lines(page)).toContain('| uws-publish | one write | best of 2 | 2,828,283 | 100% | 1028 | 0 / 0 |');
      expect(lines(page)).toContain('Ratios, one write (higher is better for fanwire): fanwire-uws / uws-publish **1.67x**, fanwire-ws / uws-publish **2.31x**.');
      const burst = tables(page)[0]!;
      expect(burst[0]).toEqual(['server', 'burst arrives', 'runs', 'deliveries/s', 'delivered', 'p99 ms', 'gaps / reorders']);
      expect(burst.slice(1).map((r) => `${r[0]} ${r[1]}`)).toEqual([
        'fanwire-uws a send per frame',
        'uws-publish a send per frame',
        'fanwire-ws a send per frame',
        'fanwire-uws-batch a send per frame',
        'fanwire-uws one write',
        'uws-publish one write',
        'fanwire-ws one write',
      ]);
    });

    it('lists the measured targets with their result, and counts the rest', () => {
      expect(lines(page)).toContain('| 1 | fanwire-ws burst peak deliveries/s >= 1.5x uws-publish at 10,000 subscribers | fanwire-ws 5.32M/s vs uws-publish 2.72M/s | 1.96x | met |');
      expect(lines(page)).toContain('| 4 | fanwire-ws p99 <= 1.0x ws-loop at 50,000 deliveries/s (5 events/s at 10,000 subscribers) | fanwire-ws 113 ms vs ws-loop 111 ms | 1.01x | **missed** |');
      expect(page).not.toContain('Suite targets');
    });

    it('groups what was skipped by scenario and reason', () => {
      expect(page).toContain('- publish on uws-publish, ws-loop, fanwire-uws-batch: acked publishing');
    });

    it('gives every table row as many cells as its header', () => {
      const all = tables(page);
      expect(all).toHaveLength(7);
      for (const t of all) for (const row of t) expect(row, row.join(' | ')).toHaveLength(t[0]!.length);
    });
  });

  describe('a suite run (npm run bench:suite)', () => {
    const page = renderBenchmarks(fixture('bench-suite.json'));

    it('names the command and says the record does not name library versions', () => {
      expect(lines(page)).toContain('- **Command**: `npm run bench:suite` (scenarios scale, burst, stall, storm, publish, idle).');
      expect(lines(page)).toContain("- **Software**: Node v20.20.2 (the record does not name the libraries' versions).");
    });

    it('renders a record from before the one-write burst with its one pattern, ratios unlabelled', () => {
      expect(lines(page)).toContain('| fanwire-uws | a send per frame | best of 2 | 3,808,193 | 100% | 782 | 0 / 0 |');
      expect(page).not.toContain('| one write |');
      expect(lines(page).filter((l) => l.startsWith('Ratios (higher is better for fanwire): fanwire-uws / uws-publish **1.36x**'))).toHaveLength(1);
    });

    it('renders the scale, stall and storm tables', () => {
      expect(headings(page)).toEqual([
        '## Peak throughput: a burst of 300 events',
        '## Fan-out scale: 1,000,000 deliveries/s offered',
        '## Slow consumers: 10% stop reading',
        '## Resume storm',
        '## Publish path',
        '## Idle memory',
        '## Targets',
        '## Suite targets',
        '## Not run',
        '## More',
      ]);
      expect(lines(page)).toContain('| subscribers | fanwire-uws | uws-publish | fanwire-ws | ws-loop | socketio |');
      expect(lines(page)).toContain('| 10,000 | 1,005,483/s, p99 222 ms | 997,699/s, p99 206 ms | 997,812/s, p99 215 ms | 110,425/s, p99 3572 ms, 3,341,531 owed | 75,592/s, p99 3326 ms, 3,730,000 owed |');
      expect(lines(page)).toContain('At 10,000 subscribers, deliveries/s ratios (higher is better for fanwire): fanwire-uws / uws-publish **1.01x**, fanwire-uws / ws-loop **9.11x**, fanwire-uws / socketio **13.3x**, fanwire-ws / uws-publish **1.00x**, fanwire-ws / ws-loop **9.04x**, fanwire-ws / socketio **13.2x**.');
      expect(lines(page)).toContain('| fanwire-uws | 276 | 181 | 0.66x | 995 of 1,000 | 86 / 112 | 0 / 0 |');
      expect(page).toMatch(/^\| ws-loop \| 5571 \|  \|  \| no stalled run: unstalled, it delivered 21% of the offered load/m);
      expect(lines(page)).toContain('| fanwire-uws | 10,000 | 1.72 | 0 | 0 | 0 | 0 / 0 | 0 |');
      expect(lines(page)).toContain('| fanwire-ws | 10,000 | not within 30 | 3,237 | 0 | 0 | 0 / 0 | 0 |');
      expect(lines(page)).toContain('| fanwire-ws resume storm misses nothing | 3,237 not back within 30 s, 0 gaps, 0 deliveries still owed to the resumed after the drain | **missed** |');
      for (const t of tables(page)) for (const row of t) expect(row, row.join(' | ')).toHaveLength(t[0]!.length);
    });
  });

  it('names the command as typed when the record keeps it', () => {
    expect(commandOf({ ...fixture('bench-suite.json'), argv: ['--scenarios', 'suite'] })).toBe('npm run bench -- --scenarios suite');
    expect(commandOf({ ...fixture('bench-suite.json'), servers: ['fanwire-uws'] })).toBe('npm run bench -- --scenarios scale,burst,stall,storm,publish,idle --servers fanwire-uws');
    expect(commandOf({ createdAt: '2026-11-25T01:25:53.000Z' })).toBeNull();
  });

  it('marks lost or reordered events and failed servers instead of hiding them', () => {
    const rec = targetsRun();
    rec.scenarios.burst[0] = { ...rec.scenarios.burst[0], gaps: 3 };
    rec.scenarios.burst[1] = { server: 'uws-publish', runs: 1, error: 'server exited with code 1' };
    const page = renderBenchmarks(rec);
    expect(lines(page)).toContain('| fanwire-uws | a send per frame | best of 4 | 4,296,467 | 100% | 692 | **3 / 0** |');
    expect(lines(page)).toContain('| uws-publish | a send per frame |  |  |  |  | failed: server exited with code 1 |');
    // The burst has no peer left to compare with: no ratio line rather than a ratio to nothing.
    expect(lines(page).filter((l) => l.startsWith('Ratios (higher is better'))).toEqual([]);
  });

  it('says a --quick run measured nothing', () => {
    expect(renderBenchmarks({ ...targetsRun(), quick: true })).toContain('**A `--quick` run: a tenth of the subscribers, shorter waits. It checks that everything runs; it measures nothing.**');
  });

  it('prints versions given for a record that names none, saying where they come from', () => {
    expect(renderBenchmarks(fixture('bench-suite.json'), { versions: VERSIONS })).toContain('- **Software**: Node v20.20.2, fanwire 0.1.0, ws 8.23.0, uWebSockets.js uwebsockets@3.0.6, socket.io 4.8.4 (libraries as installed when this page was rendered: the record does not name them).');
  });

  describe('writing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fanwire-benchmarks-doc-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('writes the page to the file it is given, leaving no temporary file', () => {
      const file = path.join(dir, 'docs', 'benchmarks.md');
      expect(writeBenchmarksDoc(targetsRun(), {}, file)).toBe(file);
      expect(readFileSync(file, 'utf8')).toBe(renderBenchmarks(targetsRun()));
      expect(readdirSync(path.dirname(file))).toEqual(['benchmarks.md']);
    });

    it('is done by npm run bench, except with --quick or --no-docs', () => {
      expect(parseBenchOptions([]).docs).toBe(true);
      expect(parseBenchOptions(['--scenarios', 'suite']).docs).toBe(true);
      expect(parseBenchOptions(['--quick']).docs).toBe(false);
      expect(parseBenchOptions(['--no-docs']).docs).toBe(false);
    });

    it('records the installed library versions with every run', () => {
      const ws = JSON.parse(readFileSync(new URL('../../node_modules/ws/package.json', import.meta.url), 'utf8')) as { version: string };
      expect(versions()).toMatchObject({ node: process.version, ws: ws.version });
    });
  });

  it('the committed page is a rendering the README can link to', () => {
    const committed = new URL('../../docs/benchmarks.md', import.meta.url);
    expect(existsSync(committed)).toBe(true);
    const text = readFileSync(committed, 'utf8');
    expect(lines(text)[0]).toBe('# Benchmarks');
    expect(text).toContain('<!-- Generated by `npm run bench` (load/lib/benchmarks-doc.mjs)');
  });
});
