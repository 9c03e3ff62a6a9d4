// Swagger UI at /docs, in a real browser (headless Chromium): the URL the README and `GET /`
// give must render the API's operations, not a blank page (issue 9).
//
// Needs BASE_URL (a running server, e.g. http://127.0.0.1:40123); `run.sh` starts one.
// Screenshots go to browser/screenshots/ (git-ignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const HERE = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(HERE, 'screenshots');

/** The browser context (persistent: its own fresh profile). */
let browser;
let profile;

before(async () => {
  assert.ok(BASE, 'BASE_URL must name a running server');
  mkdirSync(SHOTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'agendamento-chromium-'));
  // A fresh profile folder (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Opens `path`, recording every failed or 4xx/5xx sub-request. */
async function open(path) {
  const page = await browser.newPage();
  const failures = [];
  page.on('requestfailed', (r) => failures.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) failures.push(`${r.url()} ${r.status()}`);
  });
  await page.goto(`${BASE}${path}`, { waitUntil: 'load' });
  return { page, failures };
}

for (const path of ['/docs', '/docs/']) {
  test(`Swagger UI at ${path} renders the API's operations`, async () => {
    const { page, failures } = await open(path);
    try {
      // Swagger UI draws one .opblock per operation once it has fetched /openapi.json.
      await page.waitForSelector('.opblock', { timeout: 15000 });
      const operations = await page.locator('.opblock').count();
      const title = await page.locator('.info .title').first().innerText();
      await page.screenshot({ path: join(SHOTS, `docs${path.endsWith('/') ? '-slash' : ''}.png`), fullPage: false });
      assert.ok(operations >= 30, `expected every operation, saw ${operations}`);
      assert.match(title, /Agendamento/);
      assert.deepEqual(failures, [], 'no sub-request failed');
      assert.ok(new URL(page.url()).pathname.startsWith('/docs/'), `ended at ${page.url()}`);
    } finally {
      await page.close();
    }
  });
}
