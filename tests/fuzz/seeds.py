#!/usr/bin/env python3
"""Write the named seed files of the fuzz corpora (tests/fuzz/corpus_*/).

Seeds are small scripts that reach each part of the protocol, so the
fuzzer starts from inputs that already get deep instead of guessing its
way past the command parser. Run it after changing a target's input
format; it rewrites only the files it names (seed1, seed2 and whatever
the fuzzer was given by hand stay).

    python3 tests/fuzz/seeds.py
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- fuzz_broker: see the comment at the top of fuzz_broker.c -----------
JOIN, RELEASE, FEED, EOF, TIME, DRAIN, SPECIAL = 0, 1, 2, 4, 5, 6, 7
FEED_MAX = 47  # a feed op carries at most 47 bytes (take() % 48)


def options(high_water=255, history=3, rate=0, login=0, max_peers=0):
    """The 5 option bytes. high_water byte b means 64 + 4*b bytes."""
    return bytes([high_water, history, rate, login, max_peers])


def join(i, dialect=0, lines=False):
    """dialect: 0 chat, 1 a-chat, 2 telex; lines: fed with feed_line."""
    return bytes([JOIN | dialect << 3 | (0x80 if lines else 0), i])


def feed_piece(i, data, more=False):
    """One piece of a line for a line peer (at most FEED_MAX bytes)."""
    if isinstance(data, str):
        data = data.encode()
    assert len(data) <= FEED_MAX
    return bytes([FEED, i, len(data) | (0x80 if more else 0)]) + data


def remote(msg):
    """A message from another node (at most 127 bytes)."""
    if isinstance(msg, str):
        msg = msg.encode()
    assert len(msg) < 128
    return bytes([SPECIAL, 0, 0xE0, len(msg)]) + msg


def answer(verdict=0):
    """Answer the oldest waiting message: 0 allow, 1 drop, 2 rewrite."""
    return bytes([SPECIAL, 0, 0xF0 + verdict])


def release(i):
    return bytes([RELEASE, i])


def feed(i, data):
    """Feed ops for data, split into chunks a feed op can carry."""
    if isinstance(data, str):
        data = data.encode()
    out = b""
    for k in range(0, len(data), FEED_MAX):
        chunk = data[k:k + FEED_MAX]
        out += bytes([FEED, i, len(chunk)]) + chunk
    return out


def eof(i):
    return bytes([EOF, i])


def advance(units):
    """Advance the clock by units * 50 ms (units < 256) and tick."""
    return bytes([TIME, 0, units])


def drain(partial=0):
    return bytes([DRAIN, 0, partial])


def shutdown():
    return bytes([SPECIAL, 0, 0xAA])


def toggle_filter():
    return bytes([SPECIAL, 0, 0x5A])


def peers(*ids):
    return b"".join(join(i) for i in ids)


BROKER = {
    # Every command, with and without arguments, and their errors.
    "cmd-help-name-nick": options() + peers(0, 1) + drain()
    + feed(0, "/help\n/name alice\n/nick Alice\n/NAME bob\n") + drain()
    + feed(1, "/name ALICE\n/name x\n/name way_too_long_name_for_a_user\n")
    + feed(1, "/name\n/nick bad!name\n") + drain(),
    "cmd-join-rooms-users": options() + peers(0, 1, 2) + drain()
    + feed(0, "/join pizza\n/join Pizza\n/join p\n/join\n") + drain()
    + feed(1, "/join PIZZA\n/rooms\n/users\n") + feed(2, "/join ab\n/rooms\n")
    + drain(1) + feed(0, "/join main\n/rooms\n/users\n") + drain(),
    "cmd-msg-me-quit": options() + peers(0, 1, 2) + drain()
    + feed(0, "/name al\n") + feed(1, "/name bo\n")
    + feed(0, "/msg bo,nobody,BO hi there\n/msg bo\n/msg\n")
    + feed(1, "/me waves\n/me\n/MSG al back at you\n") + drain()
    + feed(2, "/quit\nignored after quit\n") + drain() + release(2) + drain(),
    "cmd-unknown": options() + join(0)
    + feed(0, "/dance\n/\n//\n/help me\n/ROOMS extra args\n/users\t\n") + drain(),
    # Chat with history, then a newcomer receives it.
    "chat-history": options(history=3) + peers(0, 1)
    + feed(0, "one\ntwo\n/me three\nfour\n") + drain()
    + feed(1, "/join other\nfive\n/join main\n") + join(2) + drain(),
    # Login mode: bad names, a taken name, then good ones.
    "login": options(login=1) + peers(0, 1) + drain()
    + feed(0, "x\nbad name\n/help\nalice\n") + feed(1, "ALICE\nbob\nhi\n")
    + drain() + feed(0, "hello bob\n") + drain(),
    "login-timeout": options(login=1) + peers(0, 1) + feed(1, "carol\n")
    + advance(255) + advance(255) + advance(255) + drain(),
    # Telnet: negotiation, subnegotiation split across feeds, IAC IAC,
    # then an interrupt (IAC IP) that ends the session like /quit.
    "telnet": options() + peers(0, 1)
    + feed(0, b"\xff\xfb\x01\xff\xfd\x03hel\xff\xfa\x18\x01")
    + feed(0, b"xterm\xff\xff\xff\xf0lo\r\n\xff\xf1ok\n") + drain()
    + feed(1, b"bye\xff") + feed(1, b"\xf4") + drain(),
    "telnet-brk-abort": options() + peers(0, 1, 2)
    + feed(0, b"\xff\xf3") + feed(1, b"x\xff\xee\n") + feed(2, b"\x04\n")
    + drain(),
    # Framing edges: a line over 400 bytes in pieces, exactly 400, CRLF,
    # a bare CR, invalid UTF-8, control characters and escapes.
    "long-lines": options() + peers(0, 1)
    + feed(0, "a" * 401 + "\n") + feed(0, "b" * 400 + "\r\n")
    + feed(0, "c" * 399 + "\r\r\n") + feed(0, "d" * 900) + feed(0, "\nshort\n")
    + drain(),
    "escapes-utf8": options() + peers(0, 1)
    + feed(0, b"\x1b[2J\x1b]0;pwned\x07hi\x7f\n") + feed(0, b"\xc2\x9b31m red\n")
    + feed(0, b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n")
    + feed(0, b"\xc0\xaf\n\xed\xa0\x80\n\xf4\x90\x80\x80\n\xff\n")
    + feed(0, b"\t  \x00\x01  \t\n   \n\n") + drain(),
    # Many peers: churn, names squatted by case, EOF mid-line, release
    # with output pending, partial drains.
    "multi-peer": options() + peers(0, 1, 2, 3, 4, 5, 6, 7)
    + feed(0, "/name Zed\n") + feed(1, "/name zED\n") + feed(2, "/join r2\n")
    + feed(3, "/join R2\nhi r2\n") + drain(2) + feed(4, "partial line")
    + eof(4) + release(5) + join(5) + drain(1) + feed(6, "/quit\n")
    + release(6) + feed(7, "/msg zed,ZED psst\n") + drain() + release(0)
    + join(0) + drain(),
    # A slow reader: a small high-water mark (224 bytes, the greeting fits
    # in 4x), one peer never drained while another floods; then it drains
    # and gets the "dropped" notice; then it asks for more than 4x.
    "slow-reader": options(high_water=40, history=0) + peers(0, 1) + drain()
    + b"".join(feed(0, "flood line %02d\n" % k) for k in range(30))
    + drain(1) + drain() + feed(1, "/rooms\n" * 6) + drain(),
    # Rate limit on, a burst over it, time passes, allowed again.
    "rate-limit": options(rate=2) + join(0)
    + feed(0, "m\n" * 60) + drain() + advance(40) + feed(0, "again\n") + drain(),
    # Idle timeout (5 s in the target): output drained, no input for 7 s.
    "idle-timeout": options() + peers(0, 1) + drain() + feed(0, "x\n")
    + drain() + advance(70) + feed(1, "still here\n") + drain() + advance(70)
    + drain(),
    # Write timeout (3 s): output that never moves, a partial write.
    "write-timeout": options() + peers(0, 1) + drain() + feed(0, "/help\n" * 7)
    + advance(30) + drain(1) + advance(65) + drain(),
    "server-full": options(max_peers=2) + peers(0, 1, 2, 3) + drain()
    + release(3) + join(3) + drain(),
    # Shutdown with pending output, then input after it.
    "shutdown": options() + peers(0, 1) + feed(0, "last words\n") + shutdown()
    + feed(1, "too late\n") + drain() + eof(0) + drain(),
    # The misbehaving filter on and off, over chat, /me and /msg.
    "filters": options() + peers(0, 1) + feed(1, "/name bob\n") + toggle_filter()
    + feed(0, "abc\n" "bcd\n" "cde\n" "def\n" "efg\n" "fgh\n" "ghi\n")
    + feed(0, "/me a\n/me b\n/msg bob c\n/msg bob d\n") + drain()
    + toggle_filter() + feed(0, "plain\n") + drain(),
    # A chat, an a-chat and a telex user in one room: chat, /me, direct
    # messages both ways, a rename, a late joiner replaying history.
    "dialects": options() + join(0) + join(1, dialect=1) + join(2, dialect=2)
    + feed(1, "ann\n") + feed(2, "tom\n")
    + feed(0, "hi all\n/me waves\n/msg ann psst\n")
    + feed(1, "tom, nobody: hey\nno colon\n") + feed(2, "<hi>\n/nick tim\n")
    + drain() + join(3, dialect=2) + feed(3, "tex\n") + drain(),
    # A line peer: a name, a line in pieces, a line too long in pieces.
    "line-peers": options() + join(0) + join(1, lines=True)
    + feed_piece(1, "/name web") + feed_piece(1, "frag", more=True)
    + feed_piece(1, "mented") + feed_piece(1, "x" * 40, more=True) * 12
    + feed_piece(1, "") + drain(),
    # Other nodes: a user joins, chats, renames, gets a direct message,
    # a duplicate, junk, and its node dies.
    "cluster": options() + peers(0, 1) + feed(0, "/name alice\n") + drain()
    + remote("c1 n1 1 joined\nbob\nmain\n\n")
    + remote("c1 n1 2 chat\nbob\nmain\n\nhi alice")
    + remote("c1 n1 2 chat\nbob\nmain\n\nhi alice")
    + remote("c1 n1 3 renamed\nrob\nmain\nbob\n")
    + feed(0, "/users\n/rooms\n/msg rob psst\nhello\n")
    + remote("c1 n1 4 direct\nrob\n\nalice\nback")
    + remote("c1 n1 5 chat\nrob\nmain\n\n\x1b[2J") + remote("junk")
    + remote("c1 n2 1 node-gone\n\n\nn1\n") + drain(),
    # The filter answers later ('n' waits): held lines, each verdict, a
    # late answer, input ending while a message waits, a sender leaving.
    "waiting": options() + peers(0, 1) + toggle_filter()
    + feed(0, "now\nnext\n/me then\n") + feed(1, "fine\n") + answer(0)
    + answer(2) + feed(0, "nope\n") + answer(1) + feed(0, "nil\n")
    + advance(50) + drain() + feed(0, "no\nbye\n") + eof(0) + answer(0)
    + drain() + feed(1, "nobody hears\n") + release(1) + answer(0) + drain(),
}

# ---- fuzz_framer: byte 0 bit 0 = telnet, byte 1 % 7 + 1 = chunk size;
# the framer's line limit there is 40 bytes. ------------------------------


def framer(telnet, chunk, data):
    return bytes([1 if telnet else 0, chunk - 1]) + data


FRAMER = {
    "crlf-lines": framer(False, 3, b"a\r\nbb\n\r\n\n\rc\r\r\nlast"),
    "limit": framer(False, 7, b"x" * 40 + b"\n" + b"y" * 41 + b"\n"
                    + b"z" * 40 + b"\r\n" + b"w" * 41 + b"\r\n" + b"v" * 200),
    "telnet-options": framer(True, 2, b"\xff\xfb\x01\xff\xfd\x03\xff\xfc\x22"
                             b"ab\xff\xfe\x05cd\n"),
    "telnet-subneg": framer(True, 5, b"\xff\xfa\x18\x00xterm\xff\xff\n"
                            b"\xff\xf0after\n\xff\xfa\x1f\x00\x50"),
    "telnet-iac-iac": framer(True, 1, b"a\xff\xffb\n\xff\xf1\xff\xf2c\n"),
    "telnet-interrupts": framer(True, 4, b"one\n\xff\xf4two\n\xff\xf3\xff\xee"),
    "telnet-long": framer(True, 6, b"q" * 30 + b"\xff\xfb\x01" + b"r" * 20
                          + b"\n"),
    "telnet-off": framer(False, 2, b"\xff\xfb\x01raw\xff\n\xff\xf4x\n"),
    "binary": framer(True, 3, bytes(range(256)) + b"\n"),
}


def write(corpus, seeds):
    folder = os.path.join(HERE, corpus)
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def main():
    write("corpus_broker", BROKER)
    write("corpus_framer", FRAMER)
    return 0


if __name__ == "__main__":
    sys.exit(main())
