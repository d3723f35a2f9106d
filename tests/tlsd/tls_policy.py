#!/usr/bin/python3
"""What chatd's tls:// listener agrees to, asked by clients nobody here
wrote and by hand-made hellos: Debian's sslscan over every protocol and
cipher, openssl s_client offering one old protocol or one weak cipher at
a time (its own security level lowered, so that a refusal is chatd's),
renegotiation asked for and refused while TLS 1.3 key updates still work,
and ClientHellos built byte by byte here, offering SSL 3.0, TLS 1.0 and
DEFLATE compression. Each with chatd's ECDSA certificate
(tests/tls/mkcerts.sh) and an RSA one made here, so the RSA suites are
asked about too.

The scan skips (77) without sslscan; the rest needs the openssl command.

usage: tls_policy.py TEST PROGRAM CHATD (tests/e2e.py; PROGRAM unused)
"""
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tlsusers import (WAIT, Certs, SocketUser, check,  # noqa: E402
                      client_context, tls_chatd)
import e2e  # noqa: E402

# What chatd may agree to: TLS 1.3's suites (all AEAD) and, for TLS 1.2,
# ECDHE with AES-GCM or ChaCha20-Poly1305.
TLS13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
         "TLS_CHACHA20_POLY1305_SHA256"}
TLS12 = re.compile(r"ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|"
                   r"CHACHA20-POLY1305)")


def need_openssl():
    if not shutil.which("openssl"):
        raise e2e.Skip("no openssl command")


def with_rsa(certs):
    """rsa.pem/rsa.key beside mkcerts.sh's: an RSA 2048 certificate for
    localhost issued by the test intermediate, the chain after it."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True,
                       capture_output=True, timeout=WAIT, cwd=certs.dir)

    with open(certs.path("rsa.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key",
        "-subj", "/CN=rsa", "-out", "rsa.csr")
    run("x509", "-req", "-in", "rsa.csr", "-CA", "inter.pem", "-CAkey",
        "inter.key", "-CAcreateserial", "-days", "2", "-extfile", "rsa.ext",
        "-out", "rsa.crt")
    with open(certs.path("rsa.pem"), "wb") as out:
        for name in ("rsa.crt", "inter.pem"):
            with open(certs.path(name), "rb") as f:
                out.write(f.read())


def each_chatd(chatd, args, story):
    """story(chatd, certs, key type) against chatd (with args) with the
    ECDSA certificate, then with the RSA one; each is stopped (exit 0)
    after its turn."""
    with Certs() as certs:
        with_rsa(certs)
        for cert, kind in (("server", "ECDSA"), ("rsa", "RSA")):
            d = tls_chatd(chatd, certs, *args, cert=cert)
            try:
                story(d, certs, kind)
            finally:
                d.stop()


def client_offers(suite):
    """Whether this openssl can offer suite at all (3DES, say, may be
    gone): a refusal must be chatd's."""
    return subprocess.run(["openssl", "ciphers", suite + ":@SECLEVEL=0"],
                          capture_output=True).returncode == 0


def s_client(port, *flags, lines=()):
    """openssl s_client with flags, given lines one at a time (it reads a
    command letter only at the start of what one read returns), then the
    end of its input: (status, stdout and stderr together)."""
    p = subprocess.Popen(["openssl", "s_client", "-connect",
                          "127.0.0.1:%d" % port, "-servername", "localhost"] +
                         list(flags), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for line in lines:
            time.sleep(0.3 * e2e.slowdown())
            p.stdin.write(line.encode() + b"\n")
            p.stdin.flush()
        time.sleep(0.3 * e2e.slowdown() if lines else 0)
        out, _ = p.communicate(timeout=WAIT)
    except BrokenPipeError:
        out, _ = p.communicate(timeout=WAIT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, out.decode("utf-8", "replace")


def still_serves(d, certs):
    """A careful TLS user still gets in and is answered."""
    u = SocketUser(d.tls_port, client_context(certs), "tls").greet()
    u.says("still fine")
    u.close()


# ---- sslscan -----------------------------------------------------------------

def scanned(d, kind):
    """sslscan's XML report on chatd's tls:// port."""
    out = subprocess.run(["sslscan", "--no-colour", "--xml=-",
                          "127.0.0.1:%d" % d.tls_port],
                         stdout=subprocess.PIPE, timeout=WAIT * 6,
                         check=True).stdout
    scan = ET.fromstring(out[out.index(b"<?xml"):]).find("ssltest")
    check(scan is not None, "%s: no scan in %r" % (kind, out[-300:]))
    return scan


def test_sslscan_sees_only_tls12_and_tls13_with_aead(prog, chatd):
    """sslscan: SSL 2 and 3, TLS 1.0 and 1.1 disabled; TLS 1.2 and 1.3
    enabled; every cipher accepted is TLS 1.3's or ECDHE with an AEAD, 128
    bits or more; no renegotiation; not vulnerable to heartbleed."""
    if not shutil.which("sslscan"):
        raise e2e.Skip("no sslscan (Debian package sslscan)")
    need_openssl()

    def story(d, certs, kind):
        scan = scanned(d, kind)
        on = {p.get("type") + p.get("version"): p.get("enabled")
              for p in scan.iter("protocol")}
        check(on == {"ssl2": "0", "ssl3": "0", "tls1.0": "0", "tls1.1": "0",
                     "tls1.2": "1", "tls1.3": "1"},
              "%s: protocols %r" % (kind, on))
        seen = {"TLSv1.2": 0, "TLSv1.3": 0}
        for c in scan.iter("cipher"):
            version, name = c.get("sslversion"), c.get("cipher")
            check(version in seen and int(c.get("bits")) >= 128,
                  "%s: %s %s, %s bits" % (kind, version, name, c.get("bits")))
            ok = name in TLS13 if version == "TLSv1.3" else \
                TLS12.fullmatch(name) and kind in name
            check(ok, "%s: a weak or unexpected cipher: %s %s" % (
                kind, version, name))
            seen[version] += 1
        check(all(seen.values()), "%s: ciphers seen %r" % (kind, seen))
        reneg = scan.find("renegotiation")
        check(reneg is not None and reneg.get("supported") == "0",
              "%s: renegotiation %r" % (
                  kind, None if reneg is None else reneg.attrib))
        for h in scan.iter("heartbleed"):
            check(h.get("vulnerable") == "0", "%s: heartbleed" % kind)
        print("%s: %s" % (kind, ", ".join(
            "%s %s" % (c.get("sslversion"), c.get("cipher"))
            for c in scan.iter("cipher"))))
    each_chatd(chatd, (), story)


# ---- s_client, one offer at a time -------------------------------------------

def test_old_protocols_refused(prog, chatd):
    """s_client offering only TLS 1.0 or only TLS 1.1 (at security level 0,
    so the client itself would agree) is answered with a protocol_version
    alert and nothing else: no certificate, no chat line. chatd says why
    at verbose level and serves a TLS 1.2 user afterwards."""
    need_openssl()

    def story(d, certs, kind):
        for flag in ("-tls1", "-tls1_1"):
            rc, out = s_client(d.tls_port, flag,
                               "-cipher", "DEFAULT:@SECLEVEL=0")
            check(rc != 0 and "alert protocol version" in out and
                  "no peer certificate available" in out and
                  "Server commands" not in out,
                  "%s %s: %d %s" % (kind, flag, rc, out))
        check(d.text().count(b"the client offers only TLS 1.1 or older")
              == 2, "%s: not logged: %s" % (kind, d.log_text()))
        rc, out = s_client(d.tls_port, "-tls1_2", "-quiet", lines=["/quit"])
        check(rc == 0 and "Bye!" in out, "%s TLS 1.2: %s" % (kind, out))
    each_chatd(chatd, ("-v",), story)


def test_tls12_negotiates_ecdhe_with_aead(prog, chatd):
    """s_client with TLS 1.2 and its default offer gets ECDHE with an
    AEAD cipher and no compression; offering one weak suite at a time (RSA
    key exchange, CBC, finite-field DHE, 3DES where this openssl still has
    it, no encryption at all, and TLS 1.3's CCM_8 with its short tag) gets
    a handshake_failure alert from chatd."""
    need_openssl()
    weak = [s for s in ("AES128-SHA", "AES256-GCM-SHA384",
                        "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                        "DHE-RSA-AES128-GCM-SHA256", "DES-CBC3-SHA",
                        "NULL-SHA256", "ECDHE-ECDSA-NULL-SHA")
            if client_offers(s)]
    check(len(weak) >= 6, "this openssl offers too few weak suites: %r" %
          weak)

    def story(d, certs, kind):
        rc, out = s_client(d.tls_port, "-tls1_2")
        m = re.search(r"Cipher is (\S+)", out)
        check(m and TLS12.fullmatch(m.group(1)) and kind in m.group(1),
              "%s: TLS 1.2 cipher %s" % (kind, m and m.group(1)))
        check("Compression: NONE" in out, "%s: compression" % kind)
        for suite in weak:
            rc, out = s_client(d.tls_port, "-tls1_2", "-cipher",
                               suite + ":@SECLEVEL=0")
            check(rc != 0 and "alert handshake failure" in out and
                  "Server commands" not in out,
                  "%s: %s was not refused: %s" % (kind, suite, out))
        rc, out = s_client(d.tls_port, "-tls1_3", "-ciphersuites",
                           "TLS_AES_128_CCM_8_SHA256")
        check(rc != 0 and "alert handshake failure" in out,
              "%s: TLS 1.3 CCM_8 was not refused: %s" % (kind, out))
        still_serves(d, certs)
    each_chatd(chatd, (), story)


def test_renegotiation_refused_key_update_works(prog, chatd):
    """Over TLS 1.2, s_client's R (a client-started renegotiation: a free
    handshake's worth of CPU for the client to ask for) is refused with a
    no_renegotiation alert after a line went through. Over TLS 1.3, K (a
    key update asking chatd to update its keys too) is answered, and lines
    go on both ways under the new keys."""
    need_openssl()

    def story(d, certs, kind):
        rc, out = s_client(d.tls_port, "-tls1_2",
                           lines=["before", "R", "after"])
        check("RENEGOTIATING" in out and "no renegotiation" in out and
              re.search(r": before\n", out) and
              not re.search(r": after\n", out),
              "%s: renegotiation: %s" % (kind, out))
        still_serves(d, certs)
        rc, out = s_client(d.tls_port, "-tls1_3", lines=["one", "K", "two"])
        check(rc == 0 and "KEYUPDATE" in out and
              re.search(r": one\n(.*\n)*.*: two\n", out) and
              not re.search(r": K\n", out),
              "%s: key update: %s" % (kind, out))
    each_chatd(chatd, (), story)


# ---- hellos made by hand -----------------------------------------------------

def client_hello(version=0x0303, compression=(0,),
                 suites=(0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8)):
    """A ClientHello record offering version (0x0300 SSL 3.0, 0x0301 TLS
    1.0, 0x0303 TLS 1.2), these compression methods (0 none, 1 DEFLATE)
    and cipher suites (ECDHE with AES-GCM and ChaCha20 for ECDSA and RSA),
    with the extensions a TLS 1.2 handshake with them needs."""
    def ext(kind, data):
        return struct.pack(">HH", kind, len(data)) + data

    def vec16(data):
        return struct.pack(">H", len(data)) + data

    name = b"localhost"
    exts = (ext(0, vec16(b"\x00" + vec16(name))) +               # SNI
            ext(10, vec16(struct.pack(">HHH", 0x1d, 0x17, 0x18))) +  # groups
            ext(11, b"\x01\x00") +                 # points: uncompressed
            ext(13, vec16(struct.pack(">HHHH", 0x0403, 0x0804, 0x0401,
                                      0x0503))) +  # signature algorithms
            ext(0xff01, b"\x00"))                  # renegotiation_info
    body = (struct.pack(">H", version) + os.urandom(32) + b"\x00" +
            vec16(b"".join(struct.pack(">H", s) for s in suites)) +
            bytes([len(compression)]) + bytes(compression) + vec16(exts))
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16" + struct.pack(">H", min(version, 0x0301)) + vec16(hs)


def answer(port, hello):
    """What chatd answers hello with: ("hello", version, suite,
    compression) for a ServerHello, ("alert", description), or
    ("closed",)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(hello)
        data = b""
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5],
                                                              "big"):
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return ("closed",)
            data += chunk
    kind, body = data[0], data[5:]
    if kind == 0x15:
        return ("alert", body[1])
    check(kind == 0x16 and body[0] == 2, "not a ServerHello: %r" % data[:16])
    sid = body[38]
    at = 39 + sid
    return ("hello", int.from_bytes(body[4:6], "big"),
            int.from_bytes(body[at:at + 2], "big"), body[at + 2])


def test_handmade_hellos(prog, chatd):
    """A TLS 1.2 hello offering DEFLATE before no compression gets a
    ServerHello choosing no compression (CRIME); one offering DEFLATE only
    is refused. SSL 3.0 hellos are refused with an alert, TLS 1.0 and 1.1
    ones with a protocol_version alert (70). Control: the same
    hello without DEFLATE gets TLS 1.2 and ECDHE with AES-GCM or
    ChaCha20."""
    need_openssl()

    def story(d, certs, kind):
        got = answer(d.tls_port, client_hello())
        check(got[0] == "hello" and got[1] == 0x0303 and
              got[2] in (0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9,
                         0xCCA8) and got[3] == 0,
              "%s: a plain TLS 1.2 hello: %r" % (kind, got))
        got = answer(d.tls_port, client_hello(compression=(1, 0)))
        check(got[0] == "hello" and got[3] == 0,
              "%s: DEFLATE offered: %r" % (kind, got))
        got = answer(d.tls_port, client_hello(compression=(1,)))
        check(got[0] in ("alert", "closed"),
              "%s: DEFLATE only: %r" % (kind, got))
        got = answer(d.tls_port, client_hello(version=0x0300))
        check(got[0] == "alert", "%s: SSL 3.0: %r" % (kind, got))
        for version in (0x0301, 0x0302):
            got = answer(d.tls_port, client_hello(version=version))
            check(got == ("alert", 70), "%s: version %#06x: %r" % (
                kind, version, got))
        still_serves(d, certs)
    each_chatd(chatd, (), story)


if __name__ == "__main__":
    e2e.main(globals())
