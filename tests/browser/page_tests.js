'use strict';
/*
 * chatd's chat page (server/page/index.html) in a real browser: Debian's
 * chromium driven by npm's playwright-core (pinned in package.json,
 * installed outside the repo by setup.sh), against a real chatd started
 * here with a TCP listener and an http:// one on loopback port 0.
 *
 *   node page_tests.js TEST CHATD         one test; exit 0 pass, 1 fail, 77 skip
 *   node page_tests.js shot CHATD OUT.png the README's screenshot
 *
 * run.sh checks chromium, node and the npm cache first (exit 77 without).
 * A chatd that has no http:// listener yet (`--listen http://...` refused)
 * skips too.
 *
 * A test is a top-level `async function test_NAME(chatd)`, and that line
 * is the only place it is named: tests/browser/meson.build reads those
 * lines to make one meson test per name, and main() finds the same
 * functions. Every wait has a deadline; nothing depends on how fast the
 * machine is, only on things eventually happening.
 *
 * The page is read through its DOM: each message is an `#log > li` with
 * data-kind (own, other, dm-in, dm-out, notice, error, local) and the
 * class msg-KIND, and its `.body` text is the protocol line as sent.
 */
const cp = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const CACHE = process.env.LIBCHAT_NPM_CACHE ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'libchat-npm');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

// $CHATD_WRAPPER (words before chatd's command line) and the slowdown it
// implies, as tests/e2e.py.
const WRAPPER = (process.env.CHATD_WRAPPER || '').split(' ').filter(Boolean);
const SLOWDOWN = Number(process.env.CHATD_SLOWDOWN) > 0 ? Number(process.env.CHATD_SLOWDOWN)
  : WRAPPER.length ? 4 : 1;
// Milliseconds any single expected event may take, however slow.
const WAIT = 15000 * SLOWDOWN;

class Failure extends Error {}
class Skip extends Error {}

function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn until it returns a truthy value; fail with what() and the last
// value seen when the deadline passes.
// PAGE_TESTS_TRACE=1 logs when each wait ends.
const T0 = Date.now();
async function until(what, fn, ms = WAIT) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last && last.ok !== false) {
      if (process.env.PAGE_TESTS_TRACE) console.error(`${Date.now() - T0} ms: ${what}`);
      return last;
    }
    if (Date.now() > deadline)
      throw new Failure(`timed out waiting for ${what}` +
        (last && last.seen !== undefined ? `; saw ${JSON.stringify(last.seen, null, 1)}` : ''));
    await sleep(40);
  }
}

// ---- chatd ---------------------------------------------------------------

let tmp; // this run's directory: chatd logs, chromium's profile
function tmpdir() {
  if (!tmp) tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'libchat-browser-'));
  return tmp;
}

// chatd with a TCP listener and an http:// one, both on 127.0.0.1; port 0
// means any, and the real ports are read from its log.
class Chatd {
  static async start(bin, tcp = 0, http = 0) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await Chatd.try_start(bin, tcp, http);
      } catch (e) {
        // A restart on the same ports may race the old listener's close.
        if (!(e instanceof Failure) || !/in use/i.test(e.message) || attempt >= 20) throw e;
        await sleep(250);
      }
    }
  }

  static async try_start(bin, tcp, http) {
    const d = new Chatd();
    d.logPath = path.join(tmpdir(), `chatd-${process.pid}-${Date.now()}.log`);
    const fd = fs.openSync(d.logPath, 'w');
    const argv = [...WRAPPER, bin, '-b', '127.0.0.1', '-p', String(tcp),
      '--listen', `http://127.0.0.1:${http}`];
    d.proc = cp.spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    d.exit = new Promise((resolve) => {
      d.proc.on('exit', (code, sig) => resolve({ code, sig }));
      d.proc.on('error', (e) => resolve({ error: String(e) }));
    });
    d.done = null;
    d.exit.then((r) => { d.done = r; });
    const deadline = Date.now() + WAIT;
    for (;;) {
      const ports = d.ports();
      if (ports.http && ports.tcp) {
        d.http = ports.http;
        d.tcp = ports.tcp;
        d.url = `http://127.0.0.1:${d.http}/`;
        return d;
      }
      if (d.done) {
        const log = d.log();
        if (/--listen/.test(log) && /http/.test(log) && d.done.code === 2)
          throw new Skip(`chatd has no http:// listener yet: ${log.trim()}`);
        throw new Failure(`chatd did not start (${JSON.stringify(d.done)}): ${log}`);
      }
      if (Date.now() > deadline) {
        d.kill();
        throw new Failure(`chatd did not start: ${d.log()}`);
      }
      await sleep(20);
    }
  }

  log() {
    try { return fs.readFileSync(this.logPath, 'utf8'); } catch (e) { return ''; }
  }

  // "listening on http://127.0.0.1:PORT" and the plain chat listener's
  // "listening on 127.0.0.1:PORT" (or tcp://..., without a dialect).
  ports() {
    const p = {};
    for (const m of this.log().matchAll(/listening on (\S+)/g)) {
      const label = m[1], port = Number(label.slice(label.lastIndexOf(':') + 1));
      if (label.startsWith('http://')) p.http = p.http || port;
      else if ((!label.includes('://') || label.startsWith('tcp://')) && !label.includes('?'))
        p.tcp = p.tcp || port;
    }
    return p;
  }

  // SIGTERM; chatd must exit 0 (under valgrind: no errors, no leaks).
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    check(!this.done, `chatd exited by itself: ${JSON.stringify(this.done)}: ${this.log()}`);
    this.proc.kill('SIGTERM');
    let timer;
    const r = await Promise.race([this.exit,
      new Promise((resolve) => { timer = setTimeout(resolve, WAIT, null); })]);
    clearTimeout(timer);
    if (!r) {
      this.proc.kill('SIGKILL');
      throw new Failure(`chatd did not exit on SIGTERM: ${this.log()}`);
    }
    check(r.code === 0, `chatd exited ${JSON.stringify(r)} on SIGTERM (99: valgrind found errors): ${this.log()}`);
  }

  kill() {
    this.stopped = true;
    if (!this.done) this.proc.kill('SIGKILL');
  }
}

// ---- a telnet user: a plain TCP socket, lines each way -----------------

class Telnet {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const t = new Telnet();
      t.lines = [];
      t.buf = '';
      t.sock = net.connect(port, '127.0.0.1', () => resolve(t));
      t.sock.setEncoding('utf8');
      t.sock.on('data', (s) => {
        t.buf += s;
        let i;
        while ((i = t.buf.indexOf('\n')) >= 0) {
          t.lines.push(t.buf.slice(0, i).replace(/\r$/, ''));
          t.buf = t.buf.slice(i + 1);
        }
      });
      t.sock.on('error', reject);
    });
  }

  send(line) { this.sock.write(line + '\r\n'); }

  // Wait for a line equal to want (a string) or matching it (a RegExp);
  // the lines before it are consumed too.
  async expect(want) {
    const hit = (l) => (typeof want === 'string' ? l === want : want.test(l));
    await until(`the telnet user to get ${want}`, () => {
      const i = this.lines.findIndex(hit);
      if (i < 0) return { ok: false, seen: this.lines.slice(-8) };
      this.lines.splice(0, i + 1);
      return true;
    });
  }

  close() { this.sock.destroy(); }
}

// ---- the browser and its users -------------------------------------------

// Chromium with a fresh profile (--user-data-dir) of its own; each user is
// a page (tab) of it: the page keeps its state in sessionStorage, which is
// per tab.
class Browser {
  static async launch() {
    let chromium;
    try {
      ({ chromium } = require(path.join(CACHE, 'node_modules', 'playwright-core')));
    } catch (e) {
      throw new Skip(`no playwright-core in ${CACHE} (tests/browser/setup.sh installs it): ${e.message}`);
    }
    const b = new Browser();
    b.dir = fs.mkdtempSync(path.join(tmpdir(), 'profile-'));
    b.ctx = await chromium.launchPersistentContext(b.dir, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 700 },
    });
    b.spare = b.ctx.pages();
    return b;
  }

  // A user on chatd's page, greeted; renamed to name if given. opts:
  // viewport ({width, height}); before(page), run before the page loads.
  async user(chatd, name, opts = {}) {
    const page = this.spare.length ? this.spare.shift() : await this.ctx.newPage();
    const u = new User(page);
    if (opts.viewport) await page.setViewportSize(opts.viewport);
    if (opts.before) await opts.before(page);
    await page.goto(chatd.url);
    await u.until('the greeting', (s) => s.status === 'online' && s.rows.some(
      (r) => r.kind === 'notice' && /^You joined /.test(r.text)));
    if (name) await u.rename(name);
    return u;
  }

  async close() {
    await this.ctx.close().catch(() => {});
  }
}

class User {
  constructor(page) {
    this.page = page;
    this.errors = [];
    page.on('pageerror', (e) => this.errors.push(String(e)));
    page.on('dialog', (d) => { this.errors.push(`a dialog opened: ${d.message()}`); d.dismiss(); });
  }

  // Everything a test looks at, in one round trip.
  snapshot() {
    return this.page.evaluate(() => {
      const $ = (id) => document.getElementById(id);
      return {
        status: $('status').getAttribute('data-state'),
        me: $('me-name').textContent,
        room: $('room-title').textContent,
        input: $('input').value,
        rows: [...document.querySelectorAll('#log > li')].map((li) => ({
          kind: li.getAttribute('data-kind'),
          cls: li.className,
          text: (li.querySelector('.body') || li).textContent,
        })),
        users: [...document.querySelectorAll('#users [data-user]')].map((b) => b.getAttribute('data-user')),
        rooms: [...document.querySelectorAll('#rooms [data-room]')].map((b) => ({
          name: b.getAttribute('data-room'),
          n: parseInt(b.querySelector('.count').textContent, 10),
          current: b.getAttribute('aria-current') === 'true',
        })),
      };
    });
  }

  async until(what, pred) {
    return until(what, async () => {
      check(!this.errors.length, `the page failed: ${this.errors.join('; ')}`);
      const s = await this.snapshot();
      if (pred(s)) return s;
      const { rows, ...rest } = s;
      return { ok: false, seen: { ...rest, rows: rows.slice(-10).map((r) => `${r.kind}: ${r.text}`) } };
    });
  }

  // Click like a person would: on the page in front (chromium draws
  // background pages slowly, and playwright waits for a settled frame).
  async click(selector) {
    await this.page.bringToFront();
    await this.page.click(selector);
  }

  async say(text) {
    await this.page.fill('#input', text);
    await this.page.press('#input', 'Enter');
  }

  async rename(name) {
    await this.say(`/name ${name}`);
    await this.until(`the name ${name}`, (s) => s.me === name);
  }

  // Wait for a message row of this kind with exactly this text (a
  // string), or text matching it (a RegExp).
  async sees(kind, text) {
    const hit = (r) => r.kind === kind && (typeof text === 'string' ? r.text === text : text.test(r.text));
    const s = await this.until(`a ${kind} row "${text}"`, (v) => v.rows.some(hit));
    return s.rows.find(hit);
  }
}

const sameSet = (a, b) => a.length === b.length &&
  [...a].sort().join('\n') === [...b].sort().join('\n');

// A chatd and a browser for the test body(chatd, browser, t); both always
// cleaned up, chatd stopped with a check that it exits 0. t.restart(between)
// stops chatd, awaits between(), and starts a new one on the same ports
// (t.chatd).
async function withChatd(bin, body) {
  const t = { chatd: await Chatd.start(bin), browser: null };
  t.restart = async (between) => {
    await t.chatd.stop();
    await between();
    t.chatd = await Chatd.start(bin, t.chatd.tcp, t.chatd.http);
  };
  try {
    t.browser = await Browser.launch();
    await body(t.chatd, t.browser, t);
    await t.browser.close();
    t.browser = null;
    await t.chatd.stop();
  } finally {
    if (t.browser) await t.browser.close();
    t.chatd.kill();
  }
}

// A telnet user on chatd's TCP listener, greeted and renamed.
async function telnetUser(chatd, name) {
  const u = await Telnet.connect(chatd.tcp);
  await u.expect('You joined main');
  u.send(`/name ${name}`);
  await u.expect(new RegExp(` is now ${name}$`));
  return u;
}

// ---- the tests ------------------------------------------------------------

// Two browser users and a telnet user chat in one room; the lists show
// all three; the page's own /rooms and /users stay out of the pane, typed
// ones do not.
async function test_three_users_chat(chatd) {
  await withChatd(chatd, async (d, b) => {
    const alice = await b.user(d, 'alice');
    const bob = await b.user(d, 'bob');
    const carol = await telnetUser(d, 'carol');

    await alice.say('hello from a browser');
    await alice.sees('own', 'alice: hello from a browser');
    await bob.sees('other', 'alice: hello from a browser');
    await carol.expect('alice: hello from a browser');

    carol.send('hi from telnet');
    await alice.sees('other', 'carol: hi from telnet');
    await bob.sees('other', 'carol: hi from telnet');

    await bob.say('/me waves at everyone');
    await alice.sees('other', '* bob waves at everyone');
    await bob.sees('own', '* bob waves at everyone');
    await carol.expect('* bob waves at everyone');

    carol.send('/msg bob psst');
    await bob.sees('dm-in', 'from carol: psst');
    await bob.say('/msg carol hello you');
    await bob.sees('dm-out', 'to carol: hello you');
    await carol.expect('from bob: hello you');

    for (const u of [alice, bob]) {
      await u.until('three users in the list', (s) => sameSet(s.users, ['alice', 'bob', 'carol']));
      await u.until('main (3) in the rooms', (s) => s.rooms.length === 1 &&
        s.rooms[0].name === 'main' && s.rooms[0].n === 3 && s.rooms[0].current);
    }
    let s = await alice.snapshot();
    check(!s.rows.some((r) => /^(Rooms|Users) - /.test(r.text)),
      'the page\'s own /rooms or /users answer reached the pane');

    await alice.say('/users');
    await alice.sees('notice', 'Users - alice, bob, carol');
    await alice.say('/rooms');
    await alice.sees('notice', 'Rooms - main (3)');

    carol.send('/quit');
    await carol.expect('Bye!');
    await alice.sees('notice', 'carol left main');
    await bob.until('carol gone from the list', (s2) => sameSet(s2.users, ['alice', 'bob']));
    carol.close();
  });
}

// A rename and a room change show in both users' lists; clicking a room
// joins it, clicking a user starts a direct message.
async function test_rename_and_room_change(chatd) {
  await withChatd(chatd, async (d, b) => {
    const alice = await b.user(d, 'alice');
    const bob = await b.user(d, 'bob');
    await alice.until('bob in the list', (s) => sameSet(s.users, ['alice', 'bob']));

    await bob.say('/name robert');
    await alice.sees('notice', 'bob is now robert');
    await alice.until('robert in the list', (s) => sameSet(s.users, ['alice', 'robert']));
    await bob.until('robert in the header', (s) => s.me === 'robert');

    await bob.say('/join pizza');
    await bob.sees('notice', 'You joined pizza');
    await bob.until('pizza current, robert alone', (s) => s.room === 'pizza' &&
      sameSet(s.users, ['robert']) &&
      s.rooms.some((r) => r.name === 'pizza' && r.current && r.n === 1) &&
      s.rooms.some((r) => r.name === 'main' && !r.current && r.n === 1));
    await alice.sees('notice', 'robert left main');
    await alice.until('robert gone, pizza (1) listed', (s) => sameSet(s.users, ['alice']) &&
      s.rooms.some((r) => r.name === 'pizza' && r.n === 1 && !r.current));

    await alice.click('#rooms [data-room="pizza"]');
    await alice.sees('notice', 'You joined pizza');
    for (const u of [alice, bob]) {
      await u.until('both in pizza, main gone', (s) => s.room === 'pizza' &&
        sameSet(s.users, ['alice', 'robert']) &&
        s.rooms.length === 1 && s.rooms[0].name === 'pizza' && s.rooms[0].n === 2);
    }

    await alice.click('#users [data-user="robert"]');
    await alice.until('/msg robert in the box', (s) => s.input === '/msg robert ');
    await alice.page.keyboard.type('lunch?');
    await alice.page.keyboard.press('Enter');
    await bob.sees('dm-in', 'from alice: lunch?');

    await bob.page.fill('#new-room-name', 'garden');
    await bob.click('#new-room button');
    await bob.until('robert in garden', (s) => s.room === 'garden' && sameSet(s.users, ['robert']));
    await alice.until('garden (1) listed', (s) => sameSet(s.users, ['alice']) &&
      s.rooms.some((r) => r.name === 'garden' && r.n === 1));
  });
}

// chatd restarts on the same ports: the page says it is offline, comes
// back by itself with the same name in the same room, and shows neither
// the help nor the history it had seen again.
async function test_reconnect_after_restart(chatd) {
  await withChatd(chatd, async (d, b, t) => {
    const alice = await b.user(d, 'alice');
    await alice.say('/join pizza');
    await alice.sees('notice', 'You joined pizza');
    await alice.say('before the restart');
    await alice.sees('own', 'alice: before the restart');

    await t.restart(async () => {
      await alice.sees('error', 'Server shutting down...');
      await alice.until('the page offline', (s) => s.status === 'waiting' || s.status === 'connecting');
    });
    const s = await alice.until('the page back as alice in pizza',
      (v) => v.status === 'online' && v.me === 'alice' && v.room === 'pizza' &&
        v.rows.some((r) => r.kind === 'local' && r.text === 'Reconnected as alice in #pizza.'));
    check(s.rows.filter((r) => /msg-help/.test(r.cls)).length === 1, 'the help text was shown again');
    check(s.rows.filter((r) => r.text === 'alice: before the restart').length === 1,
      'a line was shown twice');

    const carol = await telnetUser(t.chatd, 'carol');
    carol.send('/join pizza');
    await carol.expect('You joined pizza');
    carol.send('/users');
    await carol.expect('Users - alice, carol');
    carol.send('welcome back');
    await alice.sees('other', 'carol: welcome back');
    await alice.until('carol in the list', (v) => sameSet(v.users, ['alice', 'carol']));
    await alice.say('after the restart');
    await carol.expect('alice: after the restart');
    carol.close();
  });
}

// The connection drops while chatd runs on, and stays down a while (the
// page's WebSocket goes through playwright, which cuts it, then turns the
// retries away): the page comes back into its room and shows, of the
// room's history, only what was said while it was away.
async function test_reconnect_after_drop(chatd) {
  await withChatd(chatd, async (d, b) => {
    const link = { up: true, open: [] };
    const alice = await b.user(d, 'alice', {
      before: (page) => page.routeWebSocket(/\/ws$/, (ws) => {
        if (!link.up) { ws.close(); return; }
        link.open.push([ws, ws.connectToServer()]);
      }),
    });
    const bob = await b.user(d, 'bob');
    for (const u of [alice, bob]) {
      await u.say('/join pizza');
      await u.sees('notice', 'You joined pizza');
    }
    await bob.say('one');
    await alice.say('two');
    await bob.say('three');
    await alice.sees('other', 'bob: three');

    link.up = false;
    for (const [page, server] of link.open.splice(0)) {
      await server.close();
      await page.close();
    }
    await bob.sees('notice', 'alice left pizza');
    await alice.until('the page offline', (s) => s.status !== 'online');
    await bob.say('while you were away');
    await bob.sees('own', 'bob: while you were away');
    link.up = true;

    const s = await alice.until('the page back as alice in pizza',
      (v) => v.status === 'online' && v.me === 'alice' && v.room === 'pizza' &&
        v.rows.some((r) => r.kind === 'local' && r.text === 'Reconnected as alice in #pizza.') &&
        v.rows.some((r) => r.text === 'bob: while you were away'));
    for (const line of ['bob: one', 'alice: two', 'bob: three', 'bob: while you were away'])
      check(s.rows.filter((r) => r.text === line).length === 1, `"${line}" is not shown exactly once`);
    check(s.rows.filter((r) => r.text === 'You joined main').length === 1,
      'the way back through main was shown');
    await bob.sees('notice', / joined pizza$/);
    await alice.until('bob in the list', (v) => sameSet(v.users, ['alice', 'bob']));
    await alice.say('back');
    await bob.sees('other', 'alice: back');
  });
}

// Each kind of line gets its own class, and looks different, in both
// colour schemes.
async function test_kinds_have_distinct_classes(chatd) {
  await withChatd(chatd, async (d, b) => {
    const alice = await b.user(d, 'alice');
    const bob = await b.user(d, 'bob');
    await alice.sees('notice', / is now bob$/);
    await alice.say('mine');
    await bob.say('theirs');
    await bob.say('/me dances');
    await alice.say('/msg bob psst');
    await bob.say('/msg alice psst back');
    await bob.say('/join pizza');
    await alice.say('/dance');
    await alice.say('/join');

    const want = {
      own: 'alice: mine',
      other: 'bob: theirs',
      me: '* bob dances',
      'dm-out': 'to bob: psst',
      'dm-in': 'from bob: psst back',
      notice: 'bob left main',
      error: 'Unrecognized command /dance, try /help',
    };
    for (const [kind, text] of Object.entries(want))
      await alice.sees(kind === 'me' ? 'other' : kind, text);
    await alice.sees('error', 'Usage: /join ROOM');

    const s = await alice.snapshot();
    const kinds = ['own', 'other', 'dm-in', 'dm-out', 'notice', 'error', 'local'];
    for (const r of s.rows) {
      const cls = r.cls.split(' ');
      check(cls.includes(`msg-${r.kind}`) &&
        cls.filter((c) => kinds.includes(c.slice(4)) && c.startsWith('msg-')).length === 1,
      `row "${r.text}" has classes "${r.cls}" for kind ${r.kind}`);
    }
    check(s.rows.find((r) => r.text === want.me).cls.includes('msg-me'), '/me has no msg-me class');

    for (const scheme of ['light', 'dark']) {
      await alice.page.emulateMedia({ colorScheme: scheme });
      const looks = await alice.page.evaluate((texts) => {
        const out = {};
        for (const li of document.querySelectorAll('#log > li')) {
          const body = li.querySelector('.body');
          const kind = Object.keys(texts).find((k) => texts[k] === body.textContent);
          if (!kind || out[kind]) continue;
          const who = li.querySelector('.who') || body, a = getComputedStyle(li),
            c = getComputedStyle(body), w = getComputedStyle(who);
          out[kind] = [a.backgroundColor, a.borderLeftColor, a.borderLeftStyle, c.color,
            c.fontStyle, w.color].join(' ');
        }
        return out;
      }, want);
      const seen = new Map();
      for (const kind of Object.keys(want)) {
        check(looks[kind], `no ${kind} row to look at (${scheme})`);
        check(!seen.has(looks[kind]), `${kind} looks like ${seen.get(looks[kind])} (${scheme}): ${looks[kind]}`);
        seen.set(looks[kind], kind);
      }
    }
  });
}

// Names and text are untrusted: markup from another user, in a chat line,
// a /me, a direct message and the server's error replies that quote what
// was typed, is shown as text and never runs.
async function test_hostile_text_is_text(chatd) {
  await withChatd(chatd, async (d, b) => {
    const alice = await b.user(d, 'alice');
    const eve = await telnetUser(d, 'eve');
    const lines = [
      '<img src=x onerror="window.pwned=1">',
      '<script>window.pwned=2</script>',
      'http://x/"><img src=y onerror=window.pwned=3> and javascript:window.pwned=4',
    ];
    for (const l of lines) eve.send(l);
    eve.send('/me <b onmouseover="window.pwned=5">bold</b>');
    eve.send('/msg alice <svg onload="window.pwned=6">');
    for (const l of lines) await alice.sees('other', `eve: ${l}`);
    await alice.sees('other', '* eve <b onmouseover="window.pwned=5">bold</b>');
    await alice.sees('dm-in', 'from eve: <svg onload="window.pwned=6">');

    await alice.say('/name <img src=x onerror=window.pwned=7>');
    await alice.sees('error', 'Name must be 2-24 characters: letters, digits, _ or -');
    await alice.say('/msg <img,eve hi');
    await alice.sees('error', 'No such user: <img');
    await alice.say('/<img src=x onerror=window.pwned=8>');
    await alice.sees('error', 'Unrecognized command /<img, try /help');

    await alice.page.hover('#log > li:last-child');
    const r = await alice.page.evaluate(() => ({
      pwned: window.pwned,
      markup: document.querySelectorAll('#log img, #log script, #log svg, #log b').length,
      links: [...document.querySelectorAll('#log a')].map((a) => a.getAttribute('href')),
    }));
    check(r.pwned === undefined, `hostile text ran: window.pwned = ${r.pwned}`);
    check(r.markup === 0, `hostile text became ${r.markup} element(s)`);
    check(r.links.length === 1 && r.links[0] === 'http://x/', `links: ${JSON.stringify(r.links)}`);
    eve.close();
  });
}

// At phone width the lists hide behind a button; the page does not scroll
// sideways; the box keeps a history (up/down); the pane is a live region
// and every control has a name.
async function test_phone_layout_and_keyboard(chatd) {
  await withChatd(chatd, async (d, b) => {
    const alice = await b.user(d, 'alice', { viewport: { width: 380, height: 720 } });
    const p = alice.page;
    const visible = (sel) => p.evaluate((q) => {
      const e = document.querySelector(q), r = e.getBoundingClientRect();
      return getComputedStyle(e).visibility !== 'hidden' && r.width > 0 && r.right > 0 &&
        r.left < window.innerWidth;
    }, sel);
    check(!(await visible('#side')), 'the lists show at phone width');
    check(await visible('#menu'), 'no menu button at phone width');
    await p.click('#menu');
    await until('the lists to slide in', () => visible('#side'));
    check(await p.getAttribute('#menu', 'aria-expanded') === 'true', 'aria-expanded not set');
    await p.keyboard.press('Escape');
    await until('the lists to hide', async () => !(await visible('#side')));
    check(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      'the page scrolls sideways at phone width');

    await alice.say('first line');
    await alice.say('second line');
    await alice.sees('own', 'alice: second line');
    const box = () => p.inputValue('#input');
    await p.fill('#input', 'draft');
    for (const [key, want] of [['ArrowUp', 'second line'], ['ArrowUp', 'first line'],
      ['ArrowUp', '/name alice'], ['ArrowDown', 'first line'], ['ArrowDown', 'second line'],
      ['ArrowDown', 'draft']]) {
      await p.press('#input', key);
      check(await box() === want, `after ${key} the box holds "${await box()}", not "${want}"`);
    }

    const a11y = await p.evaluate(() => ({
      live: document.getElementById('log').getAttribute('aria-live'),
      unnamed: [...document.querySelectorAll('button, input')].filter((e) =>
        !(e.labels && e.labels.length) && !e.getAttribute('aria-label') &&
        !e.textContent.trim()).map((e) => e.id || e.outerHTML),
    }));
    check(a11y.live === 'polite', `the pane's aria-live is ${a11y.live}`);
    check(a11y.unnamed.length === 0, `controls without a name: ${a11y.unnamed}`);

    await p.setViewportSize({ width: 1100, height: 700 });
    await until('the lists beside the pane on a desktop', () => visible('#side'));
  });
}

// ---- the README's screenshot -----------------------------------------------

async function shot(chatd, out) {
  await withChatd(chatd, async (d, b) => {
    const alice = await b.user(d, 'alice');
    const bob = await b.user(d, 'bob');
    const carol = await telnetUser(d, 'carol');
    await bob.sees('notice', / is now carol$/);
    await bob.say('morning! anyone up for lunch later?');
    await alice.say('yes — the new place on 5th?');
    carol.send('count me in, I can book a table');
    await alice.sees('other', 'carol: count me in, I can book a table');
    await bob.say('/me does a little dance');
    await bob.say('/msg alice can you bring the slides? https://example.org/deck');
    await alice.sees('dm-in', 'from bob: can you bring the slides? https://example.org/deck');
    await alice.say('/msg bob sure, printing them now');
    carol.send('/join pizza');
    await alice.sees('notice', 'carol left main');
    await alice.say('/nmae al');
    await alice.sees('error', 'Unrecognized command /nmae, try /help');
    await alice.say('see you at noon, bob');
    await alice.until('the lists', (s) => s.users.length === 2 && s.rooms.length === 2);
    await alice.page.fill('#input', 'sounds great');
    await alice.page.screenshot({ path: out });
    carol.close();
  });
}

// ---- main -------------------------------------------------------------------

function testNames() {
  const src = fs.readFileSync(__filename, 'utf8');
  return [...src.matchAll(/^async function test_(\w+)\(/gm)].map((m) => m[1]);
}

async function main() {
  const names = testNames();
  const [name, chatd, out] = process.argv.slice(2);
  if (name === 'shot' && chatd && out) return shot(path.resolve(chatd), path.resolve(out));
  if (!names.includes(name) || !chatd) {
    console.error(`usage: node page_tests.js {${names.join('|')}} CHATD\n` +
      '       node page_tests.js shot CHATD OUT.png');
    process.exit(2);
  }
  // The name was read from this file's own `async function test_` lines.
  const fn = eval(`test_${name}`); // eslint-disable-line no-eval
  await fn(path.resolve(chatd));
}

main().then(() => {
  console.log(`ok ${process.argv[2]}`);
  process.exitCode = 0;
}, (e) => {
  if (e instanceof Skip) {
    console.log(`skip ${process.argv[2]}: ${e.message}`);
    process.exitCode = 77;
  } else {
    console.log(`FAIL ${process.argv[2]}: ${e instanceof Failure ? e.message : e.stack}`);
    process.exitCode = 1;
  }
}).finally(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});
