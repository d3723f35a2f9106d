"""What tests/tlsd's Python suites share: chatd with TLS listeners
(tests/tlstest.py's tls_chatd, certificates from tests/tls/mkcerts.sh),
and users who speak chatd's line protocol, each read line by line with a
deadline: a socket (plain TCP, or TLS verified against the test CA) or a
program someone else wrote (openssl s_client, socat) on a pair of pipes.

Standard library only.
"""
import os
import re
import selectors
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import e2e  # noqa: E402
import tlstest  # noqa: E402
from e2e import WAIT, Failure, check  # noqa: E402,F401

Certs = tlstest.Certs


def listen_port(d, scheme):
    """The port of chatd's "listening on SCHEME://" line."""
    deadline = time.monotonic() + WAIT
    pattern = rb"listening on " + scheme.encode() + rb"://\S+:(\d+)"
    while True:
        m = re.search(pattern, d.text())
        if m:
            return int(m.group(1))
        if time.monotonic() > deadline:
            raise Failure("no 'listening on %s://' line: %s" % (
                scheme, d.log_text()))
        time.sleep(0.02)


def tls_chatd(chatd, certs, *args, cert="server"):
    """chatd with its plain listener (.port) and a tls:// one (.tls_port);
    args may add others (listen_port finds them)."""
    return tlstest.tls_chatd(chatd, certs, *args, cert=cert)


def client_context(certs):
    """What a careful client trusts: the test CA, the name checked."""
    return ssl.create_default_context(cafile=certs.path("ca.pem"))


class Lines:
    """A chat user: lines each way, every read within a deadline.
    Subclasses read and write the bytes."""

    def __init__(self, who):
        self.who = who
        self.name = None
        self.buf = b""

    def read(self, timeout):
        """Bytes; b"" once the stream ended; None if nothing came."""
        raise NotImplementedError

    def write(self, data):
        raise NotImplementedError

    def send(self, text):
        self.write(text.encode() + b"\n")

    def line(self):
        deadline = time.monotonic() + WAIT
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            check(left > 0, "%s: no line in %.0f s (have %r)" % (
                self.who, WAIT, self.buf))
            chunk = self.read(left)
            check(chunk != b"", "%s: the stream ended (have %r)" % (
                self.who, self.buf))
            self.buf += chunk or b""
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def expect(self, want):
        got = self.line()
        check(got == want, "%s: expected %r, got %r" % (self.who, want, got))

    def skip_to(self, want):
        """Lines until one is want (a string) or matches it (a regex)."""
        while True:
            got = self.line()
            if got == want or (hasattr(want, "match") and want.match(got)):
                return got

    def greet(self, name=None):
        """Read the greeting (the name chatd gave is .born), then take name
        if given. Returns self."""
        self.expect("Server commands")
        self.name = self.born = self.skip_to(re.compile("You are "))[8:]
        self.skip_to("You joined main")
        if name:
            self.send("/name " + name)
            self.expect("%s is now %s" % (self.name, name))
            self.name = name
        return self

    def says(self, text, *others):
        """Say text in the room: self and each of others read it."""
        self.send(text)
        for u in (self,) + others:
            u.expect("%s: %s" % (self.name, text))

    def rest(self):
        """Everything up to the end of the stream, which must come."""
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            check(left > 0, "%s: the stream did not end" % self.who)
            chunk = self.read(left)
            if chunk == b"":
                out, self.buf = self.buf, b""
                return out
            self.buf += chunk or b""


class SocketUser(Lines):
    """A user on a socket to 127.0.0.1:port; TLS when ctx is given."""

    def __init__(self, port, ctx=None, who="tcp"):
        super().__init__(who)
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=WAIT)
        if ctx:
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")

    def read(self, timeout):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, ssl.SSLEOFError):
            return b""

    def write(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


class ProgramUser(Lines):
    """A program as a user: what send() gets is its standard input, its
    standard output is read line by line; its standard error is kept for
    messages (err())."""

    def __init__(self, cmd, who):
        super().__init__(who)
        self.errors = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self.errors)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)

    def read(self, timeout):
        if not self.sel.select(timeout):
            return None
        return os.read(self.proc.stdout.fileno(), 65536)

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def end_input(self):
        self.proc.stdin.close()

    def err(self):
        return e2e.file_bytes(self.errors).decode("utf-8", "replace")

    def wait(self):
        """The program's exit status (it must exit)."""
        try:
            return self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            raise Failure("%s did not exit: %s" % (self.who, self.err()))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.sel.close()
        self.proc.stdout.close()
        if not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.errors.close()
