"""What the Python end-to-end suites share (tests/client, tests/chat-bench):
a chatd on a loopback port, deadlines scaled for slow wrappers, failures
and skips, and the runner that picks one test by name.

A test is a top-level function `def test_NAME(prog, chatd):` in the
suite's script, and that line is the only place it is named: meson reads
the `def test_` lines at configure time (tests/meson.build) to make one
meson test per name, and main() finds the same functions by their prefix.

Standard library only. Every wait has a deadline; nothing depends on how
fast the machine is, only on things eventually happening.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time


def chatd_wrapper():
    """$CHATD_WRAPPER split on spaces: words put before chatd's command line
    (meson test --setup valgrind sets it to a valgrind command)."""
    return os.environ.get("CHATD_WRAPPER", "").split()


def slowdown():
    """How many times slower chatd may be than a plain build:
    $CHATD_SLOWDOWN, else 4 under a wrapper, else 1 (as the C harness)."""
    try:
        n = int(os.environ.get("CHATD_SLOWDOWN", "0"))
    except ValueError:
        n = 0
    return n if n > 0 else 4 if chatd_wrapper() else 1


# Seconds any single expected event may take, however slow.
WAIT = 10.0 * slowdown()


class Failure(Exception):
    pass


def file_bytes(f):
    """Everything in f (a file a child process writes its output to), read
    through a file description of our own: f's is shared with the child,
    and seeking it to read would move where the child writes next, so the
    child would write over what it wrote (seen: s_server's log losing its
    first byte)."""
    with open("/proc/self/fd/%d" % f.fileno(), "rb") as g:
        return g.read()


class Skip(Exception):
    """The test cannot run on this machine (meson's SKIP, exit 77)."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def need_ipv6():
    """Skip the test unless this machine has an IPv6 loopback."""
    try:
        s = socket.socket(socket.AF_INET6)
        try:
            s.bind(("::1", 0))
        finally:
            s.close()
    except OSError:
        raise Skip("no IPv6 loopback")


def refusing_port():
    """A loopback socket bound but not listening, and its port: connections
    to it are refused for as long as the caller keeps it open."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


class Chatd:
    """chatd on addr (127.0.0.1) and port (0: any), the real port read from
    its log, run under $CHATD_WRAPPER if set. Its log goes to a file, so a
    chatd that logs a lot never blocks on a pipe nobody reads. stop() fails
    the test unless chatd exits 0 on SIGTERM (under valgrind: no memory
    error, no leak); kill() just ends it."""

    def __init__(self, chatd, *args, addr="127.0.0.1", port=0):
        self.log = tempfile.TemporaryFile()
        cmd = chatd_wrapper() + [chatd, "-b", addr, "-p", str(port)] + \
            list(args)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        self.stopped = False
        deadline = time.monotonic() + WAIT
        while True:
            m = re.search(rb"listening on \S+:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise Failure("chatd did not start: %r" % self.text())
            time.sleep(0.02)

    def text(self):
        """chatd's log so far, as bytes."""
        return file_bytes(self.log)

    def kill(self):
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, sig=signal.SIGTERM):
        """Send sig and reap chatd; it must still have been running, and on
        SIGTERM or SIGINT it must exit 0. Does nothing the second time."""
        if self.stopped:
            return
        self.stopped = True
        if self.proc.poll() is not None:
            raise Failure("chatd exited by itself, status %d: %s" % (
                self.proc.returncode, self.log_text()))
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("chatd did not exit on signal %d: %s" % (
                sig, self.log_text()))
        check(rc == 0 or sig not in (signal.SIGTERM, signal.SIGINT),
              "chatd exited %d on signal %d (99: valgrind found errors): %s"
              % (rc, sig, self.log_text()))

    def log_text(self):
        return self.text().decode("utf-8", "replace")


def tests_in(namespace):
    """The tests of a script: its test_NAME functions, by NAME."""
    return {name[5:]: fn for name, fn in namespace.items()
            if name.startswith("test_") and callable(fn)}


def main(namespace):
    """argv: TEST PROGRAM CHATD. Runs the one test of namespace (a script's
    globals()) named TEST; exit 0 pass, 1 fail, 77 skip."""
    tests = tests_in(namespace)
    if len(sys.argv) != 4 or sys.argv[1] not in tests:
        sys.exit("usage: %s {%s} PROGRAM CHATD" % (sys.argv[0],
                                                     "|".join(tests)))
    name, prog, chatd = sys.argv[1:]
    try:
        tests[name](os.path.abspath(prog), os.path.abspath(chatd))
    except Skip as e:
        print("skip %s: %s" % (name, e))
        sys.exit(77)
    except (Failure, subprocess.TimeoutExpired) as e:
        # A failed stop() in a finally block may hide the first failure.
        if isinstance(e.__context__, Failure):
            print("FAIL %s: %s" % (name, e.__context__))
        print("FAIL %s: %s" % (name, e))
        sys.exit(1)
    print("ok %s" % name)
