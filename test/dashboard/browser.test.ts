/**
 * The dashboard page in a real Chromium (Debian's, driven by playwright-core)
 * against the real CLI gateway. The page streams through a TCP proxy so the
 * test can restart the gateway (new epoch) and cut the network under it.
 * A screenshot is saved to test-results/dashboard.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPublisher, type Publisher } from '../../src/client/index.js';
import { TcpProxy, spawnGateway, until, type CliGateway } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  if (process.env.CI) throw new Error('chromium (Debian package chromium) is required under CI=true');
  console.warn('\n*** SKIPPING the browser suite: /usr/bin/chromium not found (apt-get install chromium) ***\n');
}
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));

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
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
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
});
