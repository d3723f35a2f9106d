#!/usr/bin/python3
"""chatd's WebSocket endpoint against real clients nobody here wrote:
Debian's python3-websockets (asyncio) and python3-websocket
(websocket-client, blocking), each beside a telnet user (a plain TCP
socket on chatd's TCP listener). User stories from doc/protocol.md: one
room shared across transports (names, rooms, /msg, /me, history, renames),
the greeting one frame per line, a line too long, /quit, a server
shutdown, ping and pong.

Debian's packages live in Debian's interpreter, /usr/bin/python3 (meson
runs this script with it). Exit 77 (skip) when they cannot be imported,
or when chatd cannot listen on http://.

usage: ws_clients.py TEST PROGRAM CHATD (tests/e2e.py; PROGRAM unused)
"""
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import e2e  # noqa: E402
from e2e import WAIT, Failure, Skip, check  # noqa: E402

try:
    import websocket  # python3-websocket (websocket-client)
    import websockets  # python3-websockets
    import websockets.exceptions
except ImportError as e:
    print("skip: needs Debian's python3-websockets and python3-websocket "
          "under /usr/bin/python3 (%s)" % e)
    sys.exit(77)

GREETING_HELP = 8  # help lines after "Server commands"


# ---- chatd with an http:// listener -----------------------------------------

def probe(chatd):
    """Skip unless this chatd can listen on http:// (asked directly, without
    $CHATD_WRAPPER: a quick question)."""
    p = subprocess.Popen([chatd, "-p", "0", "--listen", "http://127.0.0.1:0"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = b""
    try:
        deadline = time.monotonic() + 5
        os.set_blocking(p.stdout.fileno(), False)
        while b"listening on http://" not in out:
            if p.poll() is not None or time.monotonic() > deadline:
                break
            chunk = p.stdout.read()
            if chunk:
                out += chunk
            else:
                time.sleep(0.02)
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
    if b"listening on http://" not in out:
        raise Skip("chatd has no http:// listener: %r" % out[-200:])


def start(chatd, *args):
    """chatd with its TCP listener (.port) and an http:// one (.http_port,
    .url for WebSocket clients)."""
    probe(chatd)
    d = e2e.Chatd(chatd, "--listen", "http://127.0.0.1:0", *args)
    deadline = time.monotonic() + WAIT
    while True:
        m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", d.text())
        if m:
            d.http_port = int(m.group(1))
            d.url = "ws://127.0.0.1:%d/ws" % d.http_port
            return d
        if time.monotonic() > deadline:
            d.kill()
            raise Failure("no 'listening on http://' line: %s" % d.log_text())
        time.sleep(0.02)


# ---- a telnet user -----------------------------------------------------------

class Telnet:
    """A user on a plain TCP socket, line by line, every read with a
    deadline."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.name = None

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def line(self):
        deadline = time.monotonic() + WAIT
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("telnet: no line in time (have %r)" % self.buf)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise Failure("telnet: the server closed (have %r)" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def expect(self, want):
        got = self.line()
        check(got == want, "telnet %s: expected %r, got %r" % (
            self.name, want, got))

    def skip_to(self, want):
        while self.line() != want:
            pass

    def greet(self):
        """Read the greeting; returns its lines."""
        lines = [self.line()]
        while not lines[-1].startswith("You joined "):
            lines.append(self.line())
            if lines[-1].startswith("You are "):
                self.name = lines[-1][8:]
        return lines

    def close(self):
        self.sock.close()


def telnet_user(d):
    t = Telnet(d.port)
    t.greet()
    return t


# ---- websockets (asyncio) -----------------------------------------------------

def run(coro):
    """Run a scenario on a fresh event loop."""
    return asyncio.run(coro)


async def recv(ws):
    try:
        return await asyncio.wait_for(ws.recv(), WAIT)
    except asyncio.TimeoutError:
        raise Failure("websockets: no frame in %.0f s" % WAIT)


async def expect(ws, want):
    got = await recv(ws)
    check(got == want, "websockets: expected %r, got %r" % (want, got))


async def greet(ws):
    """The greeting, one text message per line; returns (name, lines)."""
    lines, name = [], None
    while not lines or not lines[-1].startswith("You joined "):
        got = await recv(ws)
        check(isinstance(got, str), "a binary message: %r" % got)
        lines.append(got)
        if got.startswith("You are "):
            name = got[8:]
    return name, lines


def connect(d):
    return websockets.connect(d.url, ping_interval=None, open_timeout=WAIT,
                              close_timeout=WAIT, max_size=1 << 20)


# ---- websocket-client (blocking) ----------------------------------------------

def wsc_connect(d):
    return websocket.create_connection(d.url, timeout=WAIT)


def wsc_frame(ws):
    """The next frame, raw: (opcode, fin, data)."""
    f = ws.recv_frame()
    return f.opcode, f.fin, f.data


def wsc_text(ws):
    op, fin, data = wsc_frame(ws)
    check(op == websocket.ABNF.OPCODE_TEXT and fin,
          "websocket-client: expected a final text frame, got opcode %d fin "
          "%d %r" % (op, fin, data))
    return data.decode()


def wsc_skip_to(ws, want):
    """Text frames until one is want."""
    while True:
        got = wsc_text(ws)
        if got == want:
            return


def wsc_greet(ws):
    lines = []
    while not lines or not lines[-1].startswith("You joined "):
        lines.append(wsc_text(ws))
    return lines


def wsc_expect_close(ws, code):
    """The next frame is a close with code, then the server ends the
    connection."""
    op, fin, data = wsc_frame(ws)
    check(op == websocket.ABNF.OPCODE_CLOSE,
          "expected a close frame, got opcode %d %r" % (op, data))
    got = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
    check(got == code, "close code %r, want %d" % (got, code))
    ws.sock.settimeout(WAIT)
    check(ws.sock.recv(1) == b"", "data after the close frame")


# ---- the stories ------------------------------------------------------------------

def test_websocket_and_telnet_share_a_room(prog, chatd):
    """alice on telnet and bob in a WebSocket client chat in one room: the
    history on joining, names, renames, /me, /msg both ways, /join, /users,
    /rooms, UTF-8, and bob's leaving, each seen by both as on TCP."""
    d = start(chatd)
    alice = telnet_user(d)
    alice.send("/name alice")
    alice.expect("%s is now alice" % alice.name)
    alice.name = "alice"
    alice.send("before you came")
    alice.expect("alice: before you came")

    async def story():
        async with connect(d) as ws:
            name, lines = await greet(ws)
            check(lines[0] == "Server commands", "greeting: %r" % lines)
            check(len(lines) == 1 + GREETING_HELP + 3 and
                  lines[-2] == "alice: before you came",
                  "no history in the greeting: %r" % lines)
            alice.expect("%s joined main" % name)
            await ws.send("/name bob")
            await expect(ws, "%s is now bob" % name)
            alice.expect("%s is now bob" % name)
            await ws.send("hi alice")
            await expect(ws, "bob: hi alice")
            alice.expect("bob: hi alice")
            alice.send("/me waves")
            alice.expect("* alice waves")
            await expect(ws, "* alice waves")
            await ws.send("/me waves back")
            await expect(ws, "* bob waves back")
            alice.expect("* bob waves back")
            await ws.send("/msg alice,nobody psst")
            await expect(ws, "No such user: nobody")
            await expect(ws, "to alice: psst")
            alice.expect("from bob: psst")
            alice.send("/msg bob got it")
            alice.expect("to bob: got it")
            await expect(ws, "from alice: got it")
            await ws.send("caf\u00e9 \u2615")
            await expect(ws, "bob: caf\u00e9 \u2615")
            alice.expect("bob: caf\u00e9 \u2615")
            await ws.send("/join pizza")
            await expect(ws, "You joined pizza")
            alice.expect("bob left main")
            alice.send("/join pizza")
            await expect(ws, "alice joined pizza")
            alice.expect("You joined pizza")
            alice.send("/name carol")
            alice.expect("alice is now carol")
            await expect(ws, "alice is now carol")
            await ws.send("/users")
            await expect(ws, "Users - bob, carol")
            await ws.send("/rooms")
            await expect(ws, "Rooms - pizza (2)")
        # Closed by the client (close 1000, echoed): the room is told.
        check(ws.close_code == 1000, "close code %r" % ws.close_code)
        alice.expect("bob left pizza")

    try:
        run(story())
        alice.send("/users")
        alice.expect("Users - carol")
    finally:
        d.stop()


def test_two_libraries_and_telnet(prog, chatd):
    """A websockets user, a websocket-client user and a telnet user in one
    room all hear each other."""
    d = start(chatd)
    t = telnet_user(d)
    wc = wsc_connect(d)
    try:
        lines = wsc_greet(wc)
        wc_name = [x for x in lines if x.startswith("You are ")][0][8:]
        t.expect("%s joined main" % wc_name)

        async def story():
            async with connect(d) as ws:
                name, _ = await greet(ws)
                t.expect("%s joined main" % name)
                check(wsc_text(wc) == "%s joined main" % name, "join")
                await ws.send("from websockets")
                await expect(ws, "%s: from websockets" % name)
                t.expect("%s: from websockets" % name)
                check(wsc_text(wc) == "%s: from websockets" % name, "line")
                wc.send("from websocket-client")
                await expect(ws, "%s: from websocket-client" % wc_name)
                t.expect("%s: from websocket-client" % wc_name)
                check(wsc_text(wc) == "%s: from websocket-client" % wc_name,
                      "echo")
                t.send("from telnet")
                await expect(ws, "%s: from telnet" % t.name)
                check(wsc_text(wc) == "%s: from telnet" % t.name, "telnet")
                t.expect("%s: from telnet" % t.name)
        run(story())
    finally:
        wc.close()
        d.stop()


def test_greeting_one_frame_per_line(prog, chatd):
    """Each line of the greeting is one final text frame (websocket-client,
    frame by frame), and the lines are the telnet user's, name aside."""
    d = start(chatd)
    try:
        t = Telnet(d.port)
        telnet_lines = t.greet()
        ws = wsc_connect(d)
        lines = []
        while not lines or not lines[-1].startswith("You joined "):
            op, fin, data = wsc_frame(ws)
            check(op == websocket.ABNF.OPCODE_TEXT,
                  "opcode %d: %r" % (op, data))
            check(fin == 1, "a fragmented line: %r" % data)
            check(b"\n" not in data and b"\r" not in data,
                  "a line ending inside a frame: %r" % data)
            lines.append(data.decode())
        name = [x for x in lines if x.startswith("You are ")]
        check(len(name) == 1, "no 'You are' line: %r" % lines)
        check(lines == [x if not x.startswith("You are ") else name[0]
                        for x in telnet_lines],
              "WebSocket greeting %r, telnet's %r" % (lines, telnet_lines))
        check(len(lines) == GREETING_HELP + 3, "greeting: %r" % lines)
        ws.close()
        t.close()
    finally:
        d.stop()


def test_too_long_message_stays(prog, chatd):
    """A text message over 400 bytes is answered 'Messages can only be 400
    bytes long' and the connection stays, as on TCP; 400 bytes pass."""
    d = start(chatd)

    async def story():
        async with connect(d) as ws:
            name, _ = await greet(ws)
            await ws.send("x" * 401)
            await expect(ws, "Messages can only be 400 bytes long")
            await ws.send("y" * 400)
            await expect(ws, "%s: %s" % (name, "y" * 400))
            await ws.send("z" * 100000)
            await expect(ws, "Messages can only be 400 bytes long")
            await ws.send("still connected")
            await expect(ws, "%s: still connected" % name)
            check(ws.open, "the connection closed")
    try:
        run(story())
        ws = wsc_connect(d)
        wsc_greet(ws)
        ws.send("\u00e9" * 201)  # 402 bytes
        check(wsc_text(ws) == "Messages can only be 400 bytes long",
              "websocket-client: too long")
        ws.close()
    finally:
        d.stop()


def test_quit_bye_then_close_1000(prog, chatd):
    """/quit: 'Bye!', then a close frame with 1000, then the end of the
    connection; the room is told. With both libraries."""
    d = start(chatd)
    t = telnet_user(d)
    try:
        ws = wsc_connect(d)
        name = [x for x in wsc_greet(ws) if x.startswith("You are ")][0][8:]
        t.expect("%s joined main" % name)
        ws.send("/quit")
        check(wsc_text(ws) == "Bye!", "no Bye!")
        wsc_expect_close(ws, 1000)
        ws.shutdown()
        t.expect("%s left main" % name)

        async def story():
            async with connect(d) as ws:
                name, _ = await greet(ws)
                t.expect("%s joined main" % name)
                await ws.send("/quit")
                await expect(ws, "Bye!")
                try:
                    got = await recv(ws)
                    raise Failure("after Bye!: %r" % got)
                except websockets.exceptions.ConnectionClosedOK as e:
                    check(e.rcvd is not None and e.rcvd.code == 1000,
                          "websockets: closed with %r" % e)
                    check(e.rcvd_then_sent, "the server did not close first")
            t.expect("%s left main" % name)
        run(story())
    finally:
        d.stop()


def test_sigterm_going_away_1001(prog, chatd):
    """SIGTERM: every WebSocket user gets 'Server shutting down...', then a
    close frame with 1001 (going away); the telnet user the line; chatd
    exits 0."""
    d = start(chatd)
    t = telnet_user(d)
    wc = wsc_connect(d)
    wsc_greet(wc)

    async def story():
        async with connect(d) as ws:
            await greet(ws)
            d.proc.send_signal(signal.SIGTERM)
            await expect(ws, "Server shutting down...")
            try:
                got = await recv(ws)
                raise Failure("after the shutdown line: %r" % got)
            except websockets.exceptions.ConnectionClosed as e:
                check(e.rcvd is not None and e.rcvd.code == 1001,
                      "websockets: closed with %r" % e)
    try:
        run(story())
        # After the websockets user's join and leave: the shutdown line.
        wsc_skip_to(wc, "Server shutting down...")
        wsc_expect_close(wc, 1001)
        wc.shutdown()
        t.skip_to("Server shutting down...")
        t.close()
        d.stopped = True
        try:
            rc = d.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            raise Failure("chatd did not exit after SIGTERM")
        check(rc == 0, "chatd exited %d (99: valgrind found errors): %s" % (
            rc, d.log_text()))
    finally:
        d.kill()


def test_ping_gets_pong(prog, chatd):
    """A ping is answered with a pong carrying its payload, by both
    libraries, between chat lines that still arrive in order."""
    d = start(chatd)
    try:
        ws = wsc_connect(d)
        name = [x for x in wsc_greet(ws) if x.startswith("You are ")][0][8:]
        ws.ping("are you there")
        op, fin, data = wsc_frame(ws)
        check(op == websocket.ABNF.OPCODE_PONG and data == b"are you there",
              "websocket-client: opcode %d %r, want a pong" % (op, data))
        ws.send("one")
        ws.ping("")
        ws.send("two")
        check(wsc_text(ws) == "%s: one" % name, "one")
        op, fin, data = wsc_frame(ws)
        check(op == websocket.ABNF.OPCODE_PONG and data == b"",
              "websocket-client: opcode %d %r, want an empty pong" % (op, data))
        check(wsc_text(ws) == "%s: two" % name, "two")
        ws.close()

        async def story():
            async with connect(d) as ws:
                await greet(ws)
                for payload in (b"", b"x", bytes(range(125))):
                    waiter = await ws.ping(payload)
                    try:
                        await asyncio.wait_for(waiter, WAIT)
                    except asyncio.TimeoutError:
                        raise Failure("websockets: no pong for %r" % payload)
        run(story())
    finally:
        d.stop()


if __name__ == "__main__":
    e2e.main(globals())
