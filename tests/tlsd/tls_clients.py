#!/usr/bin/python3
"""chatd's tls:// and https:// listeners against clients nobody here
wrote: `openssl s_client` and `socat OPENSSL:` beside a plain TCP user in
one room, and Debian's python3-websockets over wss:// beside a TLS line
user, with the page and /metrics fetched over https://. Every client
verifies chatd against the test CA (tests/tls/mkcerts.sh) and the name
"localhost": a chatd that sent no chain, another certificate or no TLS at
all would fail here.

Run by /usr/bin/python3 (Debian's packages live there). The WebSocket
story skips (77) without python3-websockets; the rest needs only the
openssl command and socat (skipped without them too).

usage: tls_clients.py TEST PROGRAM CHATD (tests/e2e.py; PROGRAM unused)
"""
import asyncio
import os
import re
import shutil
import ssl
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsusers  # noqa: E402
from tlsusers import (WAIT, Certs, Failure, ProgramUser,  # noqa: E402
                      SocketUser, check, client_context, listen_port,
                      tls_chatd)
import e2e  # noqa: E402

try:
    import websockets
except ImportError:
    websockets = None

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                    "server", "page", "index.html")


def need(program):
    if not shutil.which(program):
        raise e2e.Skip("no %s here" % program)


def s_client(certs, port):
    """openssl s_client as a chat user: the chain verified up to the test
    root alone (so chatd must send the intermediate), the name checked,
    and no command letters (a line starting with R or Q is just a line)."""
    return ProgramUser(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
         "-CAfile", certs.path("ca.pem"), "-verify_return_error",
         "-verify_hostname", "localhost", "-servername", "localhost",
         "-quiet", "-nocommands"], "s_client")


def socat(certs, port):
    """socat's OPENSSL address as a chat user: verify is socat's default;
    -t: after its input ends, wait that long for chatd's last lines."""
    return ProgramUser(
        ["socat", "-t", "%d" % WAIT, "-",
         "OPENSSL:127.0.0.1:%d,cafile=%s,commonname=localhost,"
         "snihost=localhost,verify=1" % (port, certs.path("ca.pem"))],
        "socat")


def verified(prog):
    """The program's log shows the three certificates verified."""
    err = prog.err()
    check(err.count("verify return:1") == 3 and "error" not in err,
          "%s did not verify chatd's chain: %s" % (prog.who, err))


def test_s_client_socat_and_telnet_share_a_room(prog, chatd):
    """s_client and socat on tls://, a TCP user on the plain port: one
    room, names, lines both ways, /msg, /me, /users; s_client leaves with
    /quit (Bye!, then chatd's close_notify ends it with status 0), socat
    by ending its input (its close_notify; chatd says goodbye to the room
    and closes, socat exits 0)."""
    need("openssl")
    need("socat")
    with Certs() as certs:
        d = tls_chatd(chatd, certs, "-v")
        users = []
        try:
            t = SocketUser(d.port)
            users.append(t)
            t.greet("telnet")
            s = s_client(certs, d.tls_port)
            users.append(s)
            s.greet("openssl")
            t.expect("%s joined main" % s.born)
            t.expect("%s is now openssl" % s.born)
            c = socat(certs, d.tls_port)
            users.append(c)
            c.greet("socat")
            for u in (t, s):
                u.expect("%s joined main" % c.born)
                u.expect("%s is now socat" % c.born)
            s.says("hello from openssl", t, c)
            c.says("and from socat", t, s)
            t.says("hi both", s, c)
            s.send("/msg telnet,socat psst")
            s.expect("to telnet, socat: psst")
            t.expect("from openssl: psst")
            c.expect("from openssl: psst")
            t.send("/me waves")
            for u in (t, s, c):
                u.expect("* telnet waves")
            c.send("/users")
            c.expect("Users - openssl, socat, telnet")
            s.send("/quit")
            s.expect("Bye!")
            check(s.rest() == b"", "s_client: bytes after Bye!")
            check(s.wait() == 0, "s_client exited %r: %s" % (
                s.proc.returncode, s.err()))
            t.expect("openssl left main")
            c.expect("openssl left main")
            c.end_input()
            check(c.rest() == b"", "socat: bytes after its input ended")
            check(c.wait() == 0, "socat exited %r: %s" % (
                c.proc.returncode, c.err()))
            t.expect("socat left main")
            verified(s)
            check(len(re.findall(rb": TLSv1\.3, TLS_", d.text())) == 2,
                  "chatd did not log two TLS 1.3 sessions: %s" % d.log_text())
        finally:
            for u in users:
                u.close()
            d.stop()


def test_dialect_over_tls(prog, chatd):
    """A tls:// listener speaks its ?dialect= as a tcp:// one does: chatd
    logs it with its real port, and s_client there is an a-chat user (a
    name first, then `name: message`) who exchanges direct messages with a
    TCP user and leaves with /quit."""
    need("openssl")
    with Certs() as certs:
        d = e2e.Chatd(chatd, "--listen", "tls://127.0.0.1:0?dialect=a-chat",
                      "--tls-cert", certs.path("server.pem"),
                      "--tls-key", certs.path("server.key"))
        users = []
        try:
            port = listen_port(d, "tls")
            check(b"listening on tls://127.0.0.1:%d?dialect=a-chat\n" % port
                  in d.text(), "the listener's line: %s" % d.log_text())
            t = SocketUser(d.port)
            users.append(t)
            t.greet("bob")
            a = s_client(certs, port)
            users.append(a)
            a.send("alice")
            t.expect("alice joined main")
            a.send("bob: hello over tls")
            t.expect("from alice: hello over tls")
            t.send("/msg alice hi")
            t.expect("to alice: hi")
            a.expect("from bob: hi")
            a.send("/quit")
            a.expect("Bye!")
            check(a.wait() == 0, "s_client: %s" % a.err())
            t.expect("alice left main")
            verified(a)
        finally:
            for u in users:
                u.close()
            d.stop()


def fetch(url, certs):
    """GET url over https (the test CA trusted): (status, body)."""
    with urllib.request.urlopen(url, timeout=WAIT,
                                context=client_context(certs)) as r:
        return r.status, r.read()


def metric(text, name, transport):
    m = re.search(r'^%s\{transport="%s"\} (\d+)$' % (name, transport), text,
                  re.M)
    return int(m.group(1)) if m else None


def test_wss_and_tls_line_user(prog, chatd):
    """A browser's way in: https:// serves the page byte for byte, and
    Debian's python3-websockets over wss://…/ws chats with a TLS line user
    (python's ssl) and a TCP user: names, lines both ways, /msg, /me, and a
    quiet spell after talking, longer than --tls-handshake-timeout and
    --http-timeout, that cuts no one.
    /metrics over https:// counts one tls and one wss connection open."""
    if websockets is None:
        raise e2e.Skip("no python3-websockets under %s" % sys.executable)
    with Certs() as certs:
        d = tls_chatd(chatd, certs, "--listen", "https://127.0.0.1:0",
                      "--tls-handshake-timeout", "1", "--http-timeout", "1")
        https = listen_port(d, "https")
        base = "https://127.0.0.1:%d" % https
        t = SocketUser(d.port).greet("telnet")
        line = SocketUser(d.tls_port, client_context(certs), "tls")
        line.greet("tls")
        t.expect("%s joined main" % line.born)
        t.expect("%s is now tls" % line.born)
        try:
            status, body = fetch(base + "/", certs)
            with open(PAGE, "rb") as f:
                check(status == 200 and body == f.read(),
                      "the page over https:// differs (status %d)" % status)

            async def story():
                async with websockets.connect(
                        "wss://127.0.0.1:%d/ws" % https,
                        ssl=client_context(certs), open_timeout=WAIT,
                        close_timeout=WAIT, ping_interval=None) as ws:
                    async def recv():
                        return await asyncio.wait_for(ws.recv(), WAIT)

                    while not (await recv()).startswith("You joined "):
                        pass
                    await ws.send("/name wss")
                    got = await recv()
                    check(got.endswith(" is now wss"), "wss: %r" % got)
                    for u in (t, line):
                        u.expect(got.split()[0] + " joined main")
                        u.expect(got)
                    await ws.send("hello over wss")
                    check(await recv() == "wss: hello over wss", "echo")
                    t.expect("wss: hello over wss")
                    line.expect("wss: hello over wss")
                    time.sleep(1.5 * e2e.slowdown())  # quiet, past 1 s
                    line.says("hello over tls", t)
                    check(await recv() == "tls: hello over tls", "tls line")
                    line.send("/msg wss psst")
                    line.expect("to wss: psst")
                    check(await recv() == "from tls: psst", "/msg")
                    await ws.send("/me waves")
                    check(await recv() == "* wss waves", "/me")
                    t.expect("* wss waves")
                    line.expect("* wss waves")
                    _, text = fetch(base + "/metrics", certs)
                    text = text.decode()
                    for kind in ("tls", "wss"):
                        n = metric(text, "chatd_connections_open", kind)
                        check(n == 1, "%s connections open: %r" % (kind, n))
                    await ws.send("/quit")
                    check(await recv() == "Bye!", "Bye!")
                    line.expect("wss left main")
                    t.expect("wss left main")
            asyncio.run(story())
            line.says("still here", t)
        finally:
            t.close()
            line.close()
            d.stop()


if __name__ == "__main__":
    e2e.main(globals())
