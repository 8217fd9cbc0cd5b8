/**
 * The dashboard page in a real Chromium (Debian's, driven by playwright-core)
 * against the real CLI gateway. The page streams through a TCP proxy so the
 * test can restart the gateway (new epoch) and cut the network under it.
 * A screenshot is saved to test-results/dashboard.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SignJWT, type JWTPayload } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPublisher, type Publisher } from '../../src/client/index.js';
import { TRANSPORTS, TcpProxy, spawnGateway, startTestGateway, until, type CliGateway } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  if (process.env.CI) throw new Error('chromium (Debian package chromium) is required under CI=true');
  console.warn('\n*** SKIPPING the browser suite: /usr/bin/chromium not found (apt-get install chromium) ***\n');
}
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

describe.skipIf(!hasChromium)('dashboard page in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let gw: CliGateway;
  let proxy: TcpProxy;
  let pub: Publisher;

  /** The indexes shown in the events table, oldest first. */
  const shownIndexes = async (): Promise<number[]> =>
    (await page.locator('[data-testid=events] tr').evaluateAll((rows) => rows.map((r) => Number((r as unknown as { dataset: { index: string } }).dataset.index)))).reverse();
  const waitForShown = (expected: number[]) =>
    until(async () => JSON.stringify(await shownIndexes()) === JSON.stringify(expected), `table to show ${JSON.stringify(expected)}`, 15_000);
  const state = () => page.locator('[data-testid=state]').textContent();

  beforeAll(async () => {
    gw = await spawnGateway(['--heartbeat', '2s']);
    proxy = await TcpProxy.start(Number(new URL(gw.http).port));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    page = await browser.newPage();
    await page.goto(`${gw.http}/?gateway=${encodeURIComponent(proxy.url)}`);
    await until(async () => (await state()) === 'live', 'the page to go live', 15_000);
    pub = await connectPublisher({ url: gw.ws });
  }, 60_000);

  afterAll(async () => {
    await pub?.close().catch(() => {});
    await browser?.close();
    await proxy?.close();
    await gw?.stop();
  });

  it('shows published events in order, with the gateway epoch and the current index', async () => {
    for (let i = 1; i <= 5; i++) await pub.publish({ topic: 'orders', key: `o-${i}`, payload: { n: i } });
    await waitForShown([1, 2, 3, 4, 5]);
    expect(await page.locator('[data-testid=index]').textContent()).toBe('5');
    expect(await page.locator('[data-testid=epoch]').textContent()).toBe(gw.logs[0]!.epoch);
    expect(await page.locator('[data-testid=events] tr').first().locator('td').nth(1).textContent()).toBe('orders');
  });

  it('reports the gap when the gateway restarts (new epoch), then shows the new events', async () => {
    const oldEpoch = gw.logs[0]!.epoch as string;
    await pub.close();
    await gw.stop();
    gw = await spawnGateway(['--heartbeat', '2s']);
    proxy.targetPort = Number(new URL(gw.http).port);
    pub = await connectPublisher({ url: gw.ws });
    await until(async () => ((await page.locator('[data-testid=notices]').textContent()) ?? '').includes('gateway restarted'), 'the gap notice', 20_000);
    await until(async () => (await state()) === 'live', 'live again', 15_000);
    const newEpoch = gw.logs[0]!.epoch as string;
    expect(newEpoch).not.toBe(oldEpoch);
    for (let i = 1; i <= 3; i++) await pub.publish({ topic: 'orders', key: `n-${i}`, payload: { n: i } });
    await waitForShown([1, 2, 3, 4, 5, 1, 2, 3]); // the old epoch's rows stay, the new stream follows
    expect(await page.locator('[data-testid=epoch]').textContent()).toBe(newEpoch);
  });

  it('resumes with no missing index when only the socket is dropped', async () => {
    proxy.drop(); // the network, not the gateway
    for (let i = 4; i <= 8; i++) await pub.publish({ topic: 'orders', key: `n-${i}`, payload: { n: i } });
    await waitForShown([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await state()).toBe('live');
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: `${RESULTS}dashboard.png`, fullPage: true });
  });

  it('shows the newest event per topic and key: a page opened later has it from the snapshot, and both keep it current', async () => {
    await pub.publish({ topic: 'prices', key: 'a', payload: 1 });
    await pub.publish({ topic: 'prices', key: 'b', payload: 2 });
    await pub.publish({ topic: 'prices', key: 'a', payload: 3 });
    const prices = (p: Page) =>
      p.locator('[data-testid=state-table] tr[data-topic=prices]').evaluateAll((trs) => trs.map((tr) => Array.from((tr as unknown as { children: ArrayLike<{ textContent: string | null }> }).children, (td) => td.textContent)));
    const later = await browser.newPage();
    try {
      await later.goto(`${gw.http}/`);
      for (const p of [page, later]) {
        await until(async () => JSON.stringify((await prices(p)).map((r) => [r[1], r[3]])) === '[["a","3"],["b","2"]]' || undefined, 'the state table', 15_000);
      }
      // The later page joined after these were published: it has them from the snapshot alone, none in its event list.
      expect(await later.locator('[data-testid=events] tr').count()).toBe(0);
      await pub.publish({ topic: 'prices', key: 'b', payload: 4 });
      for (const p of [page, later]) {
        await until(async () => JSON.stringify((await prices(p)).map((r) => [r[1], r[3]])) === '[["a","3"],["b","4"]]' || undefined, 'the updated state', 15_000);
      }
    } finally {
      await later.close();
    }
  });
});

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const token = (claims: JWTPayload, seconds = 3600): Promise<string> =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ops-person')
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(new TextEncoder().encode(SECRET));

describe.skipIf(!hasChromium)('dashboard page in Chromium with auth on', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  for (const transport of TRANSPORTS) {
    it(`shows live events with the token from /#token=..., and the gateway's numbers only to an ops token (${transport})`, async () => {
      const gw = await startTestGateway({ transport, authSecret: SECRET });
      const page = await browser.newPage();
      try {
        const requested: string[] = [];
        page.on('request', (r) => requested.push(r.url()));
        await page.goto(`${gw.http}/#token=${await token({ topics: '*', ops: true })}`);
        await until(async () => (await page.locator('[data-testid=state]').textContent()) === 'live' || undefined, 'the page to go live', 15_000);
        const pub = await connectPublisher({ url: gw.ws, token: await token({ publish: '*' }) });
        for (let i = 1; i <= 3; i++) await pub.publish({ topic: 'orders', key: `o-${i}`, payload: { n: i } });
        await pub.close();
        await until(async () => (await page.locator('[data-testid=events] tr').count()) === 3 || undefined, 'three rows', 15_000);
        expect(await page.locator('[data-testid=index]').textContent()).toBe('3');
        await until(async () => (await page.locator('#subscribers').textContent()) === '1' || undefined, 'the gateway numbers');
        expect(await page.locator('[data-testid=stats]').isVisible()).toBe(true);
        expect(await page.locator('[data-testid=error]').isVisible()).toBe(false);
        expect(requested.some((u) => u.includes('token='))).toBe(false); // the fragment never leaves the page

        // A token that may read but is not "ops": events yes, gateway numbers no.
        await page.goto('about:blank');
        await page.goto(`${gw.http}/#token=${await token({ topics: '*' })}`);
        await until(async () => (await page.locator('[data-testid=state]').textContent()) === 'live' || undefined, 'live again', 15_000);
        await until(async () => (await page.locator('[data-testid=stats-note]').isVisible()) || undefined, 'the note on the gateway numbers');
        expect(await page.locator('[data-testid=stats]').isVisible()).toBe(false);
      } finally {
        await page.close();
        await gw.stop();
      }
    }, 60_000);

    it(`explains on the page why the gateway refused it: no token, an expired token, a token lacking the topics (${transport})`, async () => {
      const gw = await startTestGateway({ transport, authSecret: SECRET });
      const page = await browser.newPage();
      try {
        const cases: Array<[string, string, RegExp]> = [
          [`${gw.http}/`, 'unauthorized', /has no token/],
          [`${gw.http}/#token=${await token({ topics: '*' }, -10)}`, 'unauthorized', /has expired/],
          [`${gw.http}/?topics=audit#token=${await token({ topics: ['orders'] })}`, 'forbidden', /does not allow reading audit/],
          [`${gw.http}/#token=${await token({ topics: ['orders'] })}`, 'forbidden', /does not allow reading every topic/],
        ];
        for (const [url, code, text] of cases) {
          await page.goto('about:blank');
          await page.goto(url);
          const panel = page.locator('[data-testid=error]');
          await until(async () => (await panel.isVisible()) || undefined, `the explanation for ${url}`, 15_000);
          expect(await panel.getAttribute('data-code')).toBe(code);
          expect(await panel.textContent()).toMatch(text);
          expect(await page.locator('[data-testid=state]').textContent()).toBe('closed');
        }
        mkdirSync(RESULTS, { recursive: true });
        await page.screenshot({ path: `${RESULTS}dashboard-refused-${transport}.png`, fullPage: true });
      } finally {
        await page.close();
        await gw.stop();
      }
    }, 60_000);
  }
});
