"""Helpers for chat-cli's end-to-end tests, on top of tests/e2e.py (chatd,
deadlines, failures, the runner): a raw line client to watch or talk,
chat-cli run piped or in a pseudo-terminal, and a small terminal screen to
read what a person would see. Standard library only.
"""
import errno
import fcntl
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import termios
import time

import e2e
from e2e import WAIT, Failure


class Chatd(e2e.Chatd):
    """e2e.Chatd that also hands out Peers, closed by stop() (so chatd need
    not wait for them to hang up)."""

    def __init__(self, chatd, *args, **kw):
        super().__init__(chatd, *args, **kw)
        self.peers = []

    def peer(self, **kw):
        p = Peer(self.port, **kw)
        self.peers.append(p)
        return p

    def stop(self, sig=signal.SIGTERM):
        for p in self.peers:
            p.close()
        self.peers = []
        super().stop(sig)


class Peer:
    """A raw TCP line client, the way nc would talk to chatd."""

    def __init__(self, port, host="127.0.0.1", login=None):
        self.sock = socket.create_connection((host, port), timeout=WAIT)
        self.buf = b""
        if login:  # chatd --login: the first line is the name
            self.send(login)
        self.name = self.expect(rb"^You are (\S+)$").group(1).decode()
        self.expect(rb"^You joined ")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def line(self, deadline):
        while b"\n" not in self.buf:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def expect(self, pattern):
        """Read lines until one matches pattern (bytes regex); return the match."""
        deadline = time.monotonic() + WAIT
        seen = []
        while time.monotonic() < deadline:
            line = self.line(deadline)
            if line is None:
                break
            seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        raise Failure("peer never got %r; got %r" % (pattern, seen))

    def close(self):
        self.sock.close()


def run_piped(cli, args, data, timeout=WAIT * 3):
    """Run chat-cli with data on a pipe; return (exit code, stdout, stderr)."""
    p = subprocess.run([cli] + args, input=data, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class Screen:
    """Enough of a VT100/xterm to replay what readline and chat-cli print:
    text with autowrap, CR, LF, BS, CSI cursor moves, erase in line and
    display, insert and delete characters; colours and modes are ignored."""

    def __init__(self, rows=24, cols=80):
        self.rows, self.cols = rows, cols
        self.grid = [[" "] * cols for _ in range(rows)]
        self.y = self.x = 0
        self.wrap = False  # cursor sits past the last column
        self.pending = b""

    def feed(self, data):
        data = self.pending + data
        self.pending = b""
        i = 0
        while i < len(data):
            b = data[i]
            if b == 0x1B:
                n = self.escape(data, i)
                if n is None:
                    self.pending = data[i:]
                    return
                i = n
                continue
            if b >= 0x80:  # UTF-8 sequence: one cell (tests use narrow text)
                n = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
                if i + n > len(data):
                    self.pending = data[i:]
                    return
                self.put(data[i:i + n].decode("utf-8", "replace"))
                i += n
                continue
            self.control(b) if b < 0x20 else self.put(chr(b))
            i += 1

    def control(self, b):
        if b == 0x0D:
            self.x, self.wrap = 0, False
        elif b == 0x0A:
            self.linefeed()
        elif b == 0x08:
            self.x, self.wrap = max(self.x - 1, 0), False

    def linefeed(self):
        self.wrap = False
        if self.y == self.rows - 1:
            self.grid.pop(0)
            self.grid.append([" "] * self.cols)
        else:
            self.y += 1

    def put(self, ch):
        if self.wrap:
            self.x = 0
            self.linefeed()
        self.grid[self.y][self.x] = ch
        if self.x == self.cols - 1:
            self.wrap = True
        else:
            self.x += 1

    def escape(self, data, i):
        if i + 1 >= len(data):
            return None
        kind = data[i + 1]
        if kind == ord("["):
            m = re.compile(rb"\[([0-9;?>=]*)([@-~])").match(data, i + 1)
            if not m:
                return None if len(data) - i < 32 else i + 2
            self.csi(m.group(1).decode(), chr(m.group(2)[0]))
            return m.end()
        if kind == ord("]"):  # OSC ... BEL or ST
            end = data.find(b"\x07", i)
            return None if end < 0 else end + 1
        return i + 2  # ESC = , ESC > and the like

    def csi(self, params, final):
        if params.startswith("?") or params.startswith(">"):
            return  # private modes: no effect on the text
        nums = [int(p) if p else 0 for p in params.split(";")] if params else []
        n = nums[0] if nums and nums[0] > 0 else 1
        row = self.grid[self.y]
        if final == "A":
            self.y = max(self.y - n, 0)
        elif final == "B":
            self.y = min(self.y + n, self.rows - 1)
        elif final == "C":
            self.x = min(self.x + n, self.cols - 1)
        elif final == "D":
            self.x = max(self.x - n, 0)
        elif final == "G":
            self.x = min(n - 1, self.cols - 1)
        elif final == "H":
            self.y = min((nums[0] if nums and nums[0] else 1) - 1, self.rows - 1)
            self.x = min((nums[1] if len(nums) > 1 and nums[1] else 1) - 1,
                         self.cols - 1)
        elif final == "K":
            mode = nums[0] if nums else 0
            lo, hi = {0: (self.x, self.cols), 1: (0, self.x + 1),
                      2: (0, self.cols)}.get(mode, (0, 0))
            row[lo:hi] = [" "] * (hi - lo)
        elif final == "J":
            mode = nums[0] if nums else 0
            if mode == 0:
                row[self.x:] = [" "] * (self.cols - self.x)
                for r in range(self.y + 1, self.rows):
                    self.grid[r] = [" "] * self.cols
            elif mode == 2:
                self.grid = [[" "] * self.cols for _ in range(self.rows)]
        elif final == "P":
            del row[self.x:self.x + n]
            row.extend([" "] * (self.cols - len(row)))
        elif final == "@":
            row[self.x:self.x] = [" "] * n
            del row[self.cols:]
        elif final == "X":
            row[self.x:self.x + n] = [" "] * min(n, self.cols - self.x)
        if final != "m":
            self.wrap = False

    def lines(self):
        return ["".join(r).rstrip() for r in self.grid]

    def text(self):
        return "\n".join(self.lines()).rstrip("\n")


class Pty:
    """chat-cli in a pseudo-terminal, as a person would run it."""

    def __init__(self, argv, env=None, rows=24, cols=80):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child: the pty is its controlling terminal
            try:
                os.execve(argv[0], argv, env or os.environ)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))
        self.raw = b""
        self.screen = Screen(rows, cols)
        self.status = None

    def pump(self, timeout):
        """Read what is there within timeout; False once the child is gone."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            chunk = b""
        if not chunk:
            return False
        self.raw += chunk
        self.screen.feed(chunk)
        return True

    def wait_for(self, what, where="screen"):
        """Until `what` (str, or a function of the screen) shows up."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.sees(what, where):
                return
            if not self.pump(0.05):
                break
        if self.sees(what, where):
            return
        raise Failure("never saw %r on the %s:\n%s\nraw tail: %r" % (
            what, where, self.screen.text(), self.raw[-600:]))

    def sees(self, what, where):
        if callable(what):
            return what(self.screen)
        hay = self.screen.text() if where == "screen" else \
            self.raw.decode("utf-8", "replace")
        return what in hay

    def type(self, text):
        os.write(self.fd, text.encode() if isinstance(text, str) else text)

    def wait_exit(self):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self.pump(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                end = time.monotonic() + 1  # what it wrote last, up to EOF
                while self.pump(0.05) and time.monotonic() < end:
                    pass
                return self.status
        raise Failure("chat-cli did not exit:\n" + self.screen.text())

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)
