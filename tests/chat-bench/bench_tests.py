"""chat-bench end to end against a real chatd on loopback.

    bench_tests.py TEST CHAT_BENCH CHATD

Each test starts its own chatd on 127.0.0.1 port 0 (under $CHATD_WRAPPER,
split on spaces, if set: `meson test --setup valgrind`), runs chat-bench
briefly and checks that its counts add up, read from --json. The redis_*
tests start a redis-server on a free loopback port instead, and are
skipped (exit 77) where it is not installed. Standard library only.
Nothing here measures speed: every wait is a deadline for something to
happen, scaled for slow wrappers.
"""
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from e2e import (WAIT, Chatd, Failure, Skip, check, main,  # noqa: E402
                 file_bytes, need_ipv6, refusing_port, slowdown)
from tlstest import Certs, TlsProxy, tls_chatd  # noqa: E402

DRAIN = str(5 * slowdown())  # chat-bench --drain-timeout


def run(bench, *args, timeout=None, **kw):
    """Run chat-bench to its end; returns (status, stdout, stderr)."""
    p = subprocess.run([bench] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout or 6 * WAIT, **kw)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def report(out):
    try:
        return json.loads(out)
    except ValueError:
        raise Failure("not one JSON object: %r" % out)


def one_error_line(rc, out, err, status=1):
    check(rc == status, "exit status %d, wanted %d; stderr %r" %
          (rc, status, err))
    lines = err.splitlines()
    check(len(lines) == 1 and lines[0].startswith("chat-bench: ")
          and err.endswith("\n"), "not one error line: %r" % err)
    return lines[0]


def check_clean(r):
    """The run ended normally and everything is accounted for."""
    for key in ("lost", "dropped", "reordered", "duplicates", "foreign"):
        check(r[key] == 0, "%s = %d: %r" % (key, r[key], r))
    check(not r["stalled"] and not r["error"], "run did not end cleanly: %r" % r)
    check(r["deliveries"] == r["expected_deliveries"],
          "deliveries %d != expected %d" % (r["deliveries"],
                                            r["expected_deliveries"]))
    # redis has no echoes: a sender does not receive its own messages.
    echoes = r["accepted"] if r["target"] == "chatd" else 0
    check(r["echoes"] == r["expected_echoes"] == echoes,
          "echoes do not add up: %r" % r)
    lat = r["latency_us"]
    check(0 < lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"],
          "latency quantiles out of order: %r" % lat)


def check_server_figures(r):
    """--server-pid: the server's CPU and memory were read."""
    check(r["server_cpu_s"] is not None and r["server_cpu_s"] >= 0, "%r" % r)
    check(r["server_ns_per_delivery"] is not None, "%r" % r)
    check(r["server_rss_kib_start"] > 0 and r["server_rss_kib_idle"] > 0,
          "%r" % r)
    check(r["other_cpu_pct"] is not None and r["other_cpu_pct"] >= 0,
          "%r" % r)


class Redis:
    """redis-server on a free loopback port, no persistence (the test is
    skipped where redis-server is not installed). stop() ends it."""

    def __init__(self, *args):
        exe = shutil.which("redis-server")
        if not exe:
            raise Skip("redis-server is not installed")
        s, self.port = refusing_port()
        s.close()  # free again, for redis to take
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no",
             "--logfile", ""] + list(args),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + WAIT
        while not self.listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise Failure("redis-server did not start: %r" %
                              file_bytes(self.log))
            time.sleep(0.02)

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def redis_report(bench, rs, *args):
    """chat-bench --target redis against rs with args, run to a clean
    exit; its --json report."""
    rc, out, err = run(bench, "--target", "redis", "-p", rs.port, *args,
                       "--json", "--drain-timeout", DRAIN)
    check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
    return report(out)


# ---- the tests -------------------------------------------------------------

def test_counts(bench, chatd):
    """One room, window pacing: every message reaches every other member."""
    d = Chatd(chatd, "--rate", "0")
    try:
        rc, out, err = run(bench, "-p", d.port, "--clients", 30, "--senders",
                           3, "--messages", 300, "--json",
                           "--drain-timeout", DRAIN)
        check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
        r = report(out)
        check(r["sent"] == 900 and r["accepted"] == 900 and r["refused"] == 0,
              "sent/accepted: %r" % r)
        check(r["expected_deliveries"] == 900 * 29, "expected: %r" % r)
        check(r["too_fast"] == 0, "rate limited under --rate 0: %r" % r)
        check_clean(r)
        check(r["deliveries_per_s"] > 0 and r["cpu_user_s"] >= 0, "%r" % r)
    finally:
        d.stop()


def test_rooms_rate(bench, chatd):
    """Four rooms, open-loop --rate pacing, --duration: 10 members a room,
    so each message is due to 9 others."""
    d = Chatd(chatd, "--rate", "0")
    try:
        rc, out, err = run(bench, "-p", d.port, "--clients", 40, "--rooms", 4,
                           "--senders", 8, "--rate", 20, "--duration", 1,
                           "--size", 400, "--json", "--drain-timeout", DRAIN)
        check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
        r = report(out)
        check(r["sent"] >= 8 and r["pacing"] == "rate", "%r" % r)
        check(r["expected_deliveries"] == r["sent"] * 9, "expected: %r" % r)
        check_clean(r)
    finally:
        d.stop()


def test_ack_receivers(bench, chatd):
    """--ack receivers: a message leaves the window once every client that
    does not send has it; --server-pid reads chatd's CPU and memory, and
    the deliveries to receivers are counted apart from those to the other
    senders."""
    d = Chatd(chatd, "--rate", "0")
    try:
        rc, out, err = run(bench, "-p", d.port, "--clients", 20, "--senders",
                           4, "--rooms", 2, "--messages", 200, "--window", 4,
                           "--ack", "receivers", "--server-pid", d.proc.pid,
                           "--json", "--drain-timeout", DRAIN)
        check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
        r = report(out)
        check(r["ack"] == "receivers" and r["target"] == "chatd", "%r" % r)
        # 10 clients a room, 2 of them senders: 9 deliveries a message, 8
        # of them to receivers.
        check(r["expected_deliveries"] == 800 * 9, "%r" % r)
        check(r["receiver_deliveries"] == 800 * 8, "%r" % r)
        check_clean(r)
        check_server_figures(r)
    finally:
        d.stop()


def test_redis_counts(bench, chatd):
    """--target redis: receivers subscribe, senders publish; each message
    reaches every subscriber of its channel once, and the PUBLISH replies
    pace the senders."""
    rs = Redis()
    try:
        r = redis_report(bench, rs, "--clients", 30, "--senders", 3,
                         "--messages", 300)
        check(r["target"] == "redis" and r["sent"] == r["accepted"] == 900,
              "%r" % r)
        check(r["expected_deliveries"] == 900 * 27, "expected: %r" % r)
        check(r["receiver_deliveries"] == r["deliveries"], "%r" % r)
        check_clean(r)
    finally:
        rs.stop()


def test_redis_rooms(bench, chatd):
    """Three channels, --ack receivers, --server-pid: the same accounting
    and server figures as against chatd."""
    rs = Redis()
    try:
        r = redis_report(bench, rs, "--clients", 30, "--rooms", 3,
                         "--senders", 6, "--messages", 100, "--window", 4,
                         "--size", 400, "--ack", "receivers", "--server-pid",
                         rs.proc.pid)
        # 10 clients a channel, 2 of them publishers: 8 subscribers.
        check(r["expected_deliveries"] == 600 * 8, "expected: %r" % r)
        check_clean(r)
        check_server_figures(r)
    finally:
        rs.stop()


def test_redis_text_report(bench, chatd):
    """Without --json: the report names redis and has no echoes."""
    rs = Redis()
    try:
        rc, out, err = run(bench, "--target", "redis", "-p", rs.port,
                           "--clients", 4, "--senders", 2, "--messages", 50,
                           "--server-pid", rs.proc.pid,
                           "--drain-timeout", DRAIN)
        check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
        for pattern in (r"^chat-bench: redis pub/sub, 4 clients in 1 room, "
                        r"2 senders, 64-byte messages, window 16$",
                        r"^deliveries +200 of 200 due: \d+/s$",
                        r"^server +pid \d+: [\d.]+ s cpu, \d+ ns per "
                        r"delivery to a receiver; RSS \d+ KiB before"):
            check(re.search(pattern, out, re.M), "no %r in %r" % (pattern, out))
    finally:
        rs.stop()


def test_redis_refuses(bench, chatd):
    """redis answers with an error (here: too many clients): one line
    quoting it, status 1."""
    rs = Redis("--maxclients", "3")
    try:
        rc, out, err = run(bench, "--target", "redis", "-p", rs.port,
                           "--clients", 6, "--concurrency", 1)
        line = one_error_line(rc, out, err)
        check(re.match(r"chat-bench: connection \d+: redis answered: "
                       r"ERR max number of clients reached$", line), line)
    finally:
        rs.stop()


def test_redis_gone(bench, chatd):
    """redis-server dies mid-run: one error line, status 1."""
    rs = Redis()
    try:
        p = subprocess.Popen([bench, "--target", "redis", "-p", str(rs.port),
                              "--clients", "6", "--senders", "2", "--rate",
                              "50", "--duration", "60", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        rs.proc.kill()
        out, err = p.communicate(timeout=WAIT)
        line = one_error_line(p.returncode, out.decode(), err.decode())
        check("connection" in line, line)
    finally:
        rs.stop()


def test_ipv6(bench, chatd):
    """chatd on ::1, chat-bench -h [::1]."""
    need_ipv6()
    d = Chatd(chatd, "--rate", "0", addr="::1")
    try:
        rc, out, err = run(bench, "-h", "[::1]", "-p", d.port, "--clients", 6,
                           "--rooms", 2, "--senders", 2, "--messages", 50,
                           "--json", "--drain-timeout", DRAIN)
        check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
        r = report(out)
        check(r["expected_deliveries"] == 100 * 2, "%r" % r)
        check_clean(r)
    finally:
        d.stop()


def test_text_report(bench, chatd):
    """Without --json: the human report, on stdout only."""
    d = Chatd(chatd, "--rate", "0")
    try:
        rc, out, err = run(bench, "-p", d.port, "--clients", 4, "--senders",
                           2, "--messages", 50, "--drain-timeout", DRAIN)
        check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
        for pattern in (r"^chat-bench: 4 clients in 1 room, 2 senders, "
                        r"64-byte messages, window 16$",
                        r"^sent +100 messages in ",
                        r"^deliveries +300 of 300 due: ",
                        r"echoes 100 of 100$",
                        r"^latency +p50 [\d.]+ ms, p99 [\d.]+ ms, "
                        r"p99\.9 [\d.]+ ms, max [\d.]+ ms$",
                        r"^dropped +0; lost 0; reordered 0; duplicates 0; "
                        r"too-fast notices 0$",
                        r"^cpu +[\d.]+ s user \+ [\d.]+ s sys"):
            check(re.search(pattern, out, re.M), "no %r in %r" % (pattern, out))
    finally:
        d.stop()


def test_rate_limited(bench, chatd):
    """chatd's default rate limit (20/s, burst 40) refuses lines silently
    after one notice: chat-bench counts the notices, settles the refused
    messages instead of waiting for them, and nothing counts as lost."""
    d = Chatd(chatd)
    try:
        rc, out, err = run(bench, "-p", d.port, "--clients", 5, "--senders",
                           1, "--messages", 80, "--json",
                           "--drain-timeout", DRAIN)
        check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
        r = report(out)
        check(r["too_fast"] >= 1 and r["refused"] >= 1, "not limited: %r" % r)
        check(r["accepted"] + r["refused"] == r["sent"] == 80, "%r" % r)
        check(r["accepted"] >= 40, "the burst was refused: %r" % r)
        check(r["expected_deliveries"] == r["accepted"] * 4, "%r" % r)
        check_clean(r)
    finally:
        d.stop()


def test_slow_readers(bench, chatd):
    """A tiny --high-water makes every client a slow reader: the server
    drops lines and says how many, and received + dropped is exactly what
    was due (lost stays 0, nothing counted twice)."""
    d = Chatd(chatd, "--rate", "0", "--high-water", "1024")
    try:
        rc, out, err = run(bench, "-p", d.port, "--clients", 60, "--senders",
                           6, "--window", 64, "--size", 400, "--messages",
                           200, "--json", "--drain-timeout", DRAIN)
        check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
        r = report(out)
        due = r["expected_deliveries"] + r["expected_echoes"]
        got = r["deliveries"] + r["echoes"] + r["dropped"]
        check(got == due, "received + dropped = %d, due %d: %r" % (got, due, r))
        check(r["lost"] == 0 and not r["stalled"] and not r["error"],
              "%r" % r)
        check(r["reordered"] == 0 and r["duplicates"] == 0, "%r" % r)
        # Drops are what a fast machine shows; a slow one may keep up.
        if r["dropped"] == 0:
            print("note: no line was dropped on this run")
    finally:
        d.stop()


def test_bots(bench, chatd):
    """--bots --duration 2: bots chat, rename and move, then quit; exit 0."""
    d = Chatd(chatd)
    try:
        rc, out, err = run(bench, "-p", d.port, "--bots", "--clients", 8,
                           "--rooms", 3, "--rate", 5, "--duration", 2,
                           "--seed", 42, "--json")
        check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
        r = report(out)
        check(r["mode"] == "bots" and r["online"] == 8, "%r" % r)
        check(r["sent"] > 0 and r["chat"] > 0, "no activity: %r" % r)
        check(r["received"] > r["chat"], "nothing relayed: %r" % r)
        check(r["disconnects"] == 0 and not r["error"], "%r" % r)
        # The bots said /quit: chatd has nobody left (it answers /rooms
        # with only the newcomer's room).
        s = socket.create_connection(("127.0.0.1", d.port), timeout=WAIT)
        s.sendall(b"/rooms\n")
        buf = b""
        deadline = time.monotonic() + WAIT
        while b"Rooms - " not in buf and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        s.close()
        m = re.search(rb"Rooms - ([^\n]*)\n", buf)
        check(m and m.group(1) == b"main (1)", "bots still online: %r" % buf)
    finally:
        d.stop()


# ---- over TLS -----------------------------------------------------------------

def tls_load(bench, port, *args):
    """A small load run with --tls against port; its --json report."""
    rc, out, err = run(bench, "--tls", "-p", port, "--clients", 12,
                       "--senders", 2, "--messages", 150, "--json",
                       "--drain-timeout", DRAIN, *args)
    check(rc == 0 and err == "", "status %d, stderr %r" % (rc, err))
    r = report(out)
    check(r["tls"] is True, "not over TLS: %r" % r)
    check(r["sent"] == 300 and r["expected_deliveries"] == 300 * 11,
          "sent/expected: %r" % r)
    check_clean(r)
    return r


def test_tls_counts(bench, chatd):
    """--tls through a TLS proxy in front of chatd: the counts add up, the
    server verified with --cafile or not at all."""
    with Certs() as certs:
        d = Chatd(chatd, "--rate", "0")
        proxy = TlsProxy(certs.path("server.pem"), certs.path("server.key"),
                         d.port)
        try:
            tls_load(bench, proxy.port)
            tls_load(bench, proxy.port, "--cafile", certs.path("ca.pem"),
                     "-h", "localhost")
        finally:
            proxy.stop()
            d.stop()


def test_tls_refusals(bench, chatd):
    """What --tls refuses, each in one line, status 1: a certificate that
    --cafile does not vouch for, a name it does not carry, a plain port,
    an unreadable --cafile."""
    with Certs() as certs:
        d = Chatd(chatd, "--rate", "0")
        proxies = []
        try:
            for cert in ("self", "elsewhere"):
                proxies.append(TlsProxy(certs.path(cert + ".pem"),
                                        certs.path(cert + ".key"), d.port))
            ca = certs.path("ca.pem")
            for port, args, why in (
                    (proxies[0].port, ["--cafile", ca],
                     "self-signed certificate"),
                    (proxies[1].port, ["--cafile", ca], "IP address mismatch"),
                    (d.port, [], "wrong version number")):
                rc, out, err = run(bench, "--tls", "-p", port, "--clients", 3,
                                   *args)
                line = one_error_line(rc, out, err)
                check(line == "chat-bench: TLS handshake with 127.0.0.1 port "
                      "%d failed: %s" % (port, why), line)
        finally:
            for p in proxies:
                p.stop()
            d.stop()
        missing = certs.path("missing.pem")
        rc, out, err = run(bench, "--tls", "--cafile", missing)
        line = one_error_line(rc, out, err)
        check(line == "chat-bench: cannot read --cafile %s: No such file or "
              "directory" % missing, line)


def test_tls_chatd(bench, chatd):
    """--tls against chatd's own tls:// listener (skipped until chatd has
    one): the counts add up, and --server-pid reads the server."""
    with Certs() as certs:
        d = tls_chatd(chatd, certs, "--rate", "0")
        try:
            r = tls_load(bench, d.tls_port, "--server-pid", d.proc.pid)
            check_server_figures(r)
        finally:
            d.stop()


def test_tls_redis(bench, chatd):
    """--target redis --tls against redis-server's --tls-port (skipped
    where redis-server is missing or built without TLS)."""
    with Certs() as certs:
        s, tls_port = refusing_port()
        s.close()
        try:
            rs = Redis("--tls-port", str(tls_port),
                       "--tls-cert-file", certs.path("server.pem"),
                       "--tls-key-file", certs.path("server.key"),
                       "--tls-auth-clients", "no")
        except Failure as e:
            if "tls" in str(e).lower():
                raise Skip("redis-server has no TLS: %s" % e)
            raise
        try:
            rs.port = tls_port
            r = redis_report(bench, rs, "--tls", "--cafile",
                             certs.path("ca.pem"), "--clients", 12,
                             "--senders", 2, "--messages", 150)
            check(r["tls"] is True, "not over TLS: %r" % r)
            check(r["receiver_deliveries"] == 300 * 10, "%r" % r)
            check_clean(r)
        finally:
            rs.stop()


BAD_ARGS = [
    ["--clients", "0"],
    ["--size", "10"],
    ["--rate", "5", "--window", "3"],
    ["--senders", "20"],
    ["--bots", "--messages", "5"],
    ["--target", "irc"],
    ["--bots", "--target", "redis"],
    ["--rate", "5", "--ack", "receivers"],
    ["--frobnicate"],
    ["--port"],
    ["extra"],
    ["--cafile", "ca.pem"],
]


def test_bad_args(bench, chatd):
    """A bad command line: one line on stderr, status 2, nothing sent."""
    for args in BAD_ARGS:
        rc, out, err = run(bench, *args)
        line = one_error_line(rc, out, err, status=2)
        check(out == "", "stdout for %r: %r" % (args, out))
        check("try chat-bench --help" in line, "%r: %r" % (args, line))
    rc, out, err = run(bench, "--help")
    check(rc == 0 and out.startswith("Usage: chat-bench") and err == "",
          "--help: %d %r %r" % (rc, out, err))
    rc, out, err = run(bench, "--version")
    check(rc == 0 and out.startswith("chat-bench ") and err == "",
          "--version: %d %r %r" % (rc, out, err))


def test_refused(bench, chatd):
    """Nobody listening: one clear line, status 1."""
    s, port = refusing_port()
    try:
        rc, out, err = run(bench, "-p", port, "--clients", 5)
    finally:
        s.close()
    line = one_error_line(rc, out, err)
    check(line == "chat-bench: cannot connect to 127.0.0.1 port %d: "
          "Connection refused" % port, line)
    check(out == "", "stdout: %r" % out)


def test_server_full(bench, chatd):
    """More clients than chatd --max-clients: one line quoting the server."""
    d = Chatd(chatd, "--rate", "0", "--max-clients", "5")
    try:
        rc, out, err = run(bench, "-p", d.port, "--clients", 10,
                           "--concurrency", 1)
        line = one_error_line(rc, out, err)
        check(line == "chat-bench: connection 6: the server closed it during "
              "setup; its last line: Server is full, try again later", line)
    finally:
        d.stop()


def lower_nofile(n):
    def setup():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return setup


def test_out_of_fds(bench, chatd):
    """Too few file descriptors: refused before connecting when the limit
    cannot fit the clients, or stopped with one line when it runs out."""
    rc, out, err = run(bench, "--clients", 100, preexec_fn=lower_nofile(64))
    line = one_error_line(rc, out, err)
    check("100 clients need" in line and "file descriptors" in line, line)
    d = Chatd(chatd, "--rate", "0")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(30)]
    try:
        # 30 inherited descriptors eat the room the check left for them.
        rc, out, err = run(bench, "-p", d.port, "--clients", 30,
                           preexec_fn=lower_nofile(64), pass_fds=held)
        line = one_error_line(rc, out, err)
        check("out of file descriptors after" in line, line)
    finally:
        for fd in held:
            os.close(fd)
        d.stop()


def test_server_gone(bench, chatd):
    """chatd dies mid-run: one error line, status 1, the report still
    printed (marked as an error)."""
    d = Chatd(chatd, "--rate", "0")
    try:
        p = subprocess.Popen([bench, "-p", str(d.port), "--clients", "6",
                              "--senders", "2", "--rate", "50",
                              "--duration", "60", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5 * slowdown())
        d.kill()
        out, err = p.communicate(timeout=WAIT)
        line = one_error_line(p.returncode, out.decode(), err.decode())
        check("connection" in line, line)
        if out:
            check(report(out.decode())["error"], "not marked: %r" % out)
    finally:
        d.kill()


if __name__ == "__main__":
    main(globals())
