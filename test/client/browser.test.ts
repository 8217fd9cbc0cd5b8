/**
 * fanwire/client in a real Chromium (Debian's, driven by playwright-core)
 * against a real gateway on every transport, with auth on: a browser sees no
 * HTTP status on a refused WebSocket, so these are the lifecycles that need
 * the fanwire.v1 refusal close codes. The SDK is bundled for the browser by
 * esbuild, as an application would; tokens are signed in Node and handed to
 * the page's token function through an exposed binding (an async provider,
 * as a fetch to a token endpoint would be).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { SignJWT, type JWTPayload } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectPublisher, type WebSocketConstructor } from '../../src/client/index.js';
import { TRANSPORTS, startTestGateway, until, type TestGateway } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  if (process.env.CI) throw new Error('chromium (Debian package chromium) is required under CI=true');
  console.warn('\n*** SKIPPING the SDK browser suite: /usr/bin/chromium not found (apt-get install chromium) ***\n');
}

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const key = new TextEncoder().encode(SECRET);
const token = (claims: JWTPayload, seconds = 3600): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('browser').setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + seconds).sign(key);

/** What the page's test harness (below) reports back. */
interface PageRun {
  received: number[];
  calls: number;
  sockets: number;
  states: string[];
  error: { name: string; code: string; message: string; closeCode: number | null } | null;
  state: string;
}

/** The page's globals this suite uses (the test build has no DOM types). */
interface PageGlobals {
  fanwireClient: typeof import('../../src/client/index.js');
  mintToken(claims: JWTPayload, seconds: number): Promise<string>;
  run: PageRun;
  WebSocket: WebSocketConstructor;
}

describe.skipIf(!hasChromium)('fanwire/client in Chromium', () => {
  let browser: Browser;
  let sdk: string;

  beforeAll(async () => {
    const bundled = await build({
      entryPoints: [fileURLToPath(new URL('../../src/client/index.ts', import.meta.url))],
      bundle: true,
      format: 'iife',
      globalName: 'fanwireClient',
      platform: 'browser',
      target: 'es2022',
      write: false,
      external: ['ws'], // the SDK loads it only where there is no global WebSocket
    });
    sdk = bundled.outputFiles[0]!.text;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  for (const transport of TRANSPORTS) {
    describe(`with auth on (${transport})`, () => {
      let gw: TestGateway;
      let page: Page;

      beforeEach(async () => {
        gw = await startTestGateway({ transport, authSecret: SECRET });
        page = await browser.newPage();
        await page.exposeFunction('mintToken', (claims: JWTPayload, seconds: number) => token(claims, seconds));
        await page.goto(`${gw.http}/healthz`); // the gateway's origin, as a dashboard served by it would have
        await page.addScriptTag({ content: sdk });
      });

      afterEach(async () => {
        await page?.close();
        await gw?.stop();
      });

      /** Starts a subscription in the page; its progress lands in window.run. */
      const startInPage = (topics: string[], claims: JWTPayload, seconds: number) =>
        page.evaluate(
          ({ topics, claims, seconds, url }) => {
            const page = globalThis as unknown as PageGlobals;
            const run: PageRun = { received: [], calls: 0, sockets: 0, states: [], error: null, state: '' };
            page.run = run;
            class Counting extends page.WebSocket {
              constructor(u: string, protocols?: string[]) {
                super(u, protocols);
                run.sockets++;
              }
            }
            const sub = page.fanwireClient.subscribe({
              url,
              topics,
              WebSocket: Counting,
              token: () => {
                run.calls++;
                return page.mintToken(claims, seconds);
              },
              onEvents: (m) => run.received.push(m.index),
              onState: (state, reason) => {
                run.states.push(`${state}:${reason}`);
                run.state = state;
              },
              onError: (e) => (run.error = { name: e.name, code: e.code, message: e.message, closeCode: e.closeCode }),
              backoff: { initialMs: 10, maxMs: 20 },
            });
            void sub;
          },
          { topics, claims, seconds, url: gw.ws },
        );
      const run = (): Promise<PageRun> => page.evaluate(() => (globalThis as unknown as PageGlobals).run);

      it('outlives tokens that expire every ~2 s: 10 s of events, every one received in order, the function called at least 3 times', async () => {
        await startInPage(['orders'], { topics: ['orders'] }, 2);
        await until(async () => (await run()).state === 'live' || undefined, 'live in the page');
        const pub = await connectPublisher({ url: gw.ws, token: await token({ publish: ['orders'] }) });
        const until10s = Date.now() + 10_000;
        let published = 0;
        while (Date.now() < until10s) {
          await pub.publish({ topic: 'orders', payload: published });
          published++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await pub.close();
        await until(async () => (await run()).received.at(-1) === published || undefined, `all ${published} events in the page`, 15_000);
        const r = await run();
        expect(r.received).toEqual(Array.from({ length: published }, (_, i) => i + 1));
        expect(r.calls).toBeGreaterThanOrEqual(3);
        expect(r.states.filter((s) => s === 'reconnecting:token_expired').length).toBeGreaterThanOrEqual(2);
        expect(r.error).toBeNull();
      }, 40_000);

      it('ends a subscription to a topic its token does not allow after exactly one upgrade, with onError code forbidden', async () => {
        await startInPage(['audit'], { topics: ['orders'] }, 3600);
        await until(async () => (await run()).state === 'closed' || undefined, 'closed in the page');
        await new Promise((resolve) => setTimeout(resolve, 300)); // a retry (backoff 10-20 ms) would have started by now
        const r = await run();
        expect(r.sockets).toBe(1);
        expect(r.error).toMatchObject({ name: 'FanwireClientError', code: 'forbidden', closeCode: 4403 });
        expect(r.error!.message).toContain('audit');
        expect(r.states).toEqual(['connecting:start', 'closed:error']);
        expect(gw.gateway.subscriberCount).toBe(0);
      });
    });
  }
});
