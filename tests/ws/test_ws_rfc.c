/*
 * RFC 6455 over a real socket: chatd's /ws against a client written by
 * hand (wsclient.c), which sends frames exactly as each case builds them
 * (masked or not, reserved bits, any opcode, fragments, cut anywhere) and
 * checks every frame chatd sends back. Each rule ends in the close code
 * the RFC gives it (section 7.4.1), and where a user fails the room must
 * be told they left, with nothing of the bad message relayed: a telnet
 * user (a plain TCP socket on chatd's TCP listener) is the witness.
 *
 * The frame codec itself is unit-tested without sockets in
 * tests/server/test_ws.c (Autobahn's categories 1-7); these cases check
 * what chatd does with it on the wire: the close frame actually sent, the
 * pong actually written, the line actually relayed, the connection
 * actually closed.
 *
 * Every case skips (77) where chatd has no http:// listener.
 * Run one case: CK_RUN_CASE=unmasked_frame_1002 ./test_ws_rfc.
 */
#define _GNU_SOURCE

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wsclient.h"

/* ---- helpers ------------------------------------------------------------- */

/* A telnet user in main, then a WebSocket user: the telnet user has read
 * that the WebSocket user joined. */
static void witness_and_ws(client **tcp, client **ws)
{
    *tcp = tcp_join();
    *ws = ws_join();
    EXPECT(*tcp, "%s joined main", (*ws)->name);
}

/* The WebSocket user ws failed with code: chatd's close frame carries it,
 * the connection ends, and the witness hears only that ws left (nothing
 * of what ws sent). */
static void failed_with(client *tcp, client *ws, unsigned code)
{
    WS_EXPECT_CLOSE(ws, code, 0);
    EXPECT(tcp, "%s left main", ws->name);
}

/* A fresh WebSocket user (after its greeting) sends frame bytes raw; chatd
 * must close with code. For rules checked over several variants. */
static void raw_closes_with(const unsigned char *frame, size_t len,
                            unsigned code, const char *what)
{
    client *ws = ws_join();
    const char *got;
    char want[32];

    CHECK(client_send_bytes(ws, frame, len) == 0, "%s: send failed", what);
    snprintf(want, sizeof want, "<close %u>", code);
    got = ws_next(ws);
    CHECK(strcmp(got, want) == 0, "%s: expected %s, got '%s'", what, want,
          got);
    CHECK(client_wait_eof(ws, DEFAULT_WAIT_MS) == 0,
          "%s: the connection stayed open after the close frame", what);
    drop(ws);
}

/* One frame with b0 and payload, masked, on a fresh user: closes with
 * code. */
static void frame_closes_with(unsigned b0, const void *payload, size_t len,
                              unsigned code, const char *what)
{
    unsigned char buf[512];
    size_t n = ws_build_frame(buf, sizeof buf, b0, payload, len, 1);

    raw_closes_with(buf, n, code, what);
}

/* The user can still chat: says text and hears it back. */
static void ws_says(client *ws, const char *text, client *tcp)
{
    ws_send(ws, "%s", text);
    WS_EXPECT(ws, "%s: %s", ws->name, text);
    if (tcp)
        EXPECT(tcp, "%s: %s", ws->name, text);
}

/* ---- section 5.1: masking ------------------------------------------------ */

/* A client frame without a mask fails the connection with 1002; the text
 * in it is not relayed. */
CHAT_CASE_IF(unmasked_frame_1002, chatd_has_http)
{
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    CHECK(ws_send_frame(ws, WS_FIN | WS_TEXT, "hello", 5, 0) == 0, "send");
    failed_with(tcp, ws, 1002);
    /* The witness is fine and heard nothing else. */
    send_line(tcp, "/users");
    EXPECT(tcp, "Users - %s", tcp->name);
}
END_TEST

/* ---- section 5.2: reserved bits and opcodes ------------------------------ */

/* RSV1, RSV2 and RSV3 mean an extension chatd never agreed to: 1002, on a
 * text frame and on a ping alike. */
CHAT_CASE_IF(reserved_bits_1002, chatd_has_http)
{
    static const unsigned bits[] = {WS_RSV1, WS_RSV2, WS_RSV3,
                                    WS_RSV1 | WS_RSV2 | WS_RSV3};
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    CHECK(ws_send_frame(ws, WS_FIN | WS_RSV1 | WS_TEXT, "hi", 2, 1) == 0,
          "send");
    failed_with(tcp, ws, 1002);
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "text with RSV bits 0x%02x", bits[i]);
        frame_closes_with(WS_FIN | bits[i] | WS_TEXT, "hi", 2, 1002, what);
        snprintf(what, sizeof what, "ping with RSV bits 0x%02x", bits[i]);
        frame_closes_with(WS_FIN | bits[i] | WS_PING, "p", 1, 1002, what);
    }
}
END_TEST

/* Opcodes 3-7 (data) and 0xB-0xF (control) are reserved: 1002. */
CHAT_CASE_IF(unknown_opcode_1002, chatd_has_http)
{
    static const unsigned ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    CHECK(ws_send_frame(ws, WS_FIN | 3, "hi", 2, 1) == 0, "send");
    failed_with(tcp, ws, 1002);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "opcode 0x%X", ops[i]);
        frame_closes_with(WS_FIN | ops[i], "", 0, 1002, what);
    }
}
END_TEST

/* A binary message is data chatd cannot take: 1003 (Unsupported Data),
 * whole or fragmented. */
CHAT_CASE_IF(binary_frame_1003, chatd_has_http)
{
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    CHECK(ws_send_frame(ws, WS_FIN | WS_BINARY, "\x01\x02\x03", 3, 1) == 0,
          "send");
    failed_with(tcp, ws, 1003);
    frame_closes_with(WS_BINARY, "ab", 2, 1003, "a first binary fragment");
    frame_closes_with(WS_FIN | WS_BINARY, "", 0, 1003, "an empty binary");
}
END_TEST

/* ---- section 8.1: UTF-8 -------------------------------------------------- */

/* Text that is not UTF-8 fails the connection with 1007 (the RFC's rule,
 * where TCP answers "Messages must be valid UTF-8" and stays): the room
 * is told the user left, and no byte of the message is relayed. */
CHAT_CASE_IF(invalid_utf8_1007, chatd_has_http)
{
    static const char *const bad[] = {
        "\xc3\x28",             /* a lead byte, then no continuation */
        "abc\xff",              /* never valid */
        "\xed\xa0\x80",         /* a UTF-16 surrogate */
        "\xc0\xaf",             /* overlong */
        "\xf4\x90\x80\x80",     /* past U+10FFFF */
        "ok then \xe2\x82",     /* cut off at the message's end */
    };
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    ws_send(ws, "good \xc3\xa9t\xc3\xa9 first"); /* valid: relayed */
    WS_EXPECT(ws, "%s: good \xc3\xa9t\xc3\xa9 first", ws->name);
    EXPECT(tcp, "%s: good \xc3\xa9t\xc3\xa9 first", ws->name);
    CHECK(ws_send_frame(ws, WS_FIN | WS_TEXT, "hello \xc3\x28", 8, 1) == 0,
          "send");
    failed_with(tcp, ws, 1007);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "invalid UTF-8 #%zu", i);
        frame_closes_with(WS_FIN | WS_TEXT, bad[i], strlen(bad[i]), 1007,
                          what);
    }
}
END_TEST

/* The bad byte in a later fragment: 1007 all the same, and the fragments
 * before it (valid) are not relayed as a line. */
CHAT_CASE_IF(invalid_utf8_in_fragment_1007, chatd_has_http)
{
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    CHECK(ws_send_frame(ws, WS_TEXT, "all fine ", 9, 1) == 0, "send");
    CHECK(ws_send_frame(ws, WS_CONT, "so far \xe2", 9, 1) == 0, "send");
    CHECK(ws_send_frame(ws, WS_FIN | WS_CONT, "\x28!", 2, 1) == 0, "send");
    failed_with(tcp, ws, 1007);
}
END_TEST

/* A character split between fragments is still one valid character. */
CHAT_CASE_IF(utf8_split_across_fragments, chatd_has_http)
{
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    CHECK(ws_send_frame(ws, WS_TEXT, "caf\xc3", 4, 1) == 0, "send");
    CHECK(ws_send_frame(ws, WS_CONT, "\xa9 \xf0\x9f", 4, 1) == 0, "send");
    CHECK(ws_send_frame(ws, WS_FIN | WS_CONT, "\x8d\x95", 2, 1) == 0, "send");
    WS_EXPECT(ws, "%s: caf\xc3\xa9 \xf0\x9f\x8d\x95", ws->name);
    EXPECT(tcp, "%s: caf\xc3\xa9 \xf0\x9f\x8d\x95", ws->name);
}
END_TEST

/* ---- section 5.4: fragmentation ----------------------------------------- */

/* Three fragments are one line; a ping between them is answered at once,
 * while the message is still open (RFC 6455 5.4: control frames may be
 * injected in the middle of a fragmented message). */
CHAT_CASE_IF(fragments_make_one_line, chatd_has_http)
{
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    CHECK(ws_send_frame(ws, WS_TEXT, "one, ", 5, 1) == 0, "send");
    CHECK(ws_send_frame(ws, WS_FIN | WS_PING, "between", 7, 1) == 0, "send");
    WS_EXPECT(ws, "<pong between>");
    CHECK(ws_send_frame(ws, WS_CONT, "two, ", 5, 1) == 0, "send");
    CHECK(ws_send_frame(ws, WS_FIN | WS_CONT, "three", 5, 1) == 0, "send");
    WS_EXPECT(ws, "%s: one, two, three", ws->name);
    EXPECT(tcp, "%s: one, two, three", ws->name);
    /* A command can be fragmented too. */
    CHECK(ws_send_frame(ws, WS_TEXT, "/na", 3, 1) == 0, "send");
    CHECK(ws_send_frame(ws, WS_FIN | WS_CONT, "me Fragmented", 13, 1) == 0,
          "send");
    WS_EXPECT(ws, "%s is now Fragmented", ws->name);
    EXPECT(tcp, "%s is now Fragmented", ws->name);
}
END_TEST

/* Fragmentation rules: a continuation with no message open, a new text
 * frame while one is open, a fragmented control frame: each 1002. */
CHAT_CASE_IF(fragmentation_errors_1002, chatd_has_http)
{
    unsigned char buf[256];
    size_t n;

    start_http(NULL);
    frame_closes_with(WS_FIN | WS_CONT, "orphan", 6, 1002,
                      "a continuation with no message open");
    frame_closes_with(WS_CONT, "orphan", 6, 1002,
                      "a non-final continuation with no message open");
    n = ws_build_frame(buf, sizeof buf, WS_TEXT, "first ", 6, 1);
    n += ws_build_frame(buf + n, sizeof buf - n, WS_FIN | WS_TEXT, "again", 5,
                        1);
    raw_closes_with(buf, n, 1002, "a text frame inside a fragmented message");
    frame_closes_with(WS_PING, "half", 4, 1002, "a fragmented ping");
    frame_closes_with(WS_CLOSE, "\x03\xe8", 2, 1002, "a fragmented close");
}
END_TEST

/* ---- section 5.5: control frames ----------------------------------------- */

/* A ping gets a pong with the same payload (empty, or the largest, 125
 * bytes), an unsolicited pong gets nothing, and a control frame over 125
 * bytes fails with 1002. */
CHAT_CASE_IF(ping_pong, chatd_has_http)
{
    char big[126];
    client *tcp, *ws;

    memset(big, 'p', sizeof big);
    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    CHECK(ws_send_frame(ws, WS_FIN | WS_PING, "", 0, 1) == 0, "send");
    WS_EXPECT(ws, "<pong >");
    CHECK(ws_send_frame(ws, WS_FIN | WS_PING, big, 125, 1) == 0, "send");
    WS_EXPECT(ws, "<pong %.125s>", big);
    CHECK(ws_send_frame(ws, WS_FIN | WS_PONG, "unasked", 7, 1) == 0, "send");
    ws_says(ws, "still here", tcp); /* and nothing came for the pong */
    CHECK(ws_send_frame(ws, WS_FIN | WS_PING, big, 126, 1) == 0, "send");
    failed_with(tcp, ws, 1002);
}
END_TEST

/* ---- section 5.5.1 and 7: the close handshake --------------------------- */

/* A client's close is echoed with its code, then chatd closes the TCP
 * connection; the room is told the user left. An empty close is echoed
 * empty. Codes from the registry and the private range alike. */
CHAT_CASE_IF(close_handshake_echoes, chatd_has_http)
{
    static const unsigned codes[] = {1000, 1001, 1003, 1011, 3000, 4999};
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    ws_send_close(ws, 1000, "bye now");
    failed_with(tcp, ws, 1000);
    drop(ws);

    ws = ws_join();
    EXPECT(tcp, "%s joined main", ws->name);
    ws_send_close(ws, 0, NULL);
    failed_with(tcp, ws, 0);
    drop(ws);

    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        ws = ws_join();
        EXPECT(tcp, "%s joined main", ws->name);
        ws_send_close(ws, codes[i], "reason \xc3\xa9");
        failed_with(tcp, ws, codes[i]);
        drop(ws);
    }
}
END_TEST

/* A close with a code no endpoint may send (RFC 6455 7.4: 1004-1006, 1015,
 * below 1000, 1016-2999, 5000 and up), or a one-byte payload, fails with
 * 1002; a reason that is not UTF-8 with 1007. */
CHAT_CASE_IF(close_invalid_code_1002, chatd_has_http)
{
    static const unsigned bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016,
                                   2999, 5000, 65535};
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    ws_send_close(ws, 1005, ""); /* "no status": only for reporting */
    failed_with(tcp, ws, 1002);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char p[2] = {(unsigned char)(bad[i] >> 8),
                              (unsigned char)bad[i]};
        char what[32];
        snprintf(what, sizeof what, "close code %u", bad[i]);
        frame_closes_with(WS_FIN | WS_CLOSE, p, 2, 1002, what);
    }
    frame_closes_with(WS_FIN | WS_CLOSE, "\x03", 1, 1002,
                      "a close payload of one byte");
    frame_closes_with(WS_FIN | WS_CLOSE, "\x03\xe8\xc3\x28", 4, 1007,
                      "a close reason that is not UTF-8");
}
END_TEST

/* ---- framing on the wire --------------------------------------------------- */

/* Lengths in all three encodings (7-bit, 16-bit, 64-bit), and a frame
 * written one byte at a time: the decoder resumes anywhere. */
CHAT_CASE_IF(frame_lengths_and_byte_at_a_time, chatd_has_http)
{
    char text[400], *huge;
    unsigned char frame[600];
    size_t n;
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    memset(text, 'x', sizeof text);
    /* 126..400 bytes: the 16-bit length, and the longest line. */
    ws_send(ws, "%.126s", text);
    WS_EXPECT(ws, "%s: %.126s", ws->name, text);
    EXPECT(tcp, "%s: %.126s", ws->name, text);
    ws_send(ws, "%.400s", text);
    WS_EXPECT(ws, "%s: %.400s", ws->name, text);
    EXPECT(tcp, "%s: %.400s", ws->name, text);
    /* 70,000 bytes: the 64-bit length; too long for a line. */
    huge = malloc(70000);
    CHECK(huge != NULL, "out of memory");
    memset(huge, 'y', 70000);
    CHECK(ws_send_frame(ws, WS_FIN | WS_TEXT, huge, 70000, 1) == 0, "send");
    free(huge);
    WS_EXPECT(ws, "Messages can only be 400 bytes long");
    /* One byte per write, header and all (TCP_NODELAY: one segment each). */
    n = ws_build_frame(frame, sizeof frame, WS_FIN | WS_TEXT, text, 300, 1);
    for (size_t i = 0; i < n; i++) {
        CHECK(client_send_bytes(ws, frame + i, 1) == 0, "send");
        if (i % 50 == 0 || i < 8)
            sleep_ms(2);
    }
    WS_EXPECT(ws, "%s: %.300s", ws->name, text);
    EXPECT(tcp, "%s: %.300s", ws->name, text);
}
END_TEST

/* Frames a client sends right behind its request head, before it has seen
 * the 101, are not lost: they are decoded once the upgrade is done. */
CHAT_CASE_IF(frames_pipelined_with_handshake, chatd_has_http)
{
    char req[512];
    unsigned char buf[1024];
    size_t n;
    http_resp r;
    client *tcp, *ws;

    start_http(NULL);
    tcp = tcp_join();
    ws = http_connect();
    n = (size_t)snprintf(req, sizeof req,
                         "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n");
    memcpy(buf, req, n);
    n += ws_build_frame(buf + n, sizeof buf - n, WS_FIN | WS_TEXT,
                        "/name Early", 11, 1);
    n += ws_build_frame(buf + n, sizeof buf - n, WS_FIN | WS_TEXT,
                        "early bird", 10, 1);
    CHECK(client_send_bytes(ws, buf, n) == 0, "send");
    CHECK(http_read(ws, &r, 0) == 0 && r.status == 101, "handshake: %s",
          r.head);
    WS_EXPECT(ws, "Server commands");
    ws_skip_to(ws, "You joined main");
    const char *got = ws_next(ws);
    CHECK(strstr(got, " is now Early") != NULL, "expected the rename, got '%s'",
          got);
    WS_EXPECT(ws, "Early: early bird");
    skip_to(tcp, "Early: early bird");
}
END_TEST

/* One text frame is one line: a newline inside it does not start a second
 * line (no command can be smuggled in), it is a control character and is
 * removed like any other. An empty message is ignored, as an empty line. */
CHAT_CASE_IF(one_frame_is_one_line, chatd_has_http)
{
    client *tcp, *ws;

    start_http(NULL);
    witness_and_ws(&tcp, &ws);
    ws_send(ws, "hi\n/name Smuggled");
    WS_EXPECT(ws, "%s: hi/name Smuggled", ws->name);
    EXPECT(tcp, "%s: hi/name Smuggled", ws->name);
    CHECK(ws_send_frame(ws, WS_FIN | WS_TEXT, "", 0, 1) == 0, "send");
    CHECK(ws_send_frame(ws, WS_TEXT, "", 0, 1) == 0, "send");
    CHECK(ws_send_frame(ws, WS_FIN | WS_CONT, "", 0, 1) == 0, "send");
    /* Nothing came for the empty messages, to either of them. */
    ws_says(ws, "after the empty ones", tcp);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

/* CHAT_CASES: the CHAT_CASE lines above, as meson read them. */
#include "ws-rfc_cases.h"

int main(void)
{
    const harness_case cases[] = {CHAT_CASES};

    return harness_main("ws-rfc", cases, sizeof cases / sizeof cases[0],
                        55 * harness_slowdown());
}
