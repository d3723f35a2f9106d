'use strict';
/*
 * chatd's https:// listener in a real browser: Debian's chromium, driven by
 * the playwright-core that tests/browser/setup.sh installs (the browser
 * suite's runner, reused as is), loads the chat page over https:// and the
 * page talks to chatd over wss://, beside a TLS line user (node's tls,
 * verifying the test CA) and a TCP one. The certificates are the throwaway
 * CA of tests/tls/mkcerts.sh ($MKCERTS), made here. Chromium trusts
 * exactly chatd's key: --ignore-certificate-errors-spki-list with the hash
 * of server.pem's public key, so any other certificate is still an error.
 *
 *   node https_page.js TEST CHATD     one test; exit 0 pass, 1 fail, 77 skip
 *
 * Skips (77) without chromium ($CHROMIUM, else /usr/bin/chromium), with a
 * node older than 18, or when setup.sh cannot provide playwright-core.
 * A test is a top-level `async function test_NAME(chatd)`; meson reads
 * those lines (tests/tlsd/meson.build), main() finds the same functions.
 * chatd runs under $CHATD_WRAPPER if set, and must exit 0 on SIGTERM.
 */
const cp = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const tls = require('tls');
const net = require('net');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CACHE = process.env.LIBCHAT_NPM_CACHE ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'libchat-npm');
const WRAPPER = (process.env.CHATD_WRAPPER || '').split(' ').filter(Boolean);
const SLOW = Number(process.env.CHATD_SLOWDOWN) > 0 ? Number(process.env.CHATD_SLOWDOWN)
  : WRAPPER.length ? 4 : 1;
const WAIT = 15000 * SLOW; // ms any one expected event may take

class Skip extends Error {}
class Failure extends Error {}
const check = (ok, what) => { if (!ok) throw new Failure(what); };
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// fn() until it is truthy, polling; fails after WAIT with what and the
// last thing seen.
async function waitFor(what, fn) {
  const end = Date.now() + WAIT;
  let seen;
  while (Date.now() < end) {
    seen = await fn();
    if (seen && !seen.no) return seen;
    await pause(50);
  }
  throw new Failure(`waited in vain for ${what}; last saw ${JSON.stringify(seen && seen.no)}`);
}

let scratch; // this run's files: certificates, chatd's log, the profile
const scratchDir = () => scratch || (scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'libchat-https-')));

// playwright-core from the browser suite's cache (its setup.sh installs
// it there once), or a skip saying what is missing.
function playwright() {
  if (!fs.existsSync(CHROMIUM)) throw new Skip(`no ${CHROMIUM} (Debian package chromium)`);
  if (Number(process.versions.node.split('.')[0]) < 18)
    throw new Skip(`node ${process.version} is older than 18`);
  const setup = cp.spawnSync('sh', [path.join(__dirname, '..', 'browser', 'setup.sh')],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  if (setup.status !== 0) throw new Skip('no playwright-core (tests/browser/setup.sh failed)');
  return require(path.join(CACHE, 'node_modules', 'playwright-core'));
}

// mkcerts.sh's files; path(name) names one.
function makeCerts() {
  const dir = path.join(scratchDir(), 'certs');
  fs.mkdirSync(dir);
  const r = cp.spawnSync('sh', [process.env.MKCERTS, dir], { stdio: 'inherit' });
  check(r.status === 0, `mkcerts.sh failed (MKCERTS=${process.env.MKCERTS})`);
  return { path: (name) => path.join(dir, name) };
}

// base64 of SHA-256 over the certificate's SubjectPublicKeyInfo: what
// chromium's --ignore-certificate-errors-spki-list takes.
function spkiHash(pemFile) {
  const der = new crypto.X509Certificate(fs.readFileSync(pemFile)).publicKey
    .export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

// ---- chatd ----------------------------------------------------------------

// chatd with a plain, a tls:// and an https:// listener on loopback port 0;
// .tcp, .tls, .https are the ports it logged.
async function startChatd(bin, certs) {
  const log = path.join(scratchDir(), 'chatd.log');
  const fd = fs.openSync(log, 'w');
  const argv = [...WRAPPER, bin, '-v', '-b', '127.0.0.1', '-p', '0',
    '--listen', 'tls://127.0.0.1:0', '--listen', 'https://127.0.0.1:0',
    '--tls-cert', certs.path('server.pem'), '--tls-key', certs.path('server.key')];
  const proc = cp.spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const d = { proc, exited: null, text: () => fs.readFileSync(log, 'utf8') };
  d.exit = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  d.exit.then((r) => { d.exited = r; });
  const port = (re) => { const m = d.text().match(re); return m && Number(m[1]); };
  await waitFor('chatd to listen', () => {
    check(!d.exited, `chatd exited: ${JSON.stringify(d.exited)} ${d.text()}`);
    d.tcp = port(/listening on 127\.0\.0\.1:(\d+)/);
    d.tls = port(/listening on tls:\/\/127\.0\.0\.1:(\d+)/);
    d.https = port(/listening on https:\/\/127\.0\.0\.1:(\d+)/);
    return d.tcp && d.tls && d.https;
  });
  // SIGTERM: chatd must exit 0 (under valgrind: no error, no leak).
  d.stop = async () => {
    if (d.exited) throw new Failure(`chatd exited by itself: ${JSON.stringify(d.exited)}`);
    proc.kill('SIGTERM');
    const r = await Promise.race([d.exit, pause(WAIT).then(() => null)]);
    if (!r) proc.kill('SIGKILL');
    check(r && r.code === 0, `chatd on SIGTERM: ${JSON.stringify(r)}: ${d.text()}`);
  };
  return d;
}

// A line user on a socket: TLS (the test CA, the name localhost) when
// certs is given, plain TCP otherwise.
async function lineUser(port, certs) {
  const sock = await new Promise((resolve, reject) => {
    const s = certs
      ? tls.connect({ host: '127.0.0.1', port, servername: 'localhost',
        ca: fs.readFileSync(certs.path('ca.pem')) }, () => resolve(s))
      : net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
  const u = { sock, got: [], partial: '' };
  sock.setEncoding('utf8');
  sock.on('data', (text) => {
    const parts = (u.partial + text).split('\n');
    u.partial = parts.pop();
    u.got.push(...parts);
  });
  u.send = (line) => sock.write(line + '\n');
  // Lines up to and including the first equal to want (or matching it).
  u.wait = (want) => waitFor(`a line ${want}`, () => {
    const i = u.got.findIndex((l) => (want instanceof RegExp ? want.test(l) : l === want));
    if (i < 0) return { no: u.got.slice(-6) };
    return u.got.splice(0, i + 1).pop();
  });
  u.rename = async (name) => {
    await u.wait(/^You joined main$/);
    u.send(`/name ${name}`);
    await u.wait(new RegExp(` is now ${name}$`));
  };
  return u;
}

// ---- the page ---------------------------------------------------------------

// The page's state as its DOM shows it: connection status, own name, and
// each message row's kind and text.
const pageState = (page) => page.evaluate(() => ({
  status: document.getElementById('status').getAttribute('data-state'),
  me: document.getElementById('me-name').textContent,
  rows: [...document.querySelectorAll('#log > li')].map((li) =>
    `${li.getAttribute('data-kind')}: ${(li.querySelector('.body') || li).textContent}`),
}));

// Wait for a row equal to want (a string) or matching it (a RegExp).
const pageShows = (page, want) => waitFor(`the page to show "${want}"`, async () => {
  const s = await pageState(page);
  return s.rows.some((r) => (want instanceof RegExp ? want.test(r) : r === want)) ||
    { no: s.rows.slice(-6) };
});

async function pageSays(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

// ---- the tests ---------------------------------------------------------------

// The page over https:// (chatd's certificate, TLS 1.2 or 1.3), its
// WebSocket over wss:// to the same host, and a conversation with a TLS
// line user and a TCP one: renames, lines each way, a direct message.
async function test_https_page_chats_over_wss(bin) {
  const { chromium } = playwright();
  const certs = makeCerts();
  const d = await startChatd(bin, certs);
  let ctx;
  const users = [];
  try {
    ctx = await chromium.launchPersistentContext(path.join(scratchDir(), 'profile'), {
      executablePath: CHROMIUM, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
        '--disable-background-networking', '--disable-component-update',
        `--ignore-certificate-errors-spki-list=${spkiHash(certs.path('server.pem'))}`],
    });
    const page = ctx.pages()[0] || await ctx.newPage();
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const url = `https://127.0.0.1:${d.https}/`;
    const res = await page.goto(url);
    check(res.ok(), `GET ${url}: ${res.status()}`);
    const sec = await res.securityDetails();
    check(sec && /^TLS 1\.[23]$/.test(sec.protocol) && sec.subjectName === 'server' &&
      sec.issuer === 'libchat test intermediate CA', `the page's TLS: ${JSON.stringify(sec)}`);
    await waitFor('the page online and greeted', async () => {
      const s = await pageState(page);
      return (s.status === 'online' && s.rows.includes('notice: You joined main')) || { no: s };
    });
    check(sockets.length === 1 && sockets[0] === `wss://127.0.0.1:${d.https}/ws`,
      `the page's WebSockets: ${JSON.stringify(sockets)}`);

    await pageSays(page, '/name alice');
    await waitFor('the name alice', async () => (await pageState(page)).me === 'alice');
    const bob = await lineUser(d.tls, certs);
    users.push(bob);
    await bob.rename('bob');
    const carol = await lineUser(d.tcp, null);
    users.push(carol);
    await carol.rename('carol');
    await pageShows(page, /^notice: \S+ is now bob$/);
    await pageShows(page, /^notice: \S+ is now carol$/);

    await pageSays(page, 'hello over wss');
    await pageShows(page, 'own: alice: hello over wss');
    await bob.wait('alice: hello over wss');
    await carol.wait('alice: hello over wss');
    bob.send('hello over tls');
    await pageShows(page, 'other: bob: hello over tls');
    await carol.wait('bob: hello over tls');
    carol.send('and plain tcp');
    await pageShows(page, 'other: carol: and plain tcp');
    bob.send('/msg alice just us');
    await pageShows(page, 'dm-in: from bob: just us');
    await pageSays(page, '/msg bob indeed');
    await bob.wait('from alice: indeed');
    check(/: TLSv1\.3, /.test(d.text()), 'chatd logged no TLS 1.3 session');

    await ctx.close();
    ctx = null;
    await bob.wait('alice left main');
    for (const u of users) u.sock.destroy();
    await d.stop();
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    for (const u of users) u.sock.destroy();
    if (!d.exited) d.proc.kill('SIGKILL');
  }
}

// ---- main -----------------------------------------------------------------------

async function main() {
  const names = [...fs.readFileSync(__filename, 'utf8').matchAll(/^async function test_(\w+)\(/gm)]
    .map((m) => m[1]);
  const [name, chatd] = process.argv.slice(2);
  if (!names.includes(name) || !chatd) {
    console.error(`usage: node https_page.js {${names.join('|')}} CHATD`);
    process.exit(2);
  }
  // The name was read from this file's own `async function test_` lines.
  const fn = eval(`test_${name}`); // eslint-disable-line no-eval
  await fn(path.resolve(chatd));
}

// ok, skip (77) or FAIL, one line; the scratch files go either way.
main().then(() => null, (e) => e).then((e) => {
  const [code, word, why] = !e ? [0, 'ok', '']
    : e instanceof Skip ? [77, 'skip', e.message]
      : [1, 'FAIL', e instanceof Failure ? e.message : e.stack];
  console.log(`${word} ${process.argv[2]}${why && `: ${why}`}`);
  process.exitCode = code;
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});
