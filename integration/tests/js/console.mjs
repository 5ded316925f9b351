// Drives the admin console in Debian's headless Chromium through puppeteer-core, as an operator would:
// log in with the admin token, see the supervision tree, restart an actor, and watch its restart count go
// up while the chain keeps growing. Screenshots go to the folder given as the third argument.
//
//   node console.mjs http://127.0.0.1:<admin port> <token> <screenshot dir>
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [url, token, shots] = process.argv.slice(2);
if (!url || !token || !shots) {
  console.error('usage: node console.mjs <admin url> <token> <screenshot dir>');
  process.exit(64);
}
fs.mkdirSync(shots, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'platon-chromium-'));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  userDataDir: profile,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
  ],
});
const check = (cond, what) => {
  if (!cond) throw new Error('check failed: ' + what);
};

try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1500, height: 1100 });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => console.error('page console:', m.text()));
  await page.goto(url + '/console', { waitUntil: 'load' });

  // The node has a token: the console asks for it, and refuses a wrong one.
  await page.waitForSelector('#login:not(.hidden)', { timeout: 15000 });
  await page.screenshot({ path: path.join(shots, 'console-login.png') });
  await page.type('#token', 'not-the-token');
  await page.click('#login-button');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.includes('wrong'), { timeout: 10000 });
  await page.type('#token', token);
  await page.click('#login-button');

  // The tree arrives over the WebSocket subscription.
  await page.waitForSelector('#actors tr[data-actor="txpool"]', { timeout: 15000 });
  const actors = await page.$$eval('#actors tbody tr', (rows) => rows.map((r) => r.dataset.actor));
  for (const a of ['node', 'txpool', 'executor', 'chain', 'rpc', 'admin']) {
    check(actors.includes(a), `the tree shows ${a} (it shows ${actors.join(', ')})`);
  }
  // The header names the node's role (a --dev node is a full node).
  const role = await page.$eval('#role', (e) => e.textContent.trim());
  check(role === 'full', `the header shows the role full (it shows ${role})`);
  const cell = (actor, cls) => page.$eval(`#actors tr[data-actor="${actor}"] .${cls}`, (e) => e.textContent.trim());
  check((await cell('txpool', 'status')) === 'running', 'txpool is running');
  const restartsBefore = Number(await cell('txpool', 'restarts'));
  const headBefore = Number(await page.$eval('#head', (e) => e.textContent));
  console.log(`before: txpool restarts ${restartsBefore}, head ${headBefore}`);

  // Restart the txpool from its row's button.
  await page.click('#actors tr[data-actor="txpool"] button.restart');
  await page.waitForFunction(
    (before) => {
      const c = document.querySelector('#actors tr[data-actor="txpool"] .restarts');
      return c && Number(c.textContent) === before + 1;
    },
    { timeout: 20000 },
    restartsBefore,
  );
  await page.waitForFunction(() => document.querySelector('#log').textContent.includes('restarted txpool'), { timeout: 10000 });
  // The chain keeps growing after it.
  await page.waitForFunction(
    (before) => Number(document.querySelector('#head').textContent) >= before + 2,
    { timeout: 30000 },
    headBefore,
  );
  await page.waitForFunction(() => document.querySelector('#actors tr[data-actor="txpool"] .status').textContent === 'running', { timeout: 10000 });
  const restartsAfter = Number(await cell('txpool', 'restarts'));

  // On a node started with --admin.faults each worker has fault buttons: a panic injected into the
  // executor restarts it, and the chain still grows.
  let executorRestarts = null;
  if (await page.$('#actors tr[data-actor="executor"] button.fault[data-kind="panic"]')) {
    const before = Number(await cell('executor', 'restarts'));
    const head = Number(await page.$eval('#head', (e) => e.textContent));
    await page.click('#actors tr[data-actor="executor"] button.fault[data-kind="panic"]');
    await page.waitForFunction(
      (b) => Number(document.querySelector('#actors tr[data-actor="executor"] .restarts').textContent) === b + 1,
      { timeout: 20000 },
      before,
    );
    await page.waitForFunction((h) => Number(document.querySelector('#head').textContent) >= h + 2, { timeout: 30000 }, head);
    executorRestarts = Number(await cell('executor', 'restarts'));
    const failure = await page.$eval('#actors tr[data-actor="executor"] .failure', (e) => e.title);
    check(failure.includes('panic'), `the executor's last failure names the panic (${failure})`);
    console.log(`executor restarts ${before} -> ${executorRestarts} after an injected panic`);
  }
  console.log(`after: txpool restarts ${restartsAfter}`);

  const headAfter = Number(await page.$eval('#head', (e) => e.textContent));
  console.log(`head ${headBefore} -> ${headAfter}`);

  // Search for the head block by number; the answer is that block.
  await page.type('#search', String(headAfter));
  await page.click('#search-form button');
  await page.waitForFunction((n) => {
    const t = document.querySelector('#search-result').textContent;
    return t.includes('"kind": "block"') && t.includes(`"number": ${n}`);
  }, { timeout: 10000 }, headAfter);

  await page.screenshot({ path: path.join(shots, 'console.png'), fullPage: true });
  console.log(JSON.stringify({ restartsBefore, restartsAfter, headBefore, headAfter, executorRestarts, actors }));
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
