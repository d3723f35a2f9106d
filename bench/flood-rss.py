#!/usr/bin/env python3
"""bench/flood-rss.py - chatd's memory against two hostile clients, per transport.

A benchmark, not a test: it prints figures and asserts nothing.

    bench/flood-rss.py [--build DIR] [--transports tcp,ws,tls,wss] [--flood S]
                       [--big-clients N,...] [--chatd-args ARGS]

For each transport (tcp://, the WebSocket at http:///ws, tls://, wss at
https:///ws), on a fresh chatd each time (--rate 0 and --chatd-args, everything else
default: --high-water 1M, --write-timeout 30):

  stall  one client joins room1 with a 4 KiB receive buffer and never reads
         again, while chat-bench (--ack server, its senders paced by their
         own echo, so at full speed) floods room1 with 64-byte lines for
         --flood seconds; one more client, over TCP, reads everything.
         chatd's VmRSS is sampled every 20 ms: before, peak during, and after
         the flood; /metrics says what happened to the staller (still
         connected or not, its queued bytes, lines dropped as a slow
         consumer) and which disconnects chatd counted besides the
         flooders' own EOFs.
  big    N clients (--big-clients, default 1 then 10) each send one 2 MiB
         message at once: TCP and TLS one 2 MiB line, WebSocket one 2 MiB
         text frame (and, as "ws-frag", 2 MiB in 512 fragments of 4 KiB).
         Peak VmRSS growth, whether each got "Messages can only be 400 bytes
         long" and whether its connection still chats afterwards.

--chatd-args: more chatd flags. A chatd older than f40befe/dfbae95 cut a ws or
tls user --http-timeout/--tls-handshake-timeout (5 s) after its last input;
run one with --chatd-args '--http-timeout 3600 --tls-handshake-timeout 3600'.

Needs python3 (stdlib only), the openssl command (a throwaway certificate
for tls:// and https://) and the tree built (chatd, chat-bench): meson
setup DIR -Dbuildtype=debugoptimized && meson compile -C DIR.
"""

import argparse
import base64
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

MIB = 1 << 20
TOO_LONG = b"Messages can only be 400 bytes long"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """chatd's VmRSS every 20 ms: the peak since start() and the last."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.last, self.stop = pid, 0, 0, False

    def run(self):
        while not self.stop:
            try:
                v = rss_kib(self.pid)
            except OSError:
                return
            self.last = v
            self.peak = max(self.peak, v)
            time.sleep(0.02)


class Chatd:
    """A fresh chatd with tcp://, http:// and (with certs) tls://, https://."""

    def __init__(self, chatd, certs, extra):
        args = [chatd, "--rate", "0",
                "--listen", "tcp://127.0.0.1:0", "--listen", "http://127.0.0.1:0"]
        if certs:
            args += ["--listen", "tls://127.0.0.1:0", "--listen", "https://127.0.0.1:0",
                     "--tls-cert", certs[0], "--tls-key", certs[1]]
        args += list(extra)
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.err)
        self.ports = {}
        want = 4 if certs else 2
        deadline = time.time() + 10
        while time.time() < deadline and len(self.ports) < want:
            self.err.seek(0)
            for m in re.finditer(rb"listening on (?:(\w+)://)?127\.0\.0\.1:(\d+)", self.err.read()):
                self.ports[(m.group(1) or b"tcp").decode()] = int(m.group(2))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if len(self.ports) < want:
            self.err.seek(0)
            self.stop()
            sys.exit("flood-rss: chatd did not start: " + self.err.read().decode(errors="replace"))

    def port(self, transport):
        return self.ports[{"tcp": "tcp", "ws": "http", "ws-frag": "http",
                           "tls": "tls", "wss": "https"}[transport]]

    def metrics(self):
        s = socket.create_connection(("127.0.0.1", self.ports["http"]), 5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        s.settimeout(5)
        while True:
            try:
                d = s.recv(65536)
            except OSError:
                break
            if not d:
                break
            data += d
        s.close()
        out = {}
        for line in data.decode(errors="replace").splitlines():
            if line and not line.startswith("#") and " " in line:
                k, v = line.rsplit(" ", 1)
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """One chat user over tcp, tls, ws or wss (ws-frag: ws, messages sent
    in 4 KiB fragments)."""

    def __init__(self, transport, port, rcvbuf=None):
        self.transport = transport
        self.ws = transport in ("ws", "ws-frag", "wss")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        if transport in ("tls", "wss"):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        self.s = s
        self.seen = b""
        if self.ws:
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
                       "\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                d = s.recv(4096)
                if not d:
                    raise OSError("closed during the upgrade")
                head += d
            if not head.startswith(b"HTTP/1.1 101"):
                raise OSError("no upgrade: " + head.split(b"\r\n")[0].decode())
            self.seen = head.split(b"\r\n\r\n", 1)[1]
        self.wait_for(b"You joined", 5)

    def frame(self, payload, opcode=1, fin=True):
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        if any(mask):
            m = (mask * (n // 4 + 1))[:n]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
        return head + mask + payload

    def wire(self, text):
        """The bytes that send text as one message."""
        if not self.ws:
            return text + b"\n"
        if self.transport != "ws-frag" or len(text) <= 4096:
            return self.frame(text)
        parts = [text[i:i + 4096] for i in range(0, len(text), 4096)]
        return b"".join(self.frame(p, 1 if i == 0 else 0, i == len(parts) - 1)
                        for i, p in enumerate(parts))

    def send(self, text):
        self.s.sendall(self.wire(text))

    def wait_for(self, what, timeout):
        """Read until what has been seen (True) or timeout (False)."""
        end = time.time() + timeout
        while what not in self.seen:
            left = end - time.time()
            if left <= 0:
                return False
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                return False
            if not d:
                return False
            self.seen = (self.seen + d)[-65536:]
        return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def make_certs(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem"],
                   check=True, capture_output=True)
    return f"{d}/cert.pem", f"{d}/key.pem"


def mib(kib):
    return f"{kib / 1024:.2f}"


def stall(args, certs, transport):
    """One non-reader on transport while chat-bench floods its room."""
    d = Chatd(args.chatd, certs, args.chatd_args.split())
    try:
        staller = Client(transport, d.port(transport), rcvbuf=4096)
        staller.send(b"/join room1")
        if not staller.wait_for(b"You joined room1", 5):
            return None
        time.sleep(0.3)
        base = rss_kib(d.proc.pid)
        sam = Sampler(d.proc.pid)
        sam.start()
        # chat-bench: 4 senders and 2 readers in room1 (--rooms 1), each
        # sender's window refilled by its own echo: the server's full rate.
        t0 = time.time()
        bench = subprocess.run(
            [args.bench, "-p", str(d.port("tcp")), "--clients", "6", "--senders", "4",
             "--window", "64", "--ack", "server", "--size", "64",
             "--duration", str(args.flood), "--json"],
            capture_output=True, text=True, timeout=args.flood + 60)
        flood_s = time.time() - t0
        m = d.metrics()
        time.sleep(0.5)
        sam.stop = True
        sam.join()
        after = rss_kib(d.proc.pid)
        lines = re.search(r'"receiver_deliveries":\s*(\d+)', bench.stdout)
        slow = sum(v for k, v in m.items()
                   if k.startswith("chatd_lines_dropped_total") and "slow" in k)
        # Left open once chat-bench is gone: the staller, and the /metrics
        # request itself (http).
        alive = sum(v for k, v in m.items() if k.startswith("chatd_connections_open")
                    and 'transport="http"' not in k and 'transport="https"' not in k)
        reasons = ", ".join("%s %.0f" % (re.search(r'reason="([^"]*)"', k).group(1), v)
                            for k, v in sorted(m.items())
                            if k.startswith("chatd_disconnects_total") and v
                            and 'reason="eof"' not in k and 'reason="served"' not in k)
        staller.close()
        return {"transport": transport, "base": base, "peak": sam.peak, "after": after,
                "delivered": int(lines.group(1)) if lines else 0, "flood_s": flood_s,
                "queued": m.get("chatd_output_queued_bytes", 0), "slow_drops": slow,
                "alive": alive, "reasons": reasons or "none"}
    finally:
        d.stop()


def big(args, certs, transport, n):
    """n clients on transport each send one 2 MiB message at once."""
    d = Chatd(args.chatd, certs, args.chatd_args.split())
    try:
        clients = [Client(transport, d.port(transport)) for _ in range(n)]
        time.sleep(0.3)
        base = rss_kib(d.proc.pid)
        sam = Sampler(d.proc.pid)
        sam.start()
        text = b"x" * (2 * MIB)
        errors = []

        def one(c):
            try:
                c.send(text)
            except OSError as e:
                errors.append(str(e))

        threads = [threading.Thread(target=one, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        told = sum(c.wait_for(TOO_LONG, 10) for c in clients)
        # Still in the room: a short line comes back as the room's echo.
        alive = 0
        for i, c in enumerate(clients):
            marker = f"still here {i} {os.getpid()}".encode()
            try:
                c.send(marker)
                alive += c.wait_for(marker, 5)
            except OSError:
                pass
        time.sleep(0.3)
        sam.stop = True
        sam.join()
        for c in clients:
            c.close()
        return {"transport": transport, "n": n, "base": base, "peak": sam.peak,
                "told": told, "alive": alive, "errors": len(errors)}
    finally:
        d.stop()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--transports", default="tcp,ws,tls,wss")
    ap.add_argument("--flood", type=float, default=10)
    ap.add_argument("--big-clients", default="1,10")
    ap.add_argument("--chatd-args", default="")
    args = ap.parse_args()
    args.chatd = os.path.join(args.build, "server", "chatd")
    args.bench = os.path.join(args.build, "bench", "chat-bench")
    for p in (args.chatd, args.bench):
        if not os.access(p, os.X_OK):
            sys.exit(f"flood-rss: {p} missing: meson compile -C {args.build}")
    transports = args.transports.split(",")
    tmp = tempfile.mkdtemp(prefix="flood-rss.")
    try:
        certs = None
        if any(t in ("tls", "wss") for t in transports):
            if not shutil.which("openssl"):
                sys.exit("flood-rss: tls and wss need the openssl command")
            certs = make_certs(tmp)

        print(f"A client that stops reading while room1 is flooded for {args.flood:g} s "
              f"(chatd --rate 0 {args.chatd_args}".rstrip() + "; --high-water 1M, --write-timeout 30); "
              "chatd's VmRSS in MiB:")
        print()
        print("| transport | before | peak | peak - before | after | lines delivered to the readers "
              "| lines dropped (slow) | staller still connected | queued at the end "
              "| other disconnects |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for t in transports:
            if t == "ws-frag":
                continue
            r = stall(args, certs, t)
            if not r:
                print(f"| {t} | the staller could not join |")
                continue
            print(f"| {t} | {mib(r['base'])} | {mib(r['peak'])} | **{mib(r['peak'] - r['base'])}** "
                  f"| {mib(r['after'])} | {r['delivered'] / 1e6:.1f} M in {r['flood_s']:.0f} s "
                  f"| {r['slow_drops']:.0f} | {'yes' if r['alive'] else 'no'} "
                  f"| {r['queued'] / 1024:.0f} KiB | {r['reasons']} |",
                  flush=True)
        print()
        print("Clients that each send one 2 MiB message at once; chatd's VmRSS in MiB:")
        print()
        print("| transport | clients | before | peak | peak - before | told too long | still chatting |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        bigs = [t for t in transports]
        if "ws" in bigs and "ws-frag" not in bigs:
            bigs.insert(bigs.index("ws") + 1, "ws-frag")
        for n in [int(x) for x in args.big_clients.split(",")]:
            for t in bigs:
                r = big(args, certs, t, n)
                print(f"| {t} | {n} | {mib(r['base'])} | {mib(r['peak'])} "
                      f"| **{mib(r['peak'] - r['base'])}** | {r['told']}/{n} | {r['alive']}/{n} |",
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
