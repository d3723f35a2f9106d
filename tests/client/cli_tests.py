#!/usr/bin/env python3
"""chat-cli end to end against a real chatd on loopback.

    cli_tests.py TEST CHAT_CLI CHATD

test_pipe_*: chat-cli in a script (stdin a pipe or a file); test_pty_*:
chat-cli in a pseudo-terminal, read through a small terminal emulator, as a
person sees it. TEST is the name without test_; each test_ function is a
meson test, named nowhere else (tests/e2e.py). Exit 0 pass, 1 fail, 77 skip
(meson's convention).
"""
import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # clitest; e2e, in tests/
from e2e import (WAIT, Failure, check, main, need_ipv6,  # noqa: E402
                 refusing_port)
from clitest import Chatd, Pty, run_piped  # noqa: E402
from tlstest import Certs, SServer, TlsProxy, tls_chatd  # noqa: E402

SGR = re.compile(rb"\x1b\[[0-9;]*m")


def lines_in_order(out, wanted):
    """Each of wanted appears as a whole line of out, in this order."""
    lines = out.splitlines()
    pos = 0
    for w in wanted:
        try:
            pos = lines.index(w, pos) + 1
        except ValueError:
            raise Failure("no line %r (in order) in:\n%s" % (w, out))


def greeted_name(out):
    m = re.search(r"^You are (\S+)$", out, re.M)
    check(m, "no 'You are' line in:\n" + out)
    return m.group(1)


# ---- piped: scripts --------------------------------------------------------

def test_pipe_join(cli, chatd):
    """The issue's example: printf '/join ops\\nhello\\n' | chat-cli."""
    d = Chatd(chatd)
    try:
        watcher = d.peer()
        watcher.send("/join ops")
        watcher.expect(rb"^You joined ops$")
        rc, out, err = run_piped(cli, ["-p", str(d.port)], b"/join ops\nhello\n")
        check(rc == 0 and err == "", "exit %d, stderr %r" % (rc, err))
        name = greeted_name(out)
        check(out.startswith("Server commands\n"), "greeting first:\n" + out)
        lines_in_order(out, ["You are " + name, "You joined main",
                             "You joined ops", name + ": hello"])
        check(out.endswith(name + ": hello\n"), "last line:\n" + out)
        # The server got everything before chat-cli went: others saw it all.
        watcher.expect(("^%s joined ops$" % name).encode())
        watcher.expect(("^%s: hello$" % name).encode())
        watcher.expect(("^%s left ops$" % name).encode())
    finally:
        d.stop()


def test_pipe_name(cli, chatd):
    """--name in default mode: '/name NAME' after the greeting."""
    d = Chatd(chatd)
    try:
        rc, out, err = run_piped(cli, ["-p", str(d.port), "--name", "alice"],
                                 b"hi\n/users\n")
        check(rc == 0 and err == "", "exit %d, stderr %r" % (rc, err))
        old = greeted_name(out)
        lines_in_order(out, ["You joined main", old + " is now alice",
                             "alice: hi", "Users - alice"])
        # A taken name is the server's answer, not a failure.
        holder = d.peer()
        holder.send("/name bob")
        holder.expect(rb"is now bob$")
        rc, out, err = run_piped(cli, ["-p", str(d.port), "-n", "bob"], b"hi\n")
        check(rc == 0, "exit %d: %s" % (rc, err))
        lines_in_order(out, ["bob is already taken", greeted_name(out) + ": hi"])
    finally:
        d.stop()


def test_pipe_login(cli, chatd):
    """chatd --login: --name is sent as the first line, no timing guess."""
    d = Chatd(chatd, "--login")
    try:
        rc, out, err = run_piped(cli, ["-p", str(d.port), "--name", "bob"],
                                 b"hi\n")
        check(rc == 0 and err == "", "exit %d, stderr %r" % (rc, err))
        check(out.startswith("Server commands\n"), "greeting first:\n" + out)
        check("Name must be" not in out, "probe reply shown:\n" + out)
        lines_in_order(out, ["You are bob", "You joined main", "bob: hi"])
        # Without --name the script's first line is the name.
        rc, out, err = run_piped(cli, ["-p", str(d.port)], b"dave\nhi\n")
        check(rc == 0 and err == "", "exit %d, stderr %r" % (rc, err))
        lines_in_order(out, ["You are dave", "dave: hi"])
        # A taken name in login mode: no later line could be a name.
        carol = d.peer(login="carol")
        rc, out, err = run_piped(cli, ["-p", str(d.port), "--name", "carol"],
                                 b"hi\n")
        check(rc == 1, "exit %d for a taken name" % rc)
        check("carol is already taken" in out, "stdout:\n" + out)
        check(err.count("\n") == 1 and "refused the name carol" in err,
              "stderr %r" % err)
        carol.close()
    finally:
        d.stop()


def bulk_input(n):
    return "".join("line %05d of the bulk test\n" % i for i in range(n)).encode()


def check_bulk(out, n):
    name = greeted_name(out)
    got = [l for l in out.splitlines() if l.startswith(name + ": line ")]
    want = ["%s: line %05d of the bulk test" % (name, i) for i in range(n)]
    check(got == want, "%d of %d lines came back" % (len(got), n))


def test_pipe_bulk(cli, chatd):
    """Many lines, from a pipe and from a regular file: none lost, in order."""
    n = 5000
    d = Chatd(chatd, "--rate", "0")
    try:
        rc, out, err = run_piped(cli, ["-p", str(d.port)], bulk_input(n))
        check(rc == 0 and err == "", "pipe: exit %d, stderr %r" % (rc, err))
        check_bulk(out, n)
        with tempfile.TemporaryFile() as f:
            f.write(bulk_input(n))
            f.seek(0)
            p = subprocess.run([cli, "-p", str(d.port)], stdin=f,
                               capture_output=True, timeout=WAIT * 3)
        check(p.returncode == 0 and p.stderr == b"",
              "file: exit %d, stderr %r" % (p.returncode, p.stderr))
        check_bulk(p.stdout.decode(), n)
    finally:
        d.stop()


def test_pipe_edges(cli, chatd):
    """No final newline, CRLF, empty input, /dev/null, /quit mid-script."""
    d = Chatd(chatd)
    try:
        port = ["-p", str(d.port)]
        rc, out, _ = run_piped(cli, port, b"no newline at the end")
        check(rc == 0, "exit %d" % rc)
        lines_in_order(out, [greeted_name(out) + ": no newline at the end"])
        rc, out, _ = run_piped(cli, port, b"crlf\r\n")
        lines_in_order(out, [greeted_name(out) + ": crlf"])
        rc, out, err = run_piped(cli, port, b"")
        check(rc == 0 and err == "", "empty: exit %d, %r" % (rc, err))
        check(out.rstrip("\n").endswith("You joined main"), "empty:\n" + out)
        p = subprocess.run([cli] + port, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=WAIT * 3)
        check(p.returncode == 0 and b"You joined main" in p.stdout,
              "/dev/null: exit %d" % p.returncode)
        rc, out, err = run_piped(cli, port, b"one\n/quit\ntwo\n")
        check(rc == 0 and err == "", "quit: exit %d, %r" % (rc, err))
        name = greeted_name(out)
        check(out.endswith(name + ": one\nBye!\n"), "quit:\n" + out)
    finally:
        d.stop()


class Running:
    """chat-cli with a pipe we keep open, its stdout read as it comes."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.out = b""

    def wait_out(self, text, count=1):
        deadline = time.monotonic() + WAIT
        while self.out.decode().count(text) < count:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.p.stdout], [], [], max(left, 0))
            chunk = os.read(self.p.stdout.fileno(), 65536) if r else b""
            if not chunk:
                raise Failure("stdout never had %r x%d:\n%s" % (
                    text, count, self.out.decode()))
            self.out += chunk

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def finish(self):
        """Close stdin (communicate does) and collect the rest."""
        rest, err = self.p.communicate(timeout=WAIT * 2)
        self.out += rest
        return self.p.returncode, self.out.decode(), err.decode()


def test_pipe_server_gone(cli, chatd):
    """The server shuts down: its last line, why on stderr, exit 1."""
    d = Chatd(chatd)
    try:
        r = Running([cli, "-p", str(d.port)])
        r.wait_out("You joined main")
        d.stop()
        rc, out, err = r.finish()
        check(rc == 1, "exit %d" % rc)
        check(out.endswith("Server shutting down...\n"), "stdout:\n" + out)
        check(err == "chat-cli: connection lost: the server closed the "
              "connection\n", "stderr %r" % err)
    finally:
        d.stop()


def test_pipe_errors(cli, chatd):
    """Refused, unknown host, bad flags: one clear line, non-zero exit."""
    s, port = refusing_port()
    try:
        rc, out, err = run_piped(cli, ["-p", str(port)], b"hi\n")
        check(rc == 1 and out == "", "refused: exit %d, out %r" % (rc, out))
        check(err == "chat-cli: cannot connect to 127.0.0.1 port %d: "
              "Connection refused\n" % port, "refused: %r" % err)
    finally:
        s.close()
    rc, out, err = run_piped(cli, ["-h", "no-such-host.invalid"], b"")
    check(rc == 1 and out == "" and err.count("\n") == 1 and
          err.startswith("chat-cli: cannot resolve host no-such-host.invalid"),
          "unknown host: exit %d, %r" % (rc, err))
    for args in (["--bogus"], ["-p", "0"], ["-p"], ["--name", "x y"], ["z"]):
        rc, out, err = run_piped(cli, args, b"")
        check(rc == 2 and out == "" and err.count("\n") == 1 and
              err.startswith("chat-cli: "), "%s: exit %d, %r" % (args, rc, err))
    rc, out, err = run_piped(cli, ["--help"], b"")
    check(rc == 0 and out.startswith("Usage: chat-cli"), "--help: %d" % rc)
    rc, out, err = run_piped(cli, ["--version"], b"")
    check(rc == 0 and out.startswith("chat-cli "), "--version: %d" % rc)


def test_pipe_reconnect(cli, chatd):
    """--reconnect: the server restarts; name and room come back."""
    servers = [Chatd(chatd)]
    try:
        port = servers[0].port
        survive_restart(chatd, [cli, "-p", str(port), "--reconnect"],
                        servers, port)
    finally:
        for d in servers:
            d.stop()


def survive_restart(chatd, argv, servers, port):
    """chat-cli (argv, with --reconnect) becomes zed in ops on servers[0];
    that chatd stops and a new one (appended to servers, for the caller to
    stop) starts on its port; name and room come back and lines flow.
    port is where chat-cli says it reconnected."""
    r = Running(argv)
    r.send("/name zed\n/join ops\n")
    r.wait_out("You joined ops")
    servers[0].stop()
    r.wait_out("Server shutting down...")
    servers.append(Chatd(chatd, port=servers[0].port))
    r.wait_out("You joined ops", 2)
    r.wait_out(" is now zed", 2)
    watcher = servers[1].peer()
    watcher.send("/join ops")
    watcher.expect(rb"^You joined ops$")
    r.send("back\n")
    watcher.expect(rb"^zed: back$")
    rc, out, err = r.finish()
    check(rc == 0, "exit %d: %s" % (rc, err))
    check("connection lost: the server closed the connection; "
          "reconnecting in" in err, "stderr %r" % err)
    check("reconnected to 127.0.0.1 port %d" % port in err, "stderr %r" % err)


def test_pipe_ipv6(cli, chatd):
    """-h ::1 against chatd -b ::1."""
    need_ipv6()
    d = Chatd(chatd, addr="::1")
    try:
        for host in ("::1", "[::1]"):
            rc, out, err = run_piped(cli, ["-h", host, "-p", str(d.port)],
                                     b"over six\n")
            check(rc == 0 and err == "", "%s: exit %d, %r" % (host, rc, err))
            lines_in_order(out, [greeted_name(out) + ": over six"])
    finally:
        d.stop()


# ---- over TLS ---------------------------------------------------------------
#
# Until chatd has a tls:// listener, TLS ends at a proxy in front of a real
# chatd (tlstest.TlsProxy): chat-cli's side is the same either way.

def tls_args(certs, port, *more):
    return ["--tls", "--cafile", certs.path("ca.pem"), "-p", str(port)] + \
        list(more)


def test_tls_pipe(cli, chatd):
    """--tls: a TLS user and a plain TCP user in one room; the script ends
    with close_notify, the server sees EOF, chat-cli exits 0."""
    with Certs() as certs:
        d = Chatd(chatd)
        proxy = TlsProxy(certs.path("server.pem"), certs.path("server.key"),
                         d.port)
        try:
            watcher = d.peer()
            watcher.send("/join ops")
            watcher.expect(rb"^You joined ops$")
            for host in ("127.0.0.1", "localhost"):
                rc, out, err = run_piped(
                    cli, tls_args(certs, proxy.port, "-h", host),
                    b"/join ops\nhello over tls\n")
                check(rc == 0 and err == "", "%s: exit %d, stderr %r" % (
                    host, rc, err))
                name = greeted_name(out)
                lines_in_order(out, ["You joined ops",
                                     name + ": hello over tls"])
                watcher.expect(("^%s: hello over tls$" % name).encode())
                watcher.expect(("^%s left ops$" % name).encode())
        finally:
            proxy.stop()
            d.stop()


def test_tls_bulk(cli, chatd):
    """Many lines over TLS: none lost, in order, all answered."""
    n = 3000
    with Certs() as certs:
        d = Chatd(chatd, "--rate", "0")
        proxy = TlsProxy(certs.path("server.pem"), certs.path("server.key"),
                         d.port)
        try:
            rc, out, err = run_piped(cli, tls_args(certs, proxy.port),
                                     bulk_input(n))
            check(rc == 0 and err == "", "exit %d, stderr %r" % (rc, err))
            check_bulk(out, n)
        finally:
            proxy.stop()
            d.stop()


def tls_refused(cli, args, want, status=1):
    """chat-cli with args fails with status and one line: want."""
    rc, out, err = run_piped(cli, args, b"hi\n")
    check(rc == status and out == "", "%s: exit %d, stdout %r" % (
        args, rc, out))
    check(err == "chat-cli: " + want + "\n", "%s: stderr %r, wanted %r" % (
        args, err, want))


def test_tls_refusals(cli, chatd):
    """What --tls refuses, each in one line, exit 1: an unknown CA, a
    self-signed certificate, a name or address the certificate does not
    name, a plain port; --insecure lets the self-signed one in; usage."""
    with Certs() as certs:
        d = Chatd(chatd)
        proxies = {}
        try:
            for cert in ("server", "self", "elsewhere"):
                proxies[cert] = TlsProxy(certs.path(cert + ".pem"),
                                         certs.path(cert + ".key"), d.port)
            port = proxies["server"].port
            tls_refused(cli, ["--tls", "-p", str(port)],
                        "TLS handshake with 127.0.0.1 port %d failed: unable "
                        "to get local issuer certificate (--cafile FILE to "
                        "trust a private CA)" % port)
            port = proxies["self"].port
            tls_refused(cli, tls_args(certs, port),
                        "TLS handshake with 127.0.0.1 port %d failed: "
                        "self-signed certificate" % port)
            rc, out, err = run_piped(cli, ["--tls", "--insecure", "-p",
                                           str(port)], b"hi\n")
            check(rc == 0 and err == "", "--insecure: %d %r" % (rc, err))
            lines_in_order(out, [greeted_name(out) + ": hi"])
            port = proxies["elsewhere"].port
            tls_refused(cli, tls_args(certs, port),
                        "TLS handshake with 127.0.0.1 port %d failed: IP "
                        "address mismatch" % port)
            tls_refused(cli, tls_args(certs, port, "-h", "localhost"),
                        "TLS handshake with localhost port %d failed: "
                        "hostname mismatch" % port)
            tls_refused(cli, tls_args(certs, d.port),
                        "TLS handshake with 127.0.0.1 port %d failed: wrong "
                        "version number (is it a TLS port?)" % d.port)
        finally:
            for p in proxies.values():
                p.stop()
            d.stop()
        missing = certs.path("missing.pem")
        tls_refused(cli, ["--tls", "--cafile", missing],
                    "cannot read --cafile %s: No such file or directory"
                    % missing)
        tls_refused(cli, ["--tls", "--cafile", certs.path("server.key")],
                    "--cafile %s: no PEM certificate in it"
                    % certs.path("server.key"))
    for args in (["--cafile", "ca.pem"], ["--insecure"],
                 ["--tls", "--insecure", "--cafile", "ca.pem"],
                 ["--tls", "--cafile="]):
        rc, out, err = run_piped(cli, args, b"")
        check(rc == 2 and out == "" and err.count("\n") == 1 and
              err.startswith("chat-cli: "), "%s: exit %d, %r" % (
                  args, rc, err))


def test_tls_reconnect(cli, chatd):
    """--reconnect over TLS: the server restarts behind the same TLS port;
    the attempts in between fail their handshake and are retried; name and
    room come back, and the new connection resumes the TLS session."""
    with Certs() as certs:
        servers = [Chatd(chatd)]
        proxy = TlsProxy(certs.path("server.pem"), certs.path("server.key"),
                         servers[0].port)
        try:
            survive_restart(chatd, [cli, "--reconnect"] +
                            tls_args(certs, proxy.port), servers, proxy.port)
            check(proxy.resumed[0] is False and proxy.resumed[-1] is True,
                  "sessions resumed: %r" % proxy.resumed)
        finally:
            proxy.stop()
            for d in servers:
                d.stop()


def test_tls_s_server(cli, chatd):
    """Against `openssl s_server`, a TLS server no one here wrote: lines
    both ways, then chat-cli's close_notify ends it, exit 0."""
    with Certs() as certs:
        s = SServer(certs.path("server.pem"), certs.path("server.key"),
                    chain=certs.path("inter.pem"))
        try:
            r = Running([cli] + tls_args(certs, s.port, "-h", "localhost"))
            s.say("Server commands\nYou are tester\nYou joined main\n")
            r.wait_out("You joined main")
            r.send("hello s_server\n")
            deadline = time.monotonic() + WAIT
            while "hello s_server\n" not in s.out():
                check(time.monotonic() < deadline,
                      "s_server got %r" % s.out())
                time.sleep(0.02)
            rc, out, err = r.finish()
            check(rc == 0 and err == "", "exit %d, stderr %r" % (rc, err))
            check(out == "Server commands\nYou are tester\nYou joined "
                  "main\n", "stdout %r" % out)
            check(s.proc.wait(WAIT) == 0, "s_server: %s" % s.out())
        finally:
            s.stop()


def test_tls_chatd(cli, chatd):
    """Against chatd's own tls:// listener (skipped until chatd has one):
    a TLS user and a plain user in one room."""
    with Certs() as certs:
        d = tls_chatd(chatd, certs, cls=Chatd)
        try:
            watcher = d.peer()
            rc, out, err = run_piped(cli, tls_args(certs, d.tls_port),
                                     b"hello from tls\n")
            check(rc == 0 and err == "", "exit %d, stderr %r" % (rc, err))
            name = greeted_name(out)
            lines_in_order(out, [name + ": hello from tls"])
            watcher.expect(("^%s: hello from tls$" % name).encode())
            watcher.expect(("^%s left main$" % name).encode())
        finally:
            d.stop()


# ---- in a terminal: people --------------------------------------------------

def term_env(color=True):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm", INPUTRC="/dev/null", LANG="C.UTF-8",
               LC_ALL="C.UTF-8", HOME=tempfile.gettempdir())
    if not color:
        env["NO_COLOR"] = "1"
    return env


def last_line(screen):
    lines = [l for l in screen.lines() if l]
    return lines[-1] if lines else ""


def check_line_ended(t, rc):
    """After chat-cli exited: what a shell prints next ("[exit 1]", as
    tmux's status does) starts on a line of its own. Returns the lines."""
    t.screen.feed(("[exit %d]" % rc).encode())
    lines = [l for l in t.screen.lines() if l]
    check(lines[-1] == "[exit %d]" % rc,
          "chat-cli left its last line unended:\n" + t.screen.text())
    return lines


def start_alice(cli, d, color=True):
    t = Pty([cli, "-p", str(d.port), "--name", "alice"], env=term_env(color))
    t.wait_for(lambda s: last_line(s) == "alice@main>")
    return t


@contextlib.contextmanager
def alice_at_prompt(cli, chatd, color=True):
    """chatd; chat-cli as alice in a terminal, at her prompt. On the way out
    chat-cli is killed if still there and chatd stopped."""
    d = Chatd(chatd)
    t = None
    try:
        t = start_alice(cli, d, color)
        yield d, t
    finally:
        if t:
            t.close()
        d.stop()


@contextlib.contextmanager
def alice_and_bob(cli, chatd, color=True):
    """alice_at_prompt, and bob, a raw peer, in her room: she saw him join."""
    with alice_at_prompt(cli, chatd, color) as (d, t):
        bob = d.peer()
        t.wait_for("%s joined main" % bob.name)
        yield d, t, bob


def test_pty_typing(cli, chatd):
    """A message arriving mid-typing prints above; the typed text stays."""
    with alice_and_bob(cli, chatd) as (_, t, bob):
        t.type("hello wor")
        t.wait_for(lambda s: last_line(s) == "alice@main> hello wor")
        bob.send("hi alice")
        t.wait_for("%s: hi alice" % bob.name)
        t.wait_for(lambda s: last_line(s) == "alice@main> hello wor")
        lines = [l for l in t.screen.lines() if l]
        check(lines[-2] == "%s: hi alice" % bob.name,
              "message not right above the prompt:\n" + t.screen.text())
        check(t.screen.x == len("alice@main> hello wor"),
              "cursor at column %d" % t.screen.x)
        # Finish the line: the server gets it whole.
        t.type("ld\r")
        bob.expect(rb"^alice: hello world$")
        t.wait_for("alice: hello world")
        t.wait_for(lambda s: last_line(s) == "alice@main>")
        lines = [l for l in t.screen.lines() if l]
        check(lines[-2] == "alice: hello world", "echo:\n" + t.screen.text())
        check("alice@main> hello world" not in t.screen.text(),
              "typed line left on screen beside the echo")
        # Colours: own line green, the other speaker's name bold blue.
        check(b"\x1b[32malice: hello world" in t.raw, "own line not green")
        check(("\x1b[1;34m%s\x1b[0m: hi alice" % bob.name).encode() in t.raw,
              "other's name not coloured")


def test_pty_long_line(cli, chatd):
    """Typed text that wraps over two rows also survives a message."""
    with alice_and_bob(cli, chatd) as (_, t, bob):
        typed = "x" * 60 + " " + "y" * 40
        rows = ["alice@main> " + typed[:68], typed[68:]]  # 80 columns
        t.type(typed)
        t.wait_for(lambda s: [l for l in s.lines() if l][-2:] == rows)
        bob.send("interrupting")
        t.wait_for("%s: interrupting" % bob.name)
        t.wait_for(lambda s: [l for l in s.lines() if l][-3:] ==
                   ["%s: interrupting" % bob.name] + rows)
        t.type("\r")
        bob.expect(("^alice: %s$" % typed).encode())


def test_pty_no_color(cli, chatd):
    """NO_COLOR: no colour codes at all."""
    with alice_and_bob(cli, chatd, color=False) as (_, t, bob):
        bob.send("/nosuch")
        bob.send("plain please")
        t.wait_for("%s: plain please" % bob.name)
        t.type("/dance\r")
        t.wait_for("Unrecognized command /dance, try /help")
        check(not SGR.search(t.raw), "colour codes with NO_COLOR: %r" %
              SGR.findall(t.raw)[:5])


def leave_by(cli, chatd, keys):
    with alice_and_bob(cli, chatd) as (_, t, bob):
        t.type(keys)
        bob.expect(rb"^alice left main$")
        t.wait_for("Bye!")
        rc = t.wait_exit()
        check(rc == 0, "exit %d:\n%s" % (rc, t.screen.text()))
        check_line_ended(t, rc)


def test_pty_ctrl_d(cli, chatd):
    leave_by(cli, chatd, "\x04")


def test_pty_ctrl_c(cli, chatd):
    leave_by(cli, chatd, "half typed\x03")


def test_pty_quit(cli, chatd):
    leave_by(cli, chatd, "/quit\r")


def test_pty_history(cli, chatd):
    """Up arrow brings back the last line."""
    with alice_and_bob(cli, chatd) as (_, t, bob):
        t.type("first\r")
        bob.expect(rb"^alice: first$")
        t.type("second\r")
        bob.expect(rb"^alice: second$")
        t.type("\x1b[A\x1b[A\r")
        bob.expect(rb"^alice: first$")


def test_pty_suspend(cli, chatd):
    """Ctrl-Z gives the shell a cooked terminal; on resume the typed text
    and readline's own modes come back."""
    with alice_and_bob(cli, chatd) as (_, t, bob):
        t.type("half")
        t.wait_for(lambda s: last_line(s) == "alice@main> half")
        t.type("\x1a")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            pid, status = os.waitpid(t.pid, os.WUNTRACED | os.WNOHANG)
            if pid:
                break
            t.pump(0.05)
        check(pid and os.WIFSTOPPED(status), "not stopped by Ctrl-Z")
        lflag = termios.tcgetattr(t.fd)[3]
        check(lflag & termios.ICANON and lflag & termios.ECHO,
              "terminal left in raw mode while stopped")
        os.kill(t.pid, signal.SIGCONT)
        t.wait_for(lambda s: not termios.tcgetattr(t.fd)[3] & termios.ICANON)
        t.type(" done\r")
        bob.expect(rb"^alice: half done$")


def test_pty_server_gone(cli, chatd):
    """The server goes: the terminal says why and chat-cli exits 1."""
    with alice_at_prompt(cli, chatd) as (d, t):
        t.type("unsent")
        d.stop()
        t.wait_for("Server shutting down...")
        rc = t.wait_exit()
        check(rc == 1, "exit %d" % rc)
        t.wait_for("connection lost: the server closed the connection")


def test_pty_server_gone_after_enter(cli, chatd):
    """Issue 9, defect 7: the user has pressed Enter, server lines have
    redrawn the prompt since, then the server goes. chat-cli must end the
    "(offline) alice@main>" line, so that the shell's next output starts on
    a line of its own (in tmux it landed on top: "[exit 1]ena@main>")."""
    with alice_and_bob(cli, chatd) as (d, t, bob):
        t.type("hello\r")
        bob.expect(rb"^alice: hello$")
        bob.send("hi alice")
        t.wait_for(lambda s: "%s: hi alice" % bob.name in s.lines() and
                   last_line(s) == "alice@main>")
        d.stop()
        rc = t.wait_exit()
        check(rc == 1, "exit %d" % rc)
        lines = check_line_ended(t, rc)
        check(lines[-2] == "(offline) alice@main>",
              "not the offline prompt:\n" + t.screen.text())


def test_pty_reconnect(cli, chatd):
    """At the prompt: the server restarts; name, room and prompt come back,
    and the help text is not shown twice."""
    a = Chatd(chatd)
    port = a.port
    b = None
    t = None
    try:
        t = Pty([cli, "-p", str(port), "-n", "alice", "--reconnect"],
                env=term_env())
        t.wait_for(lambda s: last_line(s) == "alice@main>")
        t.type("/join ops\r")
        t.wait_for(lambda s: last_line(s) == "alice@ops>")
        a.stop()
        t.wait_for("-- connection lost: the server closed the connection; "
                   "reconnecting in")
        t.wait_for(lambda s: last_line(s) == "(offline) alice@ops>")
        b = Chatd(chatd, port=port)
        t.wait_for("-- reconnected to 127.0.0.1 port %d" % port)
        t.wait_for(lambda s: t.raw.count(b"You joined ops") == 2 and
                   last_line(s) == "alice@ops>")
        watcher = b.peer()
        watcher.send("/join ops")
        t.wait_for("%s joined ops" % watcher.name)
        t.type("back\r")
        watcher.expect(rb"^alice: back$")
        text = t.raw.decode("utf-8", "replace")
        check(text.count("Server commands") == 1 and
              text.count("/quit - ") <= 1, "help shown again:\n" + text)
    finally:
        if t:
            t.close()
        a.stop()
        if b:
            b.stop()


if __name__ == "__main__":
    signal.alarm(int(WAIT * 6))  # a hung test dies instead of stalling CI
    main(globals())
