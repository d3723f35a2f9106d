"""TLS for the Python end-to-end suites (tests/client, tests/chat-bench):
the throwaway certificates of tests/tls/mkcerts.sh, a TLS-terminating
proxy in front of a real chatd (so a client's TLS can be tested before
chatd has a tls:// listener of its own), `openssl s_server`, and chatd's
own tls:// listener, skipped (77) until chatd has one.

Standard library only (ssl); the certificates need the openssl command.
"""
import os
import re
import selectors
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from e2e import WAIT, Chatd, Failure, Skip, file_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
MKCERTS = os.path.join(HERE, "tls", "mkcerts.sh")


class Certs:
    """mkcerts.sh's files in a temporary directory, removed by close().
    path("server.pem") names one."""

    def __init__(self):
        if not shutil.which("openssl"):
            raise Skip("no openssl command to make certificates with")
        self.dir = tempfile.mkdtemp(prefix="chat-tls-")
        subprocess.run(["sh", MKCERTS, self.dir], check=True,
                       timeout=WAIT * 3)

    def path(self, name):
        return os.path.join(self.dir, name)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Link:
    """One proxied connection: TLS from the client, plain TCP to the
    backend, each direction's bytes and its end passed on."""

    def __init__(self, tls, plain):
        self.tls, self.plain = tls, plain
        self.shaken = False
        self.want_write = False  # the last TLS call wanted to write
        self.to_tls = b""       # from the backend, not yet encrypted
        self.to_plain = b""     # from the client, not yet sent on
        self.tls_eof = False    # the client ended (close_notify or EOF)
        self.plain_eof = False  # the backend ended
        self.half_closed = False  # the backend was told
        self.done = False
        self.watching = {}      # socket: the events it is registered for


class TlsProxy:
    """Listens on 127.0.0.1 (port 0: any; .port is the real one) with
    cert/key and relays each connection to 127.0.0.1:backend, in one
    thread with non-blocking sockets (one SSL object is never used by two
    threads at once). The ends are kept: a client's close_notify becomes
    a TCP half-close to the backend, the backend's EOF becomes
    close_notify. A backend that refuses makes the proxy close the
    client's connection before any TLS, as a server that is down would."""

    def __init__(self, cert, key, backend, port=0):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.backend = backend
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(64)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ)
        self.wake_r, self.wake_w = socket.socketpair()
        self.sel.register(self.wake_r, selectors.EVENT_READ)
        self.links = []
        self.resumed = []  # per handshake: was a session resumed?
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        """Close the listener and every connection, abruptly."""
        if self.stopping:
            return
        self.stopping = True
        self.wake_w.send(b"x")
        self.thread.join(WAIT)
        for link in self.links:
            self._close(link)
        self.sel.close()
        self.lsock.close()
        self.wake_r.close()
        self.wake_w.close()

    # ---- the loop ------------------------------------------------------

    def _run(self):
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.5):
                if key.fileobj is self.lsock:
                    self._accept()
                elif key.fileobj is not self.wake_r:
                    self._pump(key.data)
            for link in list(self.links):
                self._update(link)

    def _accept(self):
        try:
            sock, _ = self.lsock.accept()
        except BlockingIOError:
            return
        try:
            plain = socket.create_connection(("127.0.0.1", self.backend),
                                             timeout=WAIT)
        except OSError:
            sock.close()  # the server is down: no TLS at all
            return
        plain.setblocking(False)
        sock.setblocking(False)
        tls = self.ctx.wrap_socket(sock, server_side=True,
                                   do_handshake_on_connect=False)
        link = _Link(tls, plain)
        self.links.append(link)
        self._update(link)

    def _watch(self, link, sock, ev):
        old = link.watching.get(sock, 0)
        if ev == old:
            return
        if not ev:
            self.sel.unregister(sock)
        elif not old:
            self.sel.register(sock, ev, link)
        else:
            self.sel.modify(sock, ev, link)
        link.watching[sock] = ev

    def _update(self, link):
        """Read what has not ended; write only where something waits."""
        if link.done:
            self._close(link)
            self.links.remove(link)
            return
        r, w = selectors.EVENT_READ, selectors.EVENT_WRITE
        self._watch(link, link.tls, (0 if link.tls_eof and link.shaken
                                     else r) |
                    (w if link.to_tls or link.want_write else 0))
        self._watch(link, link.plain, (0 if link.plain_eof else r) |
                    (w if link.to_plain else 0))

    def _close(self, link):
        for sock in (link.tls, link.plain):
            if link.watching.get(sock):
                self.sel.unregister(sock)
            link.watching[sock] = 0
            sock.close()

    def _pump(self, link):
        link.want_write = False
        try:
            if not link.shaken:
                link.tls.do_handshake()
                link.shaken = True
                self.resumed.append(link.tls.session_reused)
            self._from_client(link)
            self._from_backend(link)
            self._flush(link)
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLWantWriteError:
            link.want_write = True
        except (ssl.SSLError, OSError):
            link.done = True  # a reset or a failed handshake: drop both

    def _from_client(self, link):
        while not link.tls_eof:
            try:
                data = link.tls.recv(65536)
            except ssl.SSLWantReadError:
                return
            if not data:
                link.tls_eof = True  # close_notify, or EOF
                return
            link.to_plain += data

    def _from_backend(self, link):
        while not link.plain_eof:
            try:
                data = link.plain.recv(65536)
            except BlockingIOError:
                return
            if not data:
                link.plain_eof = True
                return
            link.to_tls += data

    def _flush(self, link):
        if link.to_plain:
            n = link.plain.send(link.to_plain)
            link.to_plain = link.to_plain[n:]
        if link.tls_eof and not link.to_plain and not link.half_closed:
            link.plain.shutdown(socket.SHUT_WR)
            link.half_closed = True
        if link.to_tls:
            n = link.tls.send(link.to_tls)
            link.to_tls = link.to_tls[n:]
        if link.plain_eof and not link.to_tls:
            try:
                link.tls.unwrap()  # our close_notify
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass  # sent; the client's answer is not waited for
            link.done = True


def _listening(port):
    """1 if something listens on 127.0.0.1:port (from /proc/net/tcp: a
    probe connection would be taken as a client)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":  # LISTEN
                return True
    return False


class SServer:
    """`openssl s_server` for one connection on a free loopback port with
    cert, key and the chain certificates in chain: what it reads is in
    out(), what is given to say() it sends."""

    def __init__(self, cert, key, chain=None):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.log = tempfile.TemporaryFile()
        cmd = ["openssl", "s_server", "-quiet", "-naccept", "1",
               "-accept", "127.0.0.1:%d" % self.port, "-cert", cert,
               "-key", key]
        if chain:
            cmd += ["-cert_chain", chain]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + WAIT
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise Failure("s_server did not start")
            time.sleep(0.02)

    def say(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def out(self):
        return file_bytes(self.log).decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def tls_chatd(chatd, certs, *args, cert="server", cls=Chatd):
    """chatd (a cls: e2e.Chatd or a subclass) with a tls:// listener beside
    its plain one; .tls_port is the TLS port. Skips (77) while chatd has no
    tls:// listener."""
    try:
        d = cls(chatd, "--listen", "tls://127.0.0.1:0",
                  "--tls-cert", certs.path(cert + ".pem"),
                  "--tls-key", certs.path(cert + ".key"), *args)
    except Failure as e:
        # What a chatd without TLS says, and nothing a broken one would.
        if re.search(r"unknown option|unrecognized option|unknown scheme|"
                     r"invalid value 'tls://", str(e)):
            raise Skip("chatd has no tls:// listener yet")
        raise
    deadline = time.monotonic() + WAIT
    while True:
        m = re.search(rb"listening on tls://\S+:(\d+)", d.text())
        if m:
            d.tls_port = int(m.group(1))
            return d
        if time.monotonic() > deadline:
            d.kill()
            raise Failure("no 'listening on tls://' line: %r" % d.text())
        time.sleep(0.02)
