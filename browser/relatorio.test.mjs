// The dashboard's report flow, in a real browser (headless Chromium), from another origin as
// the React dashboard runs (issue 9): the "Gerar relatório" button sends date-times, the page
// follows the task on GET /sistema/tasks/{id} and downloads the PDF; a request without a
// body works too. Everything goes through Chromium's own fetch, CORS preflight included.
//
// Needs BASE_URL (a running server with demo data, e.g. http://127.0.0.1:40123); `run.sh`
// starts one. Screenshots go to browser/screenshots/ (git-ignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const HERE = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(HERE, 'screenshots');

// A stand-in for the dashboard: one page, served from its own origin, whose button does what
// the dashboard's report button does, and writes what happened into the page.
const PAGE = `<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><title>Painel</title></head>
<body>
  <button id="gerar">Gerar relatório</button>
  <button id="sem-corpo">Gerar relatório sem filtros</button>
  <pre id="estado">pronto</pre>
  <script>
    const API = new URLSearchParams(location.search).get('api');
    const estado = document.getElementById('estado');
    async function seguir(tarefa) {
      for (let i = 0; i < 600; i++) {
        const t = await (await fetch(API + '/sistema/tasks/' + tarefa)).json();
        if (t.status === 'concluida' || t.status === 'falhou') return t;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('a tarefa não terminou');
    }
    async function gerar(init) {
      estado.textContent = 'gerando';
      try {
        const r = await fetch(API + '/relatorios/gerar', { method: 'POST', ...init });
        const corpo = await r.json();
        if (r.status !== 202) throw new Error(r.status + ' ' + JSON.stringify(corpo));
        const t = await seguir(corpo.task_id);
        if (t.status !== 'concluida') throw new Error('tarefa ' + JSON.stringify(t));
        const pdf = await fetch(API + '/relatorios/download/' + t.resultado.arquivo);
        const bytes = new Uint8Array(await pdf.arrayBuffer());
        estado.textContent = JSON.stringify({
          status: pdf.status,
          tipo: pdf.headers.get('content-type'),
          inicio: String.fromCharCode(...bytes.slice(0, 5)),
          tamanho: bytes.length,
          arquivo: t.resultado.arquivo,
        });
      } catch (e) {
        estado.textContent = 'erro: ' + e.message;
      }
    }
    document.getElementById('gerar').onclick = () => gerar({
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ periodo_inicio: '2026-01-01T00:00:00', periodo_fim: '2026-12-31T23:59:59' }),
    });
    document.getElementById('sem-corpo').onclick = () => gerar({});
  </script>
</body></html>`;

let browser;
let profile;
let painel;
let painelUrl;

before(async () => {
  assert.ok(BASE, 'BASE_URL must name a running server');
  mkdirSync(SHOTS, { recursive: true });
  painel = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise((ok) => painel.listen(0, '127.0.0.1', ok));
  // "localhost" is another origin than the API's 127.0.0.1, as a dashboard's would be.
  painelUrl = `http://localhost:${painel.address().port}/?api=${encodeURIComponent(BASE)}`;
  profile = mkdtempSync(join(tmpdir(), 'agendamento-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  painel?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

for (const [botao, nome] of [['#gerar', 'with the dashboard\'s date-times'], ['#sem-corpo', 'without a body']]) {
  test(`the report button works from another origin ${nome}`, async () => {
    const page = await browser.newPage();
    const erros = [];
    page.on('console', (m) => m.type() === 'error' && erros.push(m.text()));
    await page.goto(painelUrl, { waitUntil: 'load' });
    await page.click(botao);
    await page.waitForFunction(
      () => !['pronto', 'gerando'].includes(document.getElementById('estado').textContent),
      null,
      { timeout: 30_000 },
    );
    const texto = await page.textContent('#estado');
    await page.screenshot({ path: join(SHOTS, `relatorio${botao.replace('#', '-')}.png`) });
    assert.ok(!texto.startsWith('erro'), `the flow failed in the browser: ${texto}; console: ${erros.join(' | ')}`);
    const r = JSON.parse(texto);
    assert.equal(r.status, 200);
    assert.match(r.tipo, /^application\/pdf/);
    assert.equal(r.inicio, '%PDF-');
    assert.ok(r.tamanho > 1000, `a real PDF, not ${r.tamanho} bytes`);
    assert.match(r.arquivo, /^relatorio_\d{8}_\d{6}(_\d+)?\.pdf$/);
    await page.close();
  });
}
