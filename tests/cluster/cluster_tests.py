"""Several chatd nodes sharing one chat through Redis (issue 13,
doc/cluster.md), end to end: one real redis-server on a loopback port and
chatd nodes pointed at it (`--redis`, `--node-id`, a short
`--redis-lease`), driven by users on plain TCP, telex, a-chat, WebSocket
(a client written here, on a raw socket) and TLS. Faults are real: a node
or redis-server killed with SIGKILL, redis-server restarted on the same
port, a node started before redis-server.

Every test skips (77) without redis-server on PATH. Standard library
only. Every wait has a deadline (tests/e2e.py's WAIT, scaled under
$CHATD_WRAPPER); nothing depends on how fast the machine is, except that
a dead node's users must be announced within the lease (checked as lease
+ WAIT).

usage: cluster_tests.py TEST PROGRAM CHATD (tests/e2e.py; PROGRAM unused)
"""
import base64
import collections
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import e2e  # noqa: E402
from e2e import WAIT, Failure, Skip, check  # noqa: E402

# A node's lease on its names: short, so that a node's death is seen
# quickly; longer when chatd runs slower (valgrind), so that a live node
# never misses its heartbeat (every lease/3).
LEASE_MS = 1500 * e2e.slowdown()
# How long one round of settle() waits for its marker before saying it
# again (a node may not be subscribed to a room's channel yet).
TRY = 1.0 * e2e.slowdown()

UNAVAILABLE = "Chat with other servers is unavailable"
AVAILABLE = "Chat with other servers is available again"
TAKEN_AWAY = re.compile(
    r"Your name (\S+) was taken on another server; you are now (\S+)$")


# ---- redis-server ---------------------------------------------------------------

def free_port():
    """A loopback port nobody listens on (bound, then closed)."""
    s, port = e2e.refusing_port()
    s.close()
    return port


def redis_answers(port):
    """redis-server on port answers PING (a raw socket, inline command)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")  # -NOAUTH with requirepass: it answers
            got = b""
            while not got.endswith(b"\r\n"):
                chunk = s.recv(64)
                if not chunk:
                    return False
                got += chunk
            return got.startswith((b"+PONG\r\n", b"-NOAUTH "))
    except OSError:
        return False


class Redis:
    """redis-server on 127.0.0.1:port (a free one unless given), no
    persistence, its files in a temporary directory. start() may be called
    again after kill() or stop(): same port, empty data."""

    def __init__(self, *args):
        if not shutil.which("redis-server"):
            raise Skip("no redis-server on PATH")
        self.args = list(args)
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="chat-redis-")
        self.proc = None
        self.log = None

    def url(self, auth=""):
        return "redis://%s127.0.0.1:%d" % (auth, self.port)

    def start(self):
        self.log = open(os.path.join(self.dir, "log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--daemonize", "no"] + self.args,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + WAIT
        while not redis_answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise Failure("redis-server did not start on port %d: %s" % (
                    self.port, self.log_text()))
            time.sleep(0.02)

    def log_text(self):
        with open(os.path.join(self.dir, "log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def kill(self):
        """SIGKILL: no goodbye to its clients, nothing saved."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        self._reap()

    def freeze(self, frozen=True):
        """SIGSTOP (or SIGCONT): connections stay open, nothing answers."""
        self.proc.send_signal(signal.SIGSTOP if frozen else signal.SIGCONT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.freeze(False)
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reap()

    def _reap(self):
        if self.proc:
            self.proc.wait()
            self.proc = None
        if self.log:
            self.log.close()
            self.log = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- users ------------------------------------------------------------------------

# What a user of each dialect sees for an event (doc/protocol.md, Dialects).
FORMATS = {
    "chat": {"said": "{0}: {1}", "me": "* {0} {1}", "joined": "{0} joined {1}",
             "left": "{0} left {1}", "renamed": "{0} is now {1}",
             "from": "from {0}: {1}", "to": "to {0}: {1}"},
    "telex": {"said": "<{0}> {1}", "me": "* {0} {1}",
              "joined": "* {0} joined {1}", "left": "* {0} left {1}",
              "renamed": "* {0} is now {1}", "from": "*{0}* {1}",
              "to": "-> {0}: {1}"},
    "a-chat": {"from": "from {0}: {1}"},
}


class User:
    """A chat user: lines in, lines out, every read within a deadline.
    .seen keeps every line read, for counting afterwards. Subclasses move
    the bytes (_fill, send)."""

    def __init__(self, who, dialect="chat"):
        self.who = who
        self.dialect = dialect
        self.name = None
        self.pending = collections.deque()
        self.seen = []
        self.closed = False

    def fmt(self, kind, *args):
        return FORMATS[self.dialect][kind].format(*args)

    @property
    def echoes(self):
        """Whether this user gets its own chat lines back."""
        return self.dialect == "chat"

    def poll(self, timeout):
        """The next line, or None if none came within timeout seconds."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self._fill(left)
        line = self.pending.popleft()
        self.seen.append(line)
        return line

    def line(self, timeout=WAIT):
        got = self.poll(timeout)
        if got is None:
            raise Failure("%s: %s within %.1f s; its last lines: %r" % (
                self.who, "the connection closed" if self.closed else
                "no line", timeout, self.seen[-8:]))
        return got

    def expect(self, want):
        got = self.line()
        check(got == want, "%s: expected %r, got %r" % (self.who, want, got))

    def skip_to(self, want, timeout=WAIT, need=True):
        """Read up to the first line that is want (or for which want, a
        function, is true) and return it; on the way, lines are only kept
        in .seen. None after timeout if not need."""
        match = want if callable(want) else (lambda line: line == want)
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            got = self.poll(max(deadline - time.monotonic(), 0))
            if got is None:
                if not need:
                    return None
                raise Failure("%s: no %r within %.1f s (%s); read: %r" % (
                    self.who, want if isinstance(want, str) else
                    getattr(want, "__doc__", want), timeout,
                    "closed" if self.closed else "open", skipped[-12:]))
            if match(got):
                return got
            skipped.append(got)

    def greet(self):
        """Read the chat greeting up to `You joined {room}`; learn the
        random name."""
        while True:
            got = self.line()
            if got.startswith("You are "):
                self.name = got[len("You are "):]
            if got.startswith("You joined "):
                return

    def rename(self, new):
        """/name new, which must be granted."""
        self.send("/name " + new)
        mine = self.fmt("renamed", self.name, new)
        got = self.skip_to(lambda line: line in (
            mine, new + " is already taken"))
        check(got == mine, "%s: /name %s refused: %r" % (self.who, new, got))
        self.name = new

    def says(self, text, *others):
        """Say text in the room; it must reach each of others (and this
        user's own echo)."""
        self.send(text)
        if self.echoes:
            self.skip_to(self.fmt("said", self.name, text))
        for u in others:
            u.skip_to(u.fmt("said", self.name, text))

    def _recv(self, timeout):
        """Bytes from the socket within timeout; None if none came; b""
        (and .closed) once the connection ended."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return None
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
        return chunk

    def close(self):
        self.closed = True
        self.sock.close()


class LineUser(User):
    """A user on a plain TCP (or TLS) socket, one line per `\\n`."""

    def __init__(self, port, who, dialect="chat", tls=None):
        super().__init__(who, dialect)
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=WAIT)
        if tls:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""

    def _fill(self, timeout):
        chunk = self._recv(timeout)
        if not chunk:
            return
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.pending.append(line.decode("utf-8", "replace"))

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WsUser(User):
    """A WebSocket user of chatd's http:// listener (/ws), written here on
    a raw socket (RFC 6455): one text message is one line each way; pings
    are answered."""

    def __init__(self, port, who):
        super().__init__(who, "chat")
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=WAIT)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (port, key))
        self.raw = b""
        deadline = time.monotonic() + WAIT
        while b"\r\n\r\n" not in self.raw:
            check(time.monotonic() < deadline, "%s: no handshake answer: %r"
                  % (who, self.raw))
            chunk = self.sock.recv(4096)
            check(chunk, "%s: closed during the handshake: %r" % (
                who, self.raw))
            self.raw += chunk
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        status, *fields = head.split(b"\r\n")
        headers = dict((k.strip().lower(), v.strip()) for k, v in (
            f.split(b":", 1) for f in fields if b":" in f))
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        check(status.startswith(b"HTTP/1.1 101 ") and
              headers.get(b"sec-websocket-accept") == accept,
              "%s: not a WebSocket handshake answer: %r" % (who, head))
        self.message = b""
        self._frames()

    def _fill(self, timeout):
        chunk = self._recv(timeout)
        if not chunk:
            return
        self.raw += chunk
        self._frames()

    def _frames(self):
        """Take the whole frames out of .raw."""
        while len(self.raw) >= 2:
            b0, b1 = self.raw[0], self.raw[1]
            check(not b1 & 0x80, "%s: a masked frame from chatd" % self.who)
            n, head = b1 & 0x7F, 2
            if n == 126:
                if len(self.raw) < 4:
                    return
                n, head = struct.unpack(">H", self.raw[2:4])[0], 4
            elif n == 127:
                if len(self.raw) < 10:
                    return
                n, head = struct.unpack(">Q", self.raw[2:10])[0], 10
            if len(self.raw) < head + n:
                return
            payload = self.raw[head:head + n]
            self.raw = self.raw[head + n:]
            op = b0 & 0x0F
            if op in (0, 1):
                self.message += payload
                if b0 & 0x80:
                    self.pending.append(self.message.decode())
                    self.message = b""
            elif op == 9:
                self._frame(0xA, payload)
            elif op == 8:
                self.closed = True
                return

    def _frame(self, op, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack(">BB", 0x80 | op, 0x80 | n)
        elif n < 65536:
            head = struct.pack(">BBH", 0x80 | op, 0x80 | 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | op, 0x80 | 127, n)
        self.sock.sendall(head + mask + bytes(
            c ^ mask[i % 4] for i, c in enumerate(payload)))

    def send(self, text):
        self._frame(1, text.encode())


def settle(*users):
    """Each room user in turn says a marker until every other one (and
    itself, if it gets its own lines) has it: then every node is
    subscribed to the room and lines flow between all of them. A marker
    that did not arrive is said again with the next number (lines from
    one sender keep their order, so reading up to the last one reads
    past the earlier ones); other lines on the way are skipped."""
    deadline = time.monotonic() + 3 * WAIT
    for u in users:
        for k in range(1000):
            marker = "sync-%s-%d" % (u.name, k)
            u.send(marker)
            waiting = [v for v in users if v is not u or u.echoes]
            if all(v.skip_to(lambda line: line.endswith(" " + marker),
                             TRY, need=False) is not None for v in waiting):
                break
            check(time.monotonic() < deadline,
                  "lines from %s (%s) do not reach the others: %s" % (
                      u.name, u.who, ", ".join(
                          "%s read %r" % (v.who, v.seen[-4:])
                          for v in waiting)))


def told(user, notice, timeout=WAIT):
    """The user was told notice (a line starting with it), before now or
    within timeout: a notice may come in the middle of a greeting, a line
    from one sender before one from another."""
    if not any(line.startswith(notice) for line in user.seen):
        user.skip_to(lambda line: line.startswith(notice), timeout)


def wait_for_list(user, command, want):
    """Send command (/users, /rooms) until its answer is want: a node's
    replica of the others follows them within a message's latency."""
    deadline = time.monotonic() + WAIT
    prefix = want.split(" - ")[0] + " - "
    while True:
        user.send(command)
        got = user.skip_to(lambda line: line.startswith(prefix))
        if got == want:
            return
        check(time.monotonic() < deadline, "%s %s: %r, wanted %r" % (
            user.who, command, got, want))
        time.sleep(0.05)


def listed(*names):
    return ", ".join(sorted(names, key=str.lower))


# ---- the cluster --------------------------------------------------------------------

class Cluster:
    """A redis-server (started unless redis_up is false) and the chatd
    nodes pointed at it. Used with `with`: at the end the users are
    closed, every node still running gets SIGTERM and must exit 0 (under
    valgrind: no error, no leak), and redis-server is stopped, whatever
    happened."""

    def __init__(self, chatd, redis_up=True, redis_args=()):
        self.chatd = chatd
        self.redis = Redis(*redis_args)
        self.nodes = {}
        self.users = []
        if redis_up:
            try:
                self.redis.start()
            except BaseException:
                self.redis.close()
                raise

    def __enter__(self):
        return self

    def node(self, node_id, *args, url=None):
        """A chatd node: --node-id node_id, the short lease, no rate limit
        (the tests send bursts), args after."""
        d = e2e.Chatd(self.chatd, "--redis", url or self.redis.url(),
                      "--node-id", node_id, "--redis-lease", str(LEASE_MS),
                      "--rate", "0", *args)
        d.id = node_id
        self.nodes[node_id] = d
        return d

    def user(self, node, name=None, port=None):
        """A chat user on node's plain port, greeted, renamed to name."""
        u = LineUser(port or node.port, "%s@%s" % (name or "user", node.id))
        self.users.append(u)
        u.greet()
        if name:
            u.rename(name)
        return u

    def pairs(self, ids):
        """A node per id, two users on each (one_ID, two_ID), all in main
        and settled: (nodes, [(one, two) per node], every user)."""
        nodes = [self.node(n) for n in ids]
        pairs = [(self.user(d, "one_" + d.id), self.user(d, "two_" + d.id))
                 for d in nodes]
        everyone = [u for pair in pairs for u in pair]
        settle(*everyone)
        return nodes, pairs, everyone

    def two_rooms(self, a, b, c):
        """alice on node a, bob on b, carol on c in main; dave on c and
        bobby on b in side; settled."""
        alice, bob = self.user(a, "alice"), self.user(b, "bob")
        carol, dave = self.user(c, "carol"), self.user(c, "dave")
        bobby = self.user(b, "bobby")
        for u in (dave, bobby):
            u.send("/join side")
            u.skip_to("You joined side")
        settle(alice, bob, carol)
        settle(dave, bobby)
        return alice, bob, carol, dave, bobby

    def add(self, u):
        self.users.append(u)
        return u

    def __exit__(self, *exc):
        first = None
        for u in self.users:
            u.close()
        for d in self.nodes.values():
            try:
                d.stop()
            except Failure as e:
                first = first or Failure("node %s: %s" % (d.id, e))
        self.redis.close()
        if first:
            raise first
        return False


def port_of(d, scheme, dialect=None):
    """The port of chatd's `listening on SCHEME://...` line."""
    pattern = rb"listening on " + scheme.encode() + rb"://127\.0\.0\.1:(\d+)"
    if dialect:
        pattern += rb"\?dialect=" + dialect.encode()
    deadline = time.monotonic() + WAIT
    while True:
        m = re.search(pattern, d.text())
        if m:
            return int(m.group(1))
        check(time.monotonic() < deadline, "no 'listening on %s' line: %s"
              % (scheme, d.log_text()))
        time.sleep(0.02)


def lines_from(user, sender, prefix):
    """The numbers n of `{sender}: {prefix}{n}` lines user read, in order."""
    head = user.fmt("said", sender, prefix)
    return [int(line[len(head):]) for line in user.seen
            if line.startswith(head) and line[len(head):].isdigit()]


# ---- the stories --------------------------------------------------------------------

def test_three_nodes_share_a_room(prog, chatd):
    """alice and ann on node a, bob on b, carol on c, all in main. alice
    and bob each say 50 numbered lines at once: every member, local or
    remote, gets each exactly once, in its sender's order. /me crosses
    nodes; so do joins and leaves, into another room and back, and a
    /quit."""
    with Cluster(chatd) as c:
        a, b, cc = c.node("a"), c.node("b"), c.node("c")
        alice = c.user(a, "alice")
        ann = c.user(a, "ann")
        bob = c.user(b, "bob")
        carol = c.user(cc, "carol")
        everyone = (alice, ann, bob, carol)
        settle(*everyone)
        for i in range(1, 51):
            alice.send("a-line %d" % i)
            bob.send("b-line %d" % i)
        alice.send("a-end")
        bob.send("b-end")
        for u in everyone:
            told(u, u.fmt("said", "alice", "a-end"))
            told(u, u.fmt("said", "bob", "b-end"))
        for u in everyone:
            for sender, prefix in (("alice", "a-line "), ("bob", "b-line ")):
                got = lines_from(u, sender, prefix)
                check(got == list(range(1, 51)),
                      "%s got %s's lines as %r" % (u.who, sender, got))

        carol.send("/me waves")
        for u in everyone:
            u.skip_to("* carol waves")

        carol.send("/join side")
        carol.skip_to("You joined side")
        for u in (alice, ann, bob):
            u.skip_to("carol left main")
        bob.send("/join side")
        carol.skip_to("bob joined side")
        bob.skip_to("You joined side")
        for u in (alice, ann):
            u.skip_to("bob left main")
        settle(bob, carol)
        bob.says("only in side", carol)
        carol.send("/join main")
        bob.skip_to("carol left side")
        for u in (alice, ann):
            u.skip_to("carol joined main")
        settle(alice, ann, carol)
        carol.says("back in main", alice, ann)
        for u in (alice, ann):
            check(not any("only in side" in line for line in u.seen),
                  "%s, in main, got a line said in side" % u.who)
        ann.send("/quit")
        ann.skip_to("Bye!")
        for u in (alice, carol):
            u.skip_to("ann left main")
        for u in everyone:
            check(sum(line == "carol left main" for line in u.seen) <= 1,
                  "%s: carol left main twice" % u.who)


def test_direct_messages_and_renames_cross_nodes(prog, chatd):
    """/msg reaches users on other nodes, once each and in order, by name
    in any case, also in another room; unknown names are answered;
    renames are seen on the other nodes and the old name no longer
    reaches anyone."""
    with Cluster(chatd) as c:
        a, b, cc = c.node("a"), c.node("b"), c.node("c")
        alice, bob, carol = c.user(a, "alice"), c.user(b, "bob"), \
            c.user(cc, "carol")
        settle(alice, bob, carol)
        alice.send("/msg bob hello bob")
        alice.skip_to("to bob: hello bob")
        bob.skip_to("from alice: hello bob")
        alice.send("/msg BOB,Carol,nobody to you both")
        alice.skip_to("No such user: nobody")
        alice.skip_to("to BOB, Carol: to you both")
        bob.skip_to("from alice: to you both")
        carol.skip_to("from alice: to you both")
        for i in range(1, 31):
            carol.send("/msg alice dm %d" % i)
        carol.send("/msg alice dm-end")
        alice.skip_to("from carol: dm-end")
        got = [int(line[len("from carol: dm "):]) for line in alice.seen
               if re.fullmatch(r"from carol: dm \d+", line)]
        check(got == list(range(1, 31)), "alice got carol's /msg as %r" % got)

        bob.send("/name robert")
        for u in (alice, bob, carol):
            u.skip_to("bob is now robert")
        alice.send("/msg bob still there?")
        alice.skip_to("No such user: bob")
        alice.send("/msg Robert yes")
        alice.skip_to("to Robert: yes")
        bob.skip_to("from alice: yes")
        bob.send("/msg alice from a new name")
        alice.skip_to("from robert: from a new name")

        carol.send("/join elsewhere")
        carol.skip_to("You joined elsewhere")
        alice.skip_to("carol left main")
        bob.send("/msg carol psst")
        carol.skip_to("from robert: psst")
        bob.skip_to("to carol: psst")
        check(not any("psst" in line for line in alice.seen),
              "alice saw a direct message to carol")


def test_same_name_claimed_on_two_nodes_at_once(prog, chatd):
    """Two users on two nodes ask for the same name at the same moment,
    in 30 rounds with a new name each (and the case of its letters
    differing): each time exactly one gets it, the other `... is already
    taken`. Then names held on one node are refused on the others in any
    case."""
    with Cluster(chatd) as c:
        a, b, cc = c.node("a"), c.node("b"), c.node("c")
        users = [c.user(a), c.user(b), c.user(cc)]
        settle(*users)
        winners = collections.Counter()
        for r in range(30):
            one, two = users[r % 3], users[(r + 1) % 3]
            if r % 2:
                one, two = two, one
            asks = {one: "Same%d" % r, two: "same%d" % r}
            for u, name in asks.items():
                u.send("/name " + name)
            granted = []
            for u, name in asks.items():
                ok = "%s is now %s" % (u.name, name)
                got = u.skip_to(lambda line: line in (
                    ok, name + " is already taken"))
                if got == ok:
                    granted.append(u)
                    u.name = name
            check(len(granted) == 1, "round %d: /name %s granted to %s" % (
                r, asks[one], [u.who for u in granted] or "nobody"))
            winners[granted[0].who] += 1
        print("winners: %s" % dict(winners))

        first, second, third = users
        first.rename("Bob")
        for u, ask in ((second, "bob"), (third, "BOB"), (second, "Bob")):
            u.send("/name " + ask)
            u.skip_to(ask + " is already taken")
        first.rename("bob")  # only the case of one's own name
        second.rename("Alice")
        third.send("/name alice")
        third.skip_to("alice is already taken")
        first.send("/name ALICE")
        first.skip_to("ALICE is already taken")


def test_rooms_and_users_show_every_node(prog, chatd):
    """/users and /rooms, asked on any node, list the users and rooms of
    all of them; a room that empties anywhere disappears everywhere."""
    with Cluster(chatd) as c:
        a, b, cc = c.node("a"), c.node("b"), c.node("c")
        alice, bob, carol = c.user(a, "alice"), c.user(b, "Bob"), \
            c.user(cc, "carol")
        dave = c.user(cc, "dave")
        dave.send("/join side")
        dave.skip_to("You joined side")
        erin = c.user(a, "erin")
        erin.send("/join Other")
        erin.skip_to("You joined Other")
        for u in (alice, bob, carol):
            wait_for_list(u, "/users", "Users - " + listed(
                "alice", "Bob", "carol"))
            wait_for_list(u, "/rooms", "Rooms - main (3), Other (1), "
                          "side (1)")
        frank = c.user(b, "frank")
        frank.send("/join SIDE")
        frank.skip_to("You joined side")
        wait_for_list(dave, "/users", "Users - dave, frank")
        wait_for_list(erin, "/rooms", "Rooms - main (3), side (2), "
                      "Other (1)")
        dave.send("/quit")
        frank.send("/quit")
        erin.send("/join main")
        for u in (alice, bob, carol, erin):
            wait_for_list(u, "/rooms", "Rooms - main (4)")
        wait_for_list(bob, "/users", "Users - " + listed(
            "alice", "Bob", "carol", "erin"))


def test_history_is_the_rooms(prog, chatd):
    """alice on node a says 24 lines in room hist (bob on node b hears
    them, so they are published); carol on node c, which has nobody in
    hist, joins it and gets its last 20 lines, /me and bob's line
    included, in order, before `You joined hist`; dave, joining on c
    after her, gets the same."""
    with Cluster(chatd) as c:
        a, b, cc = c.node("a"), c.node("b"), c.node("c")
        alice, bob = c.user(a, "alice"), c.user(b, "bob")
        for u in (alice, bob):
            u.send("/join hist")
            u.skip_to("You joined hist")
        settle(alice, bob)
        said = []
        for i in range(1, 22):
            alice.send("line %d" % i)
            said.append("alice: line %d" % i)
        bob.skip_to(said[-1])
        bob.send("bob's line")
        said.append("bob: bob's line")
        alice.skip_to(said[-1])
        alice.send("/me waves")
        said.append("* alice waves")
        alice.send("last line")
        said.append("alice: last line")
        bob.skip_to(said[-1])
        want = said[-20:] + ["You joined hist"]
        for name in ("carol", "dave"):
            u = c.user(cc, name)
            u.send("/join hist")
            got = []
            while not got or not got[-1].startswith("You joined"):
                got.append(u.line())
            check(got == want, "%s joined hist on node c and got %r, wanted "
                  "%r" % (name, got, want))
            for v in (alice, bob):
                v.skip_to("%s joined hist" % name)


def test_every_dialect_and_transport_crosses_nodes(prog, chatd):
    """Node a has a telex listener and an a-chat one, node b an http://
    one (a WebSocket user), node c a tls:// one and its plain port: a
    telex user, a WebSocket user, a TLS user and a plain one share main,
    each seeing the others' lines, /me, direct messages, renames, joins
    and leaves in its own dialect; the a-chat user trades direct messages
    with them."""
    certs = None
    if shutil.which("openssl"):
        import tlstest
        certs = tlstest.Certs()
    try:
        with Cluster(chatd) as c:
            a = c.node("a", "--listen", "tcp://127.0.0.1:0?dialect=telex",
                       "--listen", "tcp://127.0.0.1:0?dialect=a-chat")
            b = c.node("b", "--listen", "http://127.0.0.1:0")
            tls_args = () if certs is None else (
                "--listen", "tls://127.0.0.1:0", "--tls-cert",
                certs.path("server.pem"), "--tls-key",
                certs.path("server.key"))
            cc = c.node("c", *tls_args)

            tex = c.add(LineUser(port_of(a, "tcp", "telex"), "telex@a",
                                 "telex"))
            tex.send("tex")
            tex.skip_to("You are tex")
            tex.skip_to("You joined main")
            tex.name = "tex"
            web = c.add(WsUser(port_of(b, "http"), "ws@b"))
            web.greet()
            web.rename("webby")
            plain = c.user(cc, "plain")
            room = [tex, web, plain]
            if certs:
                ctx = ssl.create_default_context(
                    cafile=certs.path("ca.pem"))
                sec = c.add(LineUser(port_of(cc, "tls"), "tls@c", tls=ctx))
                sec.greet()
                sec.rename("secure")
                room.append(sec)
            ac = c.add(LineUser(port_of(a, "tcp", "a-chat"), "a-chat@a",
                                "a-chat"))
            ac.send("ac")
            ac.name = "ac"
            settle(*room)
            wait_for_list(plain, "/users", "Users - " + listed(
                *[u.name for u in room + [ac]]))

            for u in room:
                u.says("hello from " + u.name,
                       *[v for v in room if v is not u])
            web.send("/me dances")
            for u in room:
                u.skip_to("* webby dances")
            tex.send("/msg webby,plain psst")
            tex.skip_to("-> webby, plain: psst")
            web.skip_to("from tex: psst")
            plain.skip_to("from tex: psst")
            web.send("/msg tex yo")
            tex.skip_to("*webby* yo")
            plain.send("/msg ac hi ac")
            ac.skip_to("from plain: hi ac")
            ac.send("tex, webby: from ac")
            tex.skip_to("*ac* from ac")
            web.skip_to("from ac: from ac")

            web.send("/name webster")
            for u in room:
                u.skip_to(u.fmt("renamed", "webby", "webster"))
            web.name = "webster"
            plain.send("/join away")
            plain.skip_to("You joined away")
            for u in room:
                if u is not plain:
                    u.skip_to(u.fmt("left", "plain", "main"))
            tex.send("/join away")
            plain.skip_to("tex joined away")
            for u in room:
                if u not in (plain, tex):
                    u.skip_to(u.fmt("left", "tex", "main"))
            if certs:
                sec.send("/quit")
                sec.skip_to("Bye!")
                web.skip_to("secure left main")
    finally:
        if certs:
            certs.close()


def test_killed_node_frees_its_names(prog, chatd):
    """Node c is killed with SIGKILL: within its lease (checked as lease +
    WAIT) its users are announced `{name} left {room}` once on each other
    node, /users forgets them, and their names can be taken on another
    node. The live nodes' names outlive many leases."""
    with Cluster(chatd) as c:
        a, b, cc = c.node("a"), c.node("b"), c.node("c")
        alice, bob, carol, dave, bob_side = c.two_rooms(a, b, cc)
        wait_for_list(alice, "/rooms", "Rooms - main (3), side (2)")

        killed = time.monotonic()
        before = {u: len(u.seen) for u in (alice, bob, bob_side)}
        cc.kill()
        within = LEASE_MS / 1000 + WAIT
        for u in (alice, bob):
            u.skip_to("carol left main", within)
        bob_side.skip_to("dave left side", within)
        print("the others were told after %.2f s (lease %.2f s)" % (
            time.monotonic() - killed, LEASE_MS / 1000))
        wait_for_list(alice, "/rooms", "Rooms - main (2), side (1)")
        wait_for_list(bob, "/users", "Users - alice, bob")
        alice.rename("carol")
        bob.skip_to("alice is now carol")
        bob_side.rename("Dave")

        # Two leases later the live nodes still hold their names.
        time.sleep(2 * LEASE_MS / 1000)
        settle(alice, bob)
        bob.send("/name CAROL")
        bob.skip_to("CAROL is already taken")
        alice.send("/name bob")
        alice.skip_to("bob is already taken")
        for u in (alice, bob, bob_side):
            after = u.seen[before[u]:]
            for who in ("carol", "dave"):
                n = sum(line.startswith(who + " left ") for line in after)
                check(n <= 1, "%s was told %d times that %s left: %r" % (
                    u.who, n, who, after))
            check(not any(line.startswith(("alice left", "bob left",
                                           "bobby left")) for line in after),
                  "%s: a live node's user was announced as gone: %r" % (
                      u.who, after))


def test_stopped_node_says_goodbye(prog, chatd):
    """Node c, with a lease of a minute, is stopped with SIGTERM: it exits
    0, its users are announced `{name} left {room}` on the other nodes
    and their names are free at once, long before the lease would have
    run out."""
    with Cluster(chatd) as c:
        a, b = c.node("a"), c.node("b")
        cc = c.node("c", "--redis-lease", "60000")
        alice, bob, carol, dave, bob_side = c.two_rooms(a, b, cc)
        cc.stop()
        for u in (carol, dave):
            told(u, "Server shutting down...")
        for u in (alice, bob):
            u.skip_to("carol left main")
        bob_side.skip_to("dave left side")
        alice.rename("Carol")
        bob_side.rename("dave")
        wait_for_list(bob, "/users", "Users - bob, Carol")


def test_redis_killed_and_restarted_mid_chat(prog, chatd):
    """redis-server is killed with SIGKILL mid-chat: every user is told
    once that other servers are unavailable, and chat on each node goes
    on meanwhile (without other nodes' users in /users). redis-server
    restarted on the same port: every user is told once it is back, lines
    cross nodes again and /users shows everyone; every node exits 0 on
    SIGTERM at the end."""
    with Cluster(chatd) as c:
        nodes, pairs, everyone = c.pairs("abc")
        pairs[0][0].says("before the fault", *everyone[1:])

        c.redis.kill()
        for u in everyone:
            told(u, UNAVAILABLE)
        for one, two in pairs:
            one.says("local while redis is down", two)
            two.says("me too", one)
            wait_for_list(one, "/users", "Users - " + listed(
                one.name, two.name))

        c.redis.start()
        for u in everyone:
            told(u, AVAILABLE, 3 * WAIT)
        settle(*everyone)
        pairs[2][1].says("after the restart", *everyone[:-1])
        wait_for_list(pairs[1][0], "/users", "Users - " + listed(
            *[u.name for u in everyone]))
        for u in everyone:
            for text in (UNAVAILABLE, AVAILABLE):
                n = sum(line.startswith(text) for line in u.seen)
                check(n == 1, "%s was told %d times %r" % (u.who, n, text))
        for d in nodes:
            check(d.proc.poll() is None, "node %s died: %s" % (
                d.id, d.log_text()))


def test_local_chat_goes_on_while_redis_is_frozen(prog, chatd):
    """redis-server stopped with SIGSTOP (its connections open, nothing
    answered): users on each node still chat among themselves, 20 lines
    each way, at once; after SIGCONT lines cross nodes again."""
    with Cluster(chatd) as c:
        nodes, pairs, everyone = c.pairs("ab")
        c.redis.freeze()
        for one, two in pairs:
            for i in range(1, 21):
                one.send("frozen %d" % i)
                two.send("frozen %d" % i)
            for u in (one, two):
                for v in (one, two):
                    told(u, u.fmt("said", v.name, "frozen 20"))
                    check(lines_from(u, v.name, "frozen ") ==
                          list(range(1, 21)), "%s got %s's lines as %r" % (
                              u.who, v.name, lines_from(u, v.name,
                                                        "frozen ")))
        c.redis.freeze(False)
        settle(*everyone)
        pairs[0][0].says("thawed", *everyone[1:])


def test_node_started_while_redis_is_down(prog, chatd):
    """Node a starts while redis-server is not running: it serves its
    users (who are told other servers are unavailable), and once
    redis-server starts it joins nodes b and c: lines cross, /users shows
    everyone, and the names its users took are theirs cluster-wide."""
    with Cluster(chatd, redis_up=False) as c:
        a = c.node("a")
        ann, amy = c.user(a, "ann"), c.user(a, "amy")
        for u in (ann, amy):
            told(u, UNAVAILABLE)
        ann.says("alone here", amy)
        amy.says("still fine", ann)

        c.redis.start()
        for u in (ann, amy):
            told(u, AVAILABLE, 3 * WAIT)
        b, cc = c.node("b"), c.node("c")
        bob, carol = c.user(b, "bob"), c.user(cc, "carol")
        room = (ann, amy, bob, carol)
        settle(*room)
        carol.says("hello node a", ann, amy, bob)
        ann.says("hello b and c", amy, bob, carol)
        wait_for_list(bob, "/users", "Users - amy, ann, bob, carol")
        bob.send("/name Ann")
        bob.skip_to("Ann is already taken")
        carol.send("/name AMY")
        carol.skip_to("AMY is already taken")


def test_name_taken_on_two_nodes_during_an_outage(prog, chatd):
    """While redis-server is down, users on two nodes both become twin
    (each node grants it alone). When it is back, exactly one of them
    keeps it and the other gets `Your name twin was taken on another
    server; you are now {new}`; afterwards the names are unique again
    across the cluster."""
    with Cluster(chatd) as c:
        a, b, cc = c.node("a"), c.node("b"), c.node("c")
        alice, bob, carol = c.user(a, "alice"), c.user(b, "bob"), \
            c.user(cc, "carol")
        settle(alice, bob, carol)
        c.redis.kill()
        for u in (alice, bob, carol):
            told(u, UNAVAILABLE)
        alice.rename("twin")
        bob.rename("Twin")

        c.redis.start()
        deadline = time.monotonic() + 3 * WAIT
        lost = None
        while lost is None:
            check(time.monotonic() < deadline,
                  "neither twin was told it lost the name: alice %r, bob %r"
                  % (alice.seen[-6:], bob.seen[-6:]))
            for u in (alice, bob):
                got = u.poll(0.05)
                m = got and TAKEN_AWAY.match(got)
                if m:
                    lost, new = u, m.group(2)
                    check(m.group(1) == u.name, "%s lost %r, it had %r" % (
                        u.who, m.group(1), u.name))
        kept = bob if lost is alice else alice
        lost.name = new
        check(new.lower() != "twin", "the new name is %r" % new)
        for u in (alice, bob, carol):
            told(u, AVAILABLE, 3 * WAIT)
        settle(alice, bob, carol)
        carol.send("/msg %s to the one who kept it" % kept.name)
        got = carol.skip_to(lambda line: line in (
            "to %s: to the one who kept it" % kept.name,
            "No such user: " + kept.name))
        check(got.startswith("to "), "carol, on the third node, after the "
              "outage: %r (%s kept the name as %s)" % (
                  got, kept.who, kept.name))
        kept.skip_to("from carol: to the one who kept it")
        wait_for_list(carol, "/users", "Users - " + listed(
            "carol", kept.name, new))
        check(not any(TAKEN_AWAY.match(line) for line in kept.seen),
              "%s kept twin but was told it lost a name: %r" % (
                  kept.who, kept.seen))
        check(sum(bool(TAKEN_AWAY.match(line)) for line in lost.seen) == 1,
              "%s was told more than once: %r" % (lost.who, lost.seen))
        carol.send("/name TWIN")
        carol.skip_to("TWIN is already taken")
        carol.send("/name " + new.upper())
        carol.skip_to(new.upper() + " is already taken")
        lost.says("my new name works", kept, carol)


def test_prefixes_keep_two_chats_apart(prog, chatd):
    """Two chats share one redis-server under two --redis-prefix values:
    each has its own names, rooms and lines."""
    with Cluster(chatd) as c:
        a1 = c.node("a1", "--redis-prefix", "one:")
        b1 = c.node("b1", "--redis-prefix", "one:")
        a2 = c.node("a2", "--redis-prefix", "two:")
        x, y = c.user(a1, "same"), c.user(b1, "other")
        z = c.user(a2, "Same")
        settle(x, y)
        x.says("in chat one", y)
        wait_for_list(z, "/users", "Users - Same")
        wait_for_list(y, "/users", "Users - other, same")
        check(not any("in chat one" in line for line in z.seen),
              "chat two got a line of chat one")


def test_redis_with_a_password(prog, chatd):
    """redis-server with requirepass: one node gives the password in the
    URL, another in --redis-password-file; they chat."""
    secret = "s3cret-%d" % os.getpid()
    with Cluster(chatd, redis_args=("--requirepass", secret)) as c:
        a = c.node("a", url=c.redis.url(":%s@" % secret))
        pw = os.path.join(c.redis.dir, "password")
        with open(pw, "w") as f:
            f.write(secret + "\n")
        b = c.node("b", "--redis-password-file", pw)
        alice, bob = c.user(a, "alice"), c.user(b, "bob")
        settle(alice, bob)
        alice.says("through a locked redis", bob)
        bob.send("/name alice")
        bob.skip_to("alice is already taken")


def start_tls_redis(r, certs, auth_clients="no", client=None):
    """Start r (a Redis not started) with TLS only (--port 0, --tls-port
    r.port), its certificate certs' server.pem, the test CA its
    --tls-ca-cert-file, --tls-auth-clients auth_clients; return once it
    answers PING over TLS (with client, a (cert, key) pair, as the client
    certificate). Skip (77) if redis-server was built without TLS."""
    ca = certs.path("ca.pem")
    r.log = open(os.path.join(r.dir, "log"), "ab")
    r.proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(r.port),
         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", r.dir, "--daemonize", "no",
         "--tls-cert-file", certs.path("server.pem"),
         "--tls-key-file", certs.path("server.key"),
         "--tls-ca-cert-file", ca, "--tls-auth-clients", auth_clients],
        stdin=subprocess.DEVNULL, stdout=r.log, stderr=r.log)
    ctx = ssl.create_default_context(cafile=ca)
    if client:
        ctx.load_cert_chain(*client)
    deadline = time.monotonic() + WAIT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", r.port),
                                          timeout=1) as raw, \
                    ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        if r.proc.poll() is not None:
            if "tls" in r.log_text().lower():
                raise Skip("redis-server without TLS: " + r.log_text())
            raise Failure("redis-server exited: " + r.log_text())
        check(time.monotonic() < deadline, "redis-server did not "
              "answer on its TLS port: " + r.log_text())
        time.sleep(0.02)


def logged(node, what):
    """Wait until node's log has what (bytes)."""
    deadline = time.monotonic() + WAIT
    while what not in node.text():
        check(time.monotonic() < deadline, "node %s did not log %r: %s" % (
            node.id, what, node.log_text()))
        time.sleep(0.02)


def linked(one, other):
    """one and other, users on two nodes, share a line each way and a
    name (the one's is taken for the other)."""
    settle(one, other)
    one.says("through TLS", other)
    other.send("/name " + one.name)
    other.skip_to(one.name + " is already taken")
    other.says("and back", one)


def test_rediss_between_nodes(prog, chatd):
    """redis-server with TLS only (--port 0, --tls-port; the throwaway CA
    of tests/tls/mkcerts.sh): nodes a and b with rediss:// and
    --redis-cafile chat through it (a line crosses, a name claimed on one
    is taken on the other); node c, given the wrong CA (a self-signed
    certificate), logs the verification failure and serves its users
    alone. Each node's relay socket is in a 0700 directory under $TMPDIR,
    removed when it exits. Skips (77) without the openssl command or a
    redis-server built with TLS."""
    import tlstest
    with tlstest.Certs() as certs, Cluster(chatd, redis_up=False) as c:
        ca = certs.path("ca.pem")
        start_tls_redis(c.redis, certs)

        tmp = os.path.join(certs.dir, "tmp")
        os.mkdir(tmp)
        os.environ["TMPDIR"] = tmp
        url = "rediss://127.0.0.1:%d" % c.redis.port
        a = c.node("a", "--redis-cafile", ca, url=url)
        b = c.node("b", "--redis-cafile", ca, url=url)
        cc = c.node("c", "--redis-cafile", certs.path("self.pem"), url=url)
        alice, bob = c.user(a, "alice"), c.user(b, "bob")
        linked(alice, bob)

        carol = c.user(cc, "carol")
        told(carol, UNAVAILABLE)
        logged(cc, b"certificate verify failed")
        dave = c.user(cc, "dave")
        carol.says("alone on c", dave)
        wait_for_list(carol, "/users", "Users - " + listed("carol", "dave"))
        check(not any("alone on c" in line for line in alice.seen),
              "a line of node c crossed without Redis")

        dirs = [d for d in os.listdir(tmp) if d.startswith("chatd-redis-")]
        check(len(dirs) == 3 and all(
            os.stat(os.path.join(tmp, d)).st_mode & 0o777 == 0o700
            for d in dirs), "relay directories: %r" % dirs)
        for d in (a, b, cc):
            d.stop()
        left = [d for d in os.listdir(tmp) if d.startswith("chatd-redis-")]
        check(not left, "left behind after exit: %r" % left)


# ---- whoever can write to Redis -------------------------------------------------------

def resp(*args):
    """One command in RESP, as a client sends it: an array of bulk
    strings (str or bytes)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class RawRedis:
    """A Redis client written here on a plain socket: any process that
    can write to Redis, with nothing of chatd's between it and the
    channels. close() makes it fit Cluster.add()."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=WAIT)
        self.buf = b""

    def _more(self):
        chunk = self.sock.recv(65536)
        check(chunk, "redis-server closed the raw client's connection")
        self.buf += chunk

    def reply(self):
        """The next reply, decoded; an error reply fails the test."""
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise Failure("redis-server: " + rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._more()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise Failure("redis-server: a reply of no known type: %r" % line)

    def call(self, *args):
        self.sock.sendall(resp(*args))
        return self.reply()

    def pipeline(self, commands):
        """Every command sent at once, then every reply read, in order."""
        self.sock.sendall(b"".join(resp(*cmd) for cmd in commands))
        return [self.reply() for _ in commands]

    def subscribers(self, channel):
        return self.call("PUBSUB", "NUMSUB", channel)[1]

    def close(self):
        self.sock.close()


def wire(node, seq, kind, name="", room="", other="", text=""):
    """One message of the format between nodes (doc/cluster.md), its
    fields as given, valid or not."""
    if isinstance(text, str):
        text = text.encode()
    return ("c1 %s %s %s\n%s\n%s\n%s\n" % (
        node, seq, kind, name, room, other)).encode() + text


def metrics(port):
    """chatd's /metrics on its http:// port: {series: value}, each series
    spelt as chatd writes it, labels included (`name{reason="slow"}`)."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    check(re.match(rb"HTTP/1\.[01] 200 ", head), "GET /metrics: %r" % head)
    series = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            series[name] = float(value)
    return series


def grew(before, after, *names):
    """How much the named series (summed) went up between two scrapes."""
    return sum(after.get(n, 0) - before.get(n, 0) for n in names)


def clean(line):
    """line holds no control character but tab (C0, DEL, C1) and nothing
    that was not UTF-8 (read here as U+FFFD)."""
    return not any((ord(ch) < 0x20 and ch != "\t") or
                   0x7F <= ord(ch) <= 0x9F or ch == "\ufffd" for ch in line)


def sanitized(prog):
    """prog is built with AddressSanitizer, which keeps freed memory in
    quarantine (up to 256 MiB by default): its RSS says nothing of what
    chatd holds. The gcc build's and valgrind's runs check memory."""
    with open(prog, "rb") as f:
        return b"__asan_init" in f.read()


def rss_kib(d):
    """VmRSS of node d's process (valgrind's, under the wrapper), KiB."""
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure("no VmRSS for node %s" % d.id)


def wait_subscribed(raw, channel, want=1):
    """Redis has want subscribers on channel (a node follows a room once
    Redis confirms its SUBSCRIBE, which may come after `You joined`)."""
    deadline = time.monotonic() + WAIT
    while raw.subscribers(channel) != want:
        check(time.monotonic() < deadline, "%s has %d subscribers, not %d"
              % (channel, raw.subscribers(channel), want))
        time.sleep(0.02)


class StillUser(LineUser):
    """A user who stops reading: a 4 KiB receive buffer, so that what the
    server sends it piles up on the server's side soon."""

    def __init__(self, port, who):
        User.__init__(self, who)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(WAIT)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""


class Drain(threading.Thread):
    """Reads a user's socket as fast as it can, in the background, until
    stop(): for a room so busy that the test's own pace of reading would
    make the user a slow consumer."""

    def __init__(self, user):
        super().__init__(daemon=True)
        self.sock = user.sock
        self.chunks = [user.buf]
        self.halt = threading.Event()
        self.sock.settimeout(0.1)
        self.start()

    def run(self):
        while not self.halt.is_set():
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            self.chunks.append(chunk)

    def lines(self):
        data = b"".join(self.chunks)
        return data[:data.rfind(b"\n") + 1].decode(
            "utf-8", "replace").splitlines()

    def stop(self):
        self.halt.set()
        self.join()


# ---- when Redis, or whoever can write to it, misbehaves -------------------------------

def test_garbage_on_the_bus_is_counted_and_harms_no_one(prog, chatd):
    """While alice (node a) and bob (node b) chat in main, a raw Redis
    client publishes hostile messages on main's channel, on each node's
    channel and on the presence channel: random bytes, an empty message,
    another version, text with ESC sequences, C1 controls, invalid or
    overlong UTF-8, a line break, over 400 bytes (and 2 MiB), names and
    node ids and sequence numbers that break their rules, fields a kind
    does not have, a batch mixing one valid line of a made-up node with
    invalid ones, a replay of that line, and messages claiming to come
    from the receiving node itself. Users see the made-up node's valid
    lines once each and nothing else of it (never a control byte);
    chatd_cluster_messages_invalid_total on each node went up by exactly
    the invalid messages on the channels it follows; alice and bob chat
    on, and /users does not list the made-up user."""
    with Cluster(chatd) as c:
        a = c.node("a", "--listen", "http://127.0.0.1:0")
        b = c.node("b", "--listen", "http://127.0.0.1:0")
        web = {d: port_of(d, "http") for d in (a, b)}
        alice, bob = c.user(a, "alice"), c.user(b, "bob")
        settle(alice, bob)
        raw = c.add(RawRedis(c.redis.port))
        before = {d: metrics(web[d]) for d in (a, b)}
        start = {u: len(u.seen) for u in (alice, bob)}

        room, presence = "chat:room:main", "chat:presence"
        to_a, to_b = "chat:node:a", "chat:node:b"
        follows = {room: (a, b), presence: (a, b), to_a: (a,), to_b: (b,)}
        noise = bytes(random.Random(13).randrange(1, 256) for _ in range(300))

        def zed(seq, text, name="zed", rm="main", other="", node="ghost",
                kind="chat"):
            return wire(node, seq, kind, name, rm, other, text)

        # (channel, payload, how many invalid messages it holds). Every
        # text that must not reach anyone holds BAD.
        hostile = [[
            (room, noise, 1),
            (room, b"", 1),
            (room, b"c9" + zed(101, "BAD another version")[2:], 1),
            (room, b"c10" + zed(101, "BAD another version")[2:], 1),
            (room, zed(102, b"BAD \x1b[2J\x1b]0;owned\x07 ESC"), 1),
            (room, zed(102, b"BAD \xc2\x9b31m C1"), 1),
            (room, zed(102, b"BAD \x7f DEL"), 1),
            (room, zed(102, b"BAD \xff\xfe\xc3\x28 not UTF-8"), 1),
            (room, zed(102, b"BAD \xc0\xaf overlong"), 1),
            (room, zed(102, b"BAD \xed\xa0\x80 a surrogate"), 1),
            (room, zed(102, b"BAD\nalice: BAD a line of its own"), 1),
            (room, zed(102, b"BAD\r"), 1),
            (room, zed(102, b" BAD a leading blank"), 1),
            (room, zed(102, b"BAD" + b"x" * 398), 1),
            (room, zed(102, b"BAD" + b"x" * (2 << 20)), 1),
            (room, zed(102, b""), 1),
            (room, zed(103, "y" * 400), 0),  # valid: the longest text
        ], [
            (room, zed(104, "BAD short name", name="z"), 1),
            (room, zed(104, "BAD long name", name="z" * 25), 1),
            (room, zed(104, "BAD a blank", name="ev il"), 1),
            (room, zed(104, "BAD a bang", name="ev!l"), 1),
            (room, zed(104, "BAD ESC", name="zed\x1b"), 1),
            (room, zed(104, "BAD é", name="z\u00e9d"), 1),
            (room, zed(104, "BAD short room", rm="m"), 1),
            (room, zed(104, "BAD room", rm="main!"), 1),
            (room, zed(104, "BAD no room", rm=""), 1),
            (room, zed(104, "BAD other set", other="bob"), 1),
            (room, zed(104, "BAD long node", node="g" * 33), 1),
            (room, zed(104, "BAD slash", node="gh/ost"), 1),
            (room, zed(104, "BAD no node", node=""), 1),
            (room, zed(0, "BAD seq 0"), 1),
            (room, zed("007", "BAD seq 007"), 1),
            (room, zed(-5, "BAD seq -5"), 1),
            (room, zed(1 << 64, "BAD seq 2^64"), 1),
            (room, zed("12a", "BAD seq 12a"), 1),
            (room, zed(104, "BAD shout", kind="shout"), 1),
            (room, zed(104, "BAD CHAT", kind="CHAT"), 1),
            (room, b"c1 ghost 104 chat\nzed\nmain", 1),
            (room, b"c1 ghost 104 chat", 1),
            (room, b"c1", 1),
            # A batch: one valid line, three invalid messages.
            (room, b"\0".join([zed(110, "hello from ghost"),
                               zed(111, b"BAD \x07 bell"), b"",
                               noise[:50]]), 3),
            (room, zed(110, "hello from ghost"), 0),  # a replay
            (room, zed(1, "BAD I am node a", node="a"), 0),
            (room, zed(1, "BAD I am node b", node="b"), 0),
        ], [
            (to_a, zed(120, "hi alice", rm="", other="alice",
                       kind="direct"), 0),
            (to_a, zed(2, "BAD I am node a", rm="", other="alice",
                       node="a", kind="direct"), 0),
            (to_a, zed(121, b"BAD \x1b[31m", rm="", other="alice",
                       kind="direct"), 1),
            (to_a, noise, 1),
            (to_b, zed(122, "BAD a room", other="bob", kind="direct"), 1),
            (to_b, zed(2, "BAD I am node b", rm="", other="bob",
                       node="b", kind="direct"), 0),
            (presence, zed(123, "", name="z", kind="here"), 1),
            (presence, zed(123, "", kind="gone"), 1),
            (presence, zed(123, "", rm="", kind="sync"), 1),
            (presence, zed(123, "", name="", rm="", kind="node-gone"), 1),
            (presence, zed(123, "", name="", rm="", other="a b",
                           kind="node-gone"), 1),
            (presence, zed(123, "BAD text", kind="joined"), 1),
            (presence, noise, 1),
            (presence, b"", 1),
        ]]
        for k, part in enumerate(hostile):
            got = raw.pipeline([("PUBLISH", ch, p) for ch, p, _ in part])
            for (ch, p, _), n in zip(part, got):
                check(n == len(follows[ch]), "PUBLISH %s %r reached %d "
                      "subscribers, not %d" % (ch, p[:60], n,
                                               len(follows[ch])))
            alice.says("between %d" % k, bob)
            bob.says("and %d" % k, alice)
        check(raw.call("PUBLISH", room, zed(200, "end of garbage")) == 2,
              "the last line did not reach both nodes")
        for u in (alice, bob):
            u.skip_to("zed: end of garbage")  # after all the rest, in order

        for d in (a, b):
            want = sum(n for part in hostile for ch, _, n in part
                       if d in follows[ch])
            got = grew(before[d], metrics(web[d]),
                       "chatd_cluster_messages_invalid_total")
            check(got == want, "node %s counted %d invalid messages, it "
                  "received %d" % (d.id, got, want))
            print("node %s: %d invalid messages counted" % (d.id, got))
        for u in (alice, bob):
            seen = u.seen[start[u]:]
            bad = [line for line in seen if not clean(line) or "BAD" in line
                   or "mallory" in line]
            check(not bad, "%s got what it must not: %r" % (u.who, bad))
            for line in ("zed: hello from ghost", "zed: " + "y" * 400):
                n = seen.count(line)
                check(n == 1, "%s got %r %d times" % (u.who, line[:30], n))
        n = alice.seen[start[alice]:].count("from zed: hi alice")
        check(n == 1, "alice got zed's direct message %d times" % n)

        alice.says("still talking", bob)
        bob.says("still here", alice)
        bob.send("/msg alice psst")
        alice.skip_to("from bob: psst")
        for u in (alice, bob):
            wait_for_list(u, "/users", "Users - alice, bob")
        for d in (a, b):
            check(d.proc.poll() is None, "node %s died: %s" % (
                d.id, d.log_text()))


def test_a_flood_from_the_bus_does_not_stall_local_chat(prog, chatd):
    """A raw Redis client pipelines 200,000 valid lines of a made-up node
    (20,000 under a wrapper), in batches of 50, onto room flood's channel,
    where node a has a member who reads (as fast as it can) and one who
    stops reading. Meanwhile alice and ann on node a chat in main, bob on
    node b hearing them: every line arrives within WAIT. The reader gets
    the lines in order, each once, or is told how many were dropped; the
    one who stopped reading has lines dropped for it and is cut (write
    timeout); node a's memory stays bounded; chat goes on after it."""
    slow = bool(e2e.chatd_wrapper())
    total, pad = (20000, 240) if slow else (200000, 60)
    with Cluster(chatd) as c:
        raw = c.add(RawRedis(c.redis.port))
        # Redis's own limit is not under test here: it would cut node a.
        raw.call("CONFIG", "SET", "client-output-buffer-limit",
                 "pubsub 0 0 0")
        a = c.node("a", "--listen", "http://127.0.0.1:0",
                   "--high-water", "65536", "--write-timeout", "3")
        b = c.node("b")
        web = port_of(a, "http")
        alice, ann, bob = c.user(a, "alice"), c.user(a, "ann"), \
            c.user(b, "bob")
        settle(alice, ann, bob)
        still = c.add(StillUser(a.port, "still@a"))
        still.greet()
        still.rename("still")
        reader = c.user(a, "reader")
        for u in (still, reader):
            u.send("/join flood")
            u.skip_to("You joined flood")
        wait_subscribed(raw, "chat:room:flood")

        lines = [wire("flooder", i, "chat", "zed", "flood", "",
                      "flood %d %s" % (i, "x" * pad))
                 for i in range(1, total + 1)]
        flood = b"".join(resp("PUBLISH", "chat:room:flood",
                              b"\0".join(lines[k:k + 50]))
                         for k in range(0, total, 50))
        del lines
        sender = RawRedis(c.redis.port)
        c.add(sender)
        sent = []
        pusher = threading.Thread(target=lambda: sent.append(
            sender.sock.sendall(flood) or
            [sender.reply() for _ in range(0, total, 50)]), daemon=True)
        before, rss0 = metrics(web), rss_kib(a)
        drain = Drain(reader)
        try:
            began = time.monotonic()
            pusher.start()
            rss, lag, rounds, during = rss0, 0.0, 0, 0
            while True:
                rounds += 1
                for one, two in ((alice, ann), (ann, alice)):
                    t = time.monotonic()
                    one.says("during %d" % rounds, two, bob)
                    lag = max(lag, time.monotonic() - t)
                rss = max(rss, rss_kib(a))
                applied = grew(before, metrics(web),
                               "chatd_cluster_messages_in_total")
                if applied >= total and not pusher.is_alive():
                    break
                during += 1
                check(time.monotonic() - began < 6 * WAIT, "node a applied "
                      "%d of %d lines in %.0f s" % (applied, total,
                                                    6 * WAIT))
            took = time.monotonic() - began
            pusher.join()
            check(sent and all(n == 1 for n in sent[0]),
                  "the flood reached %r subscribers" % sorted(set(
                      sent[0] if sent else [])))

            deadline = time.monotonic() + WAIT
            while True:
                got = drain.lines()
                said = [int(line.split()[2]) for line in got
                        if line.startswith("zed: flood ")]
                dropped = sum(int(m.group(1)) for m in (re.match(
                    r"Server is very busy and dropped (\d+) messages", line)
                    for line in got) if m)
                if len(said) + dropped >= total:
                    break
                check(time.monotonic() < deadline, "the reader got %d lines"
                      " and was told of %d dropped, of %d" % (
                          len(said), dropped, total))
                time.sleep(0.05)
        finally:
            drain.stop()
        check(said and all(x < y for x, y in zip(said, said[1:])) and
              said[-1] <= total, "the reader got the lines out of order "
              "(or none): %r" % said[:20])
        check(len(said) + dropped <= total + 1, "the reader got %d lines "
              "and %d dropped, of %d" % (len(said), dropped, total))
        check(all(clean(line) for line in got), "the reader got a control "
              "byte: %r" % [line for line in got if not clean(line)][:3])

        deadline = time.monotonic() + 3 + WAIT
        while True:
            after = metrics(web)
            if grew(before, after, 'chatd_disconnects_total{reason="slow"}',
                    'chatd_disconnects_total{reason="write-timeout"}'):
                break
            check(time.monotonic() < deadline, "the user who stopped "
                  "reading was not cut: %r" % {
                      k: v for k, v in after.items() if "disconnects" in k})
            time.sleep(0.1)
        dropped_for = grew(before, after, 'chatd_lines_dropped_total'
                           '{reason="slow_consumer"}')
        check(dropped_for > 0, "no line was dropped for a slow consumer")
        while not still.closed:
            still._recv(WAIT)
        print("%d lines applied in %.1f s; chat rounds meanwhile %d (%d "
              "while the flood was applied), slowest line %.3f s; reader: "
              "%d lines, %d dropped; %d dropped for the still user; RSS "
              "%d -> max %d KiB" % (total, took, rounds, during, lag,
                                    len(said), dropped, dropped_for, rss0,
                                    rss))
        check(during >= 1, "no chat while the flood was being applied")
        if not sanitized(chatd):
            check(rss - rss0 < 100 << 10, "node a grew from %d to %d KiB" % (
                rss0, rss))
            check(slow or rss < 200 << 10, "node a reached %d KiB" % rss)
        for u in (alice, ann):
            check(not any("flood" in line for line in u.seen),
                  "%s, in main, got a line of room flood" % u.who)
        alice.says("after the flood", ann, bob)
        bob.says("heard you", alice, ann)
        check(a.proc.poll() is None, "node a died: " + a.log_text())


def test_a_subscriber_redis_cuts_off_comes_back(prog, chatd):
    """redis-server limits a subscriber's output buffer (CONFIG SET
    client-output-buffer-limit pubsub 256kb 128kb 1). Node a is stopped
    (SIGSTOP) while a raw client floods its node channel with direct
    messages, until Redis really disconnects a's subscriber (PUBSUB
    NUMSUB says so, and Redis's log). SIGCONT: a's users are told other
    servers are unavailable, then available again; bob on node b is told
    nothing; chat crosses nodes again; chatd_redis_reconnects_total on a
    went up."""
    with Cluster(chatd) as c:
        raw = c.add(RawRedis(c.redis.port))
        check(raw.call("CONFIG", "SET", "client-output-buffer-limit",
                       "pubsub 256kb 128kb 1") == "OK", "CONFIG SET")
        # A lease that outlasts the stop: node b must not take a for dead.
        a = c.node("a", "--listen", "http://127.0.0.1:0", "--redis-lease",
                   str(40 * LEASE_MS))
        b = c.node("b")
        web = port_of(a, "http")
        alice, bob = c.user(a, "alice"), c.user(b, "bob")
        settle(alice, bob)
        before = metrics(web)
        check(raw.subscribers("chat:node:a") == 1, "a is not subscribed")

        text, seq, sent = "x" * 390, 0, 0
        a.proc.send_signal(signal.SIGSTOP)
        try:
            while raw.subscribers("chat:node:a"):
                check(sent < 256 << 20, "Redis did not cut node a's "
                      "subscriber after %d MiB" % (sent >> 20))
                batches = []
                for _ in range(64):  # about 1 MiB
                    batch = []
                    for _ in range(36):
                        seq += 1
                        batch.append(wire("ghost", seq, "direct", "zed", "",
                                          "nobody", text))
                    batches.append(b"\0".join(batch))
                raw.pipeline([("PUBLISH", "chat:node:a", m)
                              for m in batches])
                sent += sum(map(len, batches))
            print("Redis cut node a's subscriber after %.1f MiB" % (
                sent / (1 << 20)))
            check("output buffer limits" in c.redis.log_text(),
                  "Redis did not log the cut: " + c.redis.log_text())
        finally:
            a.proc.send_signal(signal.SIGCONT)

        alice.skip_to(lambda line: line.startswith(UNAVAILABLE), 2 * WAIT)
        alice.skip_to(AVAILABLE, 3 * WAIT)
        settle(alice, bob)
        alice.says("back again", bob)
        bob.says("welcome back", alice)
        bob.send("/msg alice psst")
        alice.skip_to("from bob: psst")
        wait_for_list(bob, "/users", "Users - alice, bob")
        for text in (UNAVAILABLE, AVAILABLE):
            n = sum(line.startswith(text) for line in alice.seen)
            check(n == 1, "alice was told %d times %r" % (n, text))
        check(not any(line.startswith(UNAVAILABLE) for line in bob.seen),
              "bob, on node b, was told: %r" % bob.seen)
        after = metrics(web)
        check(grew(before, after, "chatd_redis_reconnects_total") >= 1,
              "chatd_redis_reconnects_total did not go up")
        check(after.get("chatd_cluster_up") == 1, "node a's link is not up")



# ---- Redis over TLS that asks for a client certificate --------------------------------

def client_cert(certs):
    """A client certificate for "chatd-node" (extendedKeyUsage clientAuth)
    issued by certs' intermediate CA, made with the openssl command in
    certs' directory: (client.pem, the leaf then the intermediate;
    client.key, unencrypted)."""
    pem, key = certs.path("client.pem"), certs.path("client.key")
    csr, crt, ext = (certs.path("client." + e) for e in ("csr", "crt", "ext"))
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\n")
    for cmd in (["genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", key],
                ["req", "-new", "-key", key, "-subj", "/CN=chatd-node",
                 "-out", csr],
                ["x509", "-req", "-in", csr, "-CA", certs.path("inter.pem"),
                 "-CAkey", certs.path("inter.key"), "-CAcreateserial",
                 "-days", "2", "-extfile", ext, "-out", crt]):
        subprocess.run(["openssl"] + cmd, check=True, timeout=WAIT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(pem, "w") as out:
        for part in (crt, certs.path("inter.pem")):
            with open(part) as f:
                out.write(f.read())
    return pem, key


def test_rediss_with_a_client_certificate(prog, chatd):
    """redis-server with TLS only and --tls-auth-clients yes (the test CA
    its --tls-ca-cert-file): nodes a and b, each with --redis-cafile and
    --redis-cert/--redis-key (a client certificate issued by the test
    intermediate CA, sent with its chain), share a line and a name; node
    n, with --redis-cafile but no client certificate, cannot link: its
    users are told other servers are unavailable, its log (-v) says why
    (Redis's TLS 1.3 alert: certificate required) and it serves its own
    users alone. Skips (77) without the openssl command or a redis-server
    built with TLS."""
    import tlstest
    with tlstest.Certs() as certs, Cluster(chatd, redis_up=False) as c:
        ca, mine = certs.path("ca.pem"), client_cert(certs)
        start_tls_redis(c.redis, certs, "yes", mine)
        url = "rediss://127.0.0.1:%d" % c.redis.port
        cert = ("--redis-cert", mine[0], "--redis-key", mine[1])
        a = c.node("a", "--redis-cafile", ca, *cert, url=url)
        b = c.node("b", "--redis-cafile", ca, *cert, url=url)
        # -v: the alert is logged (debug) as the relay reads it; the
        # warning's reason is whichever of the two connections failed last.
        n = c.node("n", "--redis-cafile", ca, "-v", url=url)
        alice, bob = c.user(a, "alice"), c.user(b, "bob")
        linked(alice, bob)

        nina, ned = c.user(n, "nina"), c.user(n, "ned")
        for u in (nina, ned):
            told(u, UNAVAILABLE)
        logged(n, b"tlsv13 alert certificate required")
        nina.says("alone on n", ned)
        wait_for_list(ned, "/users", "Users - " + listed("ned", "nina"))
        nina.rename("bob")  # node n does not know node b's bob
        check(not any("alone on n" in line for line in alice.seen + bob.seen),
              "a line of node n crossed without a client certificate")
        wait_for_list(alice, "/users", "Users - alice, bob")
        check(b"certificate required" not in a.text() + b.text(),
              "node a or b was refused: " + a.log_text() + b.log_text())


def test_rediss_insecure_skips_verification(prog, chatd):
    """The same Redis (TLS only, client certificates required): node i
    with --redis-insecure and no --redis-cafile (the system's CAs do not
    know the test CA) and node a with --redis-cafile, both with the
    client certificate, share a line each way, a direct message and a
    name. Skips (77) without the openssl command or a redis-server built
    with TLS."""
    import tlstest
    with tlstest.Certs() as certs, Cluster(chatd, redis_up=False) as c:
        mine = client_cert(certs)
        start_tls_redis(c.redis, certs, "yes", mine)
        url = "rediss://127.0.0.1:%d" % c.redis.port
        cert = ("--redis-cert", mine[0], "--redis-key", mine[1])
        a = c.node("a", "--redis-cafile", certs.path("ca.pem"), *cert,
                   url=url)
        i = c.node("i", "--redis-insecure", *cert, url=url)
        alice, ivy = c.user(a, "alice"), c.user(i, "ivy")
        settle(alice, ivy)
        ivy.says("unverified but linked", alice)
        alice.says("heard you", ivy)
        alice.send("/msg ivy psst")
        ivy.skip_to("from alice: psst")
        ivy.send("/name alice")
        ivy.skip_to("alice is already taken")
        wait_for_list(alice, "/users", "Users - alice, ivy")
        check(b"certificate verify failed" not in i.text(),
              "node i verified: " + i.log_text())


if __name__ == "__main__":
    e2e.main(globals())
