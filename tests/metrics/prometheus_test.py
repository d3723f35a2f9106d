"""chatd scraped by a real Prometheus server (Debian's prometheus package).

usage: prometheus_test.py CHATD

Starts chatd with a plain TCP listener and `--listen http://127.0.0.1:0`,
then `prometheus` on loopback with a generated config that scrapes chatd's
/metrics every second into a temporary storage directory. Three TCP users
join and chat; Prometheus's HTTP API (/api/v1/query) must then answer with
what happened: 3 users, 3 messages, 1 room, 3 open TCP connections; after
one user quits, 2 users and one disconnect for reason quit.

Exit 77 (skip) when prometheus is not installed or when chatd was built
without its http:// listener (it refuses the --listen URL); a listener that
does not serve /metrics fails. Standard library only, like tests/e2e.py whose
Chatd, deadlines and failures it uses.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from e2e import WAIT, Chatd, Failure, Skip, check, file_bytes  # noqa: E402

# Loopback only: a proxy from the environment must not see these requests.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=WAIT):
    """(status, body) of a GET; connection errors raise OSError."""
    try:
        with HTTP.open(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_chatd(chatd):
    """chatd with a TCP and an http:// listener: (Chatd, tcp port, http
    port). Skip if chatd does not know http:// yet."""
    try:
        d = Chatd(chatd, "--listen", "http://127.0.0.1:0")
    except Failure as e:
        msg = str(e)
        # A chatd before --listen, or before its http:// scheme.
        if ("unknown option '--listen'" in msg or
                "for --listen: unknown scheme 'http'" in msg):
            raise Skip("chatd has no http:// listener yet: " + msg)
        raise
    deadline = time.monotonic() + WAIT
    while True:
        text = d.log_text()
        tcp = re.search(r"listening on (?!http)\S*:(\d+)", text)
        web = re.search(r"listening on http://\S+:(\d+)", text)
        if tcp and web:
            return d, int(tcp.group(1)), int(web.group(1))
        if time.monotonic() > deadline:
            d.kill()
            raise Failure("chatd did not log both listeners: " + text)
        time.sleep(0.02)


def free_port():
    """A loopback port free a moment ago (Prometheus cannot take port 0:
    the test must know where it listens)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: chatd
    static_configs:
      - targets: ['127.0.0.1:{port}']
"""


class Prometheus:
    """prometheus scraping 127.0.0.1:target every second, its storage and
    log in tmp. Ready once /-/ready answers 200."""

    def __init__(self, tmp, target):
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(CONFIG.format(port=target))
        self.log = open(os.path.join(tmp, "prometheus.log"), "w+b")
        self.port = free_port()
        # No proxy from the environment for the scrapes either.
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy")}
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            env=env)
        self.url = "http://127.0.0.1:%d" % self.port
        self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + 3 * WAIT
        while time.monotonic() < deadline:
            check(self.proc.poll() is None,
                  "prometheus exited: " + self.log_text())
            try:
                if http_get(self.url + "/-/ready", 1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise Failure("prometheus not ready: " + self.log_text())

    def log_text(self):
        return file_bytes(self.log).decode("utf-8", "replace")[-4000:]

    def query(self, expr):
        """The value of an instant query with one result, or None."""
        status, body = http_get(self.url + "/api/v1/query?" +
                                urllib.parse.urlencode({"query": expr}))
        check(status == 200, "query %s: HTTP %d %r" % (expr, status, body))
        result = json.loads(body)["data"]["result"]
        check(len(result) <= 1, "query %s: %r" % (expr, result))
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, want):
        """Until every query of want (expr -> value) answers its value:
        the scrapes after a change take a second or two to land."""
        deadline = time.monotonic() + 3 * WAIT
        while True:
            got = {expr: self.query(expr) for expr in want}
            if got == want:
                return
            if time.monotonic() > deadline:
                raise Failure("Prometheus answered %r, not %r\n%s" % (
                    got, want, self.log_text()))
            time.sleep(0.25)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class User:
    """A plain TCP chat user; reads until a line matches."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), WAIT)
        self.buf = b""
        self.name = self.wait_line(rb"You are (\S+)").group(1)

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def wait_line(self, pattern):
        deadline = time.monotonic() + WAIT
        while True:
            m = re.search(pattern, self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                data = None
            if not data:
                raise Failure("no %r; got %r" % (pattern, self.buf))
            self.buf += data

    def close(self):
        self.sock.close()


def chat(users):
    """Each user says one line; everyone sees every line."""
    for u in users:
        u.send("hello from " + u.name.decode())
    for u in users:
        for v in users:
            u.wait_line(re.escape(v.name) + rb": hello from ")


def run(chatd):
    if shutil.which("prometheus") is None:
        raise Skip("prometheus is not installed (Debian: prometheus)")
    d, tcp, web = start_chatd(chatd)
    users = []
    try:
        status, _ = http_get("http://127.0.0.1:%d/metrics" % web)
        check(status == 200, "GET /metrics: HTTP %d" % status)
        with tempfile.TemporaryDirectory(prefix="chatd-prom-") as tmp:
            prom = Prometheus(tmp, web)
            try:
                users = [User(tcp) for _ in range(3)]
                chat(users)
                prom.wait_for({
                    'up{job="chatd"}': 1.0,
                    "chatd_users": 3.0,
                    "chatd_rooms": 1.0,
                    "chatd_messages_received_total": 3.0,
                    'chatd_connections_open{transport="tcp"}': 3.0,
                })
                check(prom.query("chatd_deliveries_total") >= 9,
                      "fewer deliveries than 3 messages to 3 users")
                check(prom.query("process_open_fds") > 0, "no process_*")
                users[0].send("/quit")
                users[0].wait_line(rb"Bye!")
                prom.wait_for({
                    "chatd_users": 2.0,
                    'chatd_disconnects_total{reason="quit"}': 1.0,
                })
            finally:
                prom.stop()
    finally:
        for u in users:
            u.close()
        d.stop()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: %s CHATD" % sys.argv[0])
    try:
        run(os.path.abspath(sys.argv[1]))
    except Skip as e:
        print("skip: %s" % e)
        sys.exit(77)
    except (Failure, OSError) as e:
        print("FAIL: %s" % e)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
