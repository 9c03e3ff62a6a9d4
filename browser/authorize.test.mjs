// Swagger UI's "Authorize" with sign-in on (SPEC-2 §10): paste a token from POST /auth/login,
// then "Try it out" on GET /auth/eu sends it as a bearer token and gets 200 (not 401).
//
// Starts its own server with `--auth on` and a first administrator (the other browser
// tests run against run.sh's single-user server). AGENDAMENTO_BIN names the binary
// (run.sh sets it; default ../target/debug/agendamento).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(HERE, 'screenshots');
const BIN = process.env.AGENDAMENTO_BIN ?? join(HERE, '..', 'target', 'debug', 'agendamento');
const EMAIL = 'admin@clinica.example';
const SENHA = 'senha-do-navegador';

let server;
let base;
let dir;
let browser;
let profile;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'agendamento-auth-'));
  const env = { ...process.env, AGENDAMENTO_AUTH: 'on', AGENDAMENTO_ADMIN_EMAIL: EMAIL, AGENDAMENTO_ADMIN_SENHA: SENHA };
  server = spawn(BIN, [
    '--addr', '127.0.0.1:0', '--no-demo-data', '--backup-interval-secs', '0',
    '--data-dir', join(dir, 'banco'), '--backup-dir', join(dir, 'backups'),
    '--reports-dir', join(dir, 'reports'), '--logs-dir', join(dir, 'logs'),
  ], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  base = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stdout });
    lines.on('line', (l) => {
      const m = l.match(/^listening on (http:\/\/[0-9.:]+)$/);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  profile = mkdtempSync(join(tmpdir(), 'agendamento-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('Swagger UI Authorize sends the bearer token', async () => {
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, senha: SENHA }),
  });
  assert.equal(login.status, 200);
  const { token } = await login.json();

  const page = await browser.newPage();
  try {
    await page.goto(`${base}/docs/`, { waitUntil: 'load' });
    await page.waitForSelector('.opblock', { timeout: 15000 });
    // The Authorize button exists only when the document declares a security scheme.
    await page.click('button.btn.authorize');
    await page.fill('.modal-ux input', token);
    await page.click('.modal-ux button.authorize');
    await page.click('.modal-ux button.btn-done');

    const op = page.locator('#operations-auth-find_eu');
    await op.locator('.opblock-summary').click();
    await op.locator('button.try-out__btn').click();
    const answered = page.waitForResponse((r) => r.url().endsWith('/auth/eu'));
    await op.locator('button.execute').click();
    const r = await answered;
    const auth = await r.request().headerValue('authorization');
    await page.screenshot({ path: join(SHOTS, 'authorize.png'), fullPage: false });
    assert.equal(auth, `Bearer ${token}`);
    assert.equal(r.status(), 200, 'GET /auth/eu with the token');
    assert.equal((await r.json()).email, EMAIL);
  } finally {
    await page.close();
  }
});
