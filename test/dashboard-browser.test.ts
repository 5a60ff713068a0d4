/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core): a FastCGI
 * request's process appears on the open page without a reload, a broken script's reason shows,
 * and a screenshot is kept in test-results/ with the test output.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STARTER_SITE } from '../src/cli/init-command.js';
import { get, serveInProcess } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const haveBrowser = peerAvailable('Chromium', existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt-get install chromium)`);
const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());

describe.runIf(haveBrowser && havePerlFcgi)('the dashboard in Chromium', () => {
  it("shows a new FastCGI process and a broken script's reason live, without a reload", async () => {
    const { chromium } = await import('playwright-core');
    const server = await serveInProcess(STARTER_SITE);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root in a container, without the network: no sandbox, no background connections.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(`http://127.0.0.1:${server.port}/.htsandbox/`);
      await page.waitForFunction(() => document.getElementById('summary')?.textContent?.startsWith('up '));
      expect(await page.locator('#procs tbody tr').count()).toBe(0);
      const navigations: string[] = [];
      page.on('framenavigated', (f) => navigations.push(f.url()));

      const body = (await get(server.port, '/counter.fcgi')).body.toString();
      const pid = /pid (\d+)/.exec(body)![1]!;
      await page.locator(`#procs tbody tr[data-pid="${pid}"]`).waitFor({ timeout: 10_000 });
      expect(await page.locator(`#procs tbody tr[data-pid="${pid}"]`).textContent()).toContain('counter.fcgi');

      expect((await get(server.port, '/errors/not-executable.cgi')).status).toBe(500);
      const reason = page.locator('#reqs td.reason', { hasText: 'chmod +x not-executable.cgi' });
      await reason.waitFor({ timeout: 10_000 });
      expect(navigations).toEqual([]);

      const out = join(import.meta.dirname, '..', 'test-results');
      mkdirSync(out, { recursive: true });
      await page.screenshot({ path: join(out, 'dashboard.png'), fullPage: true });
      process.stderr.write(`[dashboard screenshot] ${join(out, 'dashboard.png')}\n`);
    } finally {
      await browser.close();
      await server.stop();
    }
  }, 60_000);
});
