#!/usr/bin/env python3
"""Write the seed files of corpus_ws/ and corpus_http/, the fuzz corpora of
chatd's codecs (server/ws.c, server/http.c): see fuzz_ws.c and
fuzz_http.c for the input formats. Kept apart from seeds.py, which writes
libchat's corpora; run it after changing either target's input format.
It rewrites only the files it names.

    python3 tests/fuzz/seeds_codec.py
"""
import sys

from seeds import write

# ---- fuzz_ws: [read-split seed, message cap, client stream...] ----------
TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0
FIN = 0x80


def frame(b0, payload=b"", key=b"\0\0\0\0", masked=True):
    """A client frame. The zero key leaves the payload readable."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    body = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return head + key + body


def ws(seed, cap, *frames):
    return bytes([seed, cap]) + b"".join(frames)


KOSME = "κόσμε".encode()

WS = {
    "text": ws(1, 0, frame(FIN | TEXT, "hello world")),
    "text-keyed": ws(3, 0, frame(FIN | TEXT, "hello world", b"\x37\xfa\x21\x3d")),
    "text-126": ws(5, 0, frame(FIN | TEXT, "x" * 126)),
    "text-300": ws(7, 0, frame(FIN | TEXT, "y" * 300)),
    "fragments-ping": ws(9, 0, frame(TEXT, "frag1"), frame(FIN | PING, "p"),
                         frame(CONT, "frag2"), frame(FIN | CONT, "frag3")),
    "utf8": ws(11, 0, frame(FIN | TEXT, KOSME + "€𤭢 ok".encode())),
    "utf8-split": ws(13, 0, frame(TEXT, KOSME[:3]), frame(FIN | PONG),
                     frame(FIN | CONT, KOSME[3:])),
    "utf8-bad": ws(15, 0, frame(FIN | TEXT, KOSME + b"\xed\xa0\x80edited")),
    "utf8-truncated": ws(17, 0, frame(FIN | TEXT, b"ab\xe2\x82")),
    "close": ws(19, 0, frame(FIN | TEXT, "bye"),
                frame(FIN | CLOSE, b"\x03\xe8" + b"going away"),
                frame(FIN | PING, "after")),
    "close-empty": ws(21, 0, frame(FIN | CLOSE)),
    "close-bad": ws(23, 0, frame(FIN | CLOSE, b"\x03\xed")),
    "pings": ws(25, 0, *[frame(FIN | PING, "ping %d" % i) for i in range(5)]),
    "ping-125": ws(27, 0, frame(FIN | PING, "z" * 125)),
    "capped": ws(29, 10, frame(TEXT, "01234"), frame(FIN | CONT, "56789ab")),
    "binary": ws(31, 0, frame(FIN | BINARY, b"\x00\x01")),
    "rsv": ws(33, 0, frame(FIN | 0x40 | TEXT, "rsv")),
    "opcode-3": ws(35, 0, frame(FIN | 3, "x")),
    "unmasked": ws(37, 0, frame(FIN | TEXT, "plain", masked=False)),
    "len64": ws(39, 0, bytes([FIN | TEXT, 0xFF]) + b"\x80" + b"\0" * 7
                + b"\0\0\0\0"),
    "continuation-first": ws(41, 0, frame(FIN | CONT, "orphan")),
}

# ---- fuzz_http: [read-split seed, head bound, request bytes...] ---------


def http(seed, bound, text):
    return bytes([seed, bound]) + text.encode("latin-1")


UPGRADE = ("GET /ws?room=main HTTP/1.1\r\n"
           "Host: 127.0.0.1:8080\r\n"
           "Upgrade: websocket\r\n"
           "Connection: keep-alive, Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "Origin: http://127.0.0.1:8080\r\n"
           "\r\n")

HTTP = {
    "upgrade": http(1, 0, UPGRADE),
    "upgrade-frames": http(3, 0, UPGRADE + "\x81\x85\0\0\0\0hello"),
    "upgrade-v8": http(5, 0, UPGRADE.replace("Version: 13", "Version: 8")),
    "page": http(7, 0, "GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n"
                 "User-Agent: Mozilla/5.0\r\nAccept-Language: en\r\n\r\n"),
    "metrics": http(9, 0, "GET /metrics HTTP/1.0\nAccept: */*\n\n"),
    "pipelined": http(11, 0, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"),
    "absolute": http(13, 0, "GET http://Example.org:80/ws?x=1 HTTP/1.1\r\n"
                     "Host: example.org\r\n\r\n"),
    "post-body": http(15, 0, "POST /ws HTTP/1.1\r\nHost: a\r\n"
                      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"
                      "\r\nhello"),
    "lists": http(17, 0, "GET / HTTP/1.1\r\nHost: a\r\nConnection: a\r\n"
                  "Connection: b, close\r\nUpgrade: h2c\r\nUpgrade: websocket"
                  "\r\n\r\n"),
    "bound": http(19, 20, "GET / HTTP/1.1\r\nHost: a\r\nX: " + "y" * 120
                  + "\r\n\r\n"),
    "fold": http(21, 0, "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"),
    "bad-version": http(23, 0, "GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
    "empty-lines": http(25, 0, "\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
}


def main():
    write("corpus_ws", WS)
    write("corpus_http", HTTP)
    return 0


if __name__ == "__main__":
    sys.exit(main())
