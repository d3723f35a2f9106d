/*
 * server/http.c: request heads, responses and the WebSocket handshake,
 * with no sockets. Every head is parsed whole, byte by byte and split in
 * two at every position, and must give the same result each time.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "ws_harness.h"

static struct chatd_http_parser parser, other;

/* Parse s in reads of chunk bytes (0: whole) until a result; returns it,
 * with the bytes consumed in *used. */
static int parse_chunks(struct chatd_http_parser *p, const char *s, size_t n,
                        size_t chunk, size_t max_head, size_t *used)
{
    int r = CHATD_HTTP_MORE;
    chatd_http_init(p, max_head);
    *used = 0;
    if (!chunk)
        chunk = n ? n : 1;
    for (size_t a = 0; a < n && r == CHATD_HTTP_MORE; a += chunk) {
        size_t k = a + chunk < n ? chunk : n - a, u;
        r = chatd_http_parse(p, s + a, k, &u);
        *used += u;
        if (r == CHATD_HTTP_MORE)
            ck_assert_uint_eq(u, k);
    }
    return r;
}

static int parse_split(struct chatd_http_parser *p, const char *s, size_t n,
                       size_t k, size_t max_head, size_t *used)
{
    size_t u1 = 0, u2 = 0;
    chatd_http_init(p, max_head);
    int r = chatd_http_parse(p, s, k, &u1);
    if (r == CHATD_HTTP_MORE)
        r = chatd_http_parse(p, s + k, n - k, &u2);
    *used = u1 + u2;
    return r;
}

/* Parse s every way; all must agree. Returns the result, with parser
 * holding the request and *used the bytes of the head. */
static int parse_limit(const char *s, size_t max_head, size_t *used)
{
    size_t n = strlen(s), u;
    int r = parse_chunks(&parser, s, n, 0, max_head, used);
    for (size_t chunk = 1; chunk <= 3; chunk++) {
        ck_assert_int_eq(parse_chunks(&other, s, n, chunk, max_head, &u), r);
        ck_assert_uint_eq(u, *used);
        ck_assert(memcmp(&other.req, &parser.req, sizeof parser.req) == 0);
    }
    for (size_t k = 0; k <= n; k++) {
        ck_assert_int_eq(parse_split(&other, s, n, k, max_head, &u), r);
        ck_assert_uint_eq(u, *used);
        ck_assert(memcmp(&other.req, &parser.req, sizeof parser.req) == 0);
    }
    return r;
}

static int parse(const char *s)
{
    size_t used;
    int r = parse_limit(s, 0, &used);
    if (r == CHATD_HTTP_DONE)
        ck_assert_uint_eq(used, strlen(s)); /* these heads have no tail */
    return r;
}

#define REQ (&parser.req)

/* ---- request heads --------------------------------------------------------- */

START_TEST(a_websocket_upgrade)
{
    ck_assert_int_eq(parse("GET /ws?room=main HTTP/1.1\r\n"
                           "Host: chat.example.org:8080\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: keep-alive, Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Origin: http://chat.example.org:8080\r\n"
                           "User-Agent: test\r\n"
                           "\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->method, "GET");
    ck_assert_str_eq(REQ->path, "/ws");
    ck_assert_str_eq(REQ->query, "room=main");
    ck_assert_int_eq(REQ->minor, 1);
    ck_assert_str_eq(REQ->host, "chat.example.org:8080");
    ck_assert_str_eq(REQ->upgrade, "websocket");
    ck_assert_str_eq(REQ->connection, "keep-alive, Upgrade");
    ck_assert_str_eq(REQ->ws_key, "dGhlIHNhbXBsZSBub25jZQ==");
    ck_assert_str_eq(REQ->ws_version, "13");
    ck_assert_str_eq(REQ->origin, "http://chat.example.org:8080");
    ck_assert_int_eq(REQ->content_length, -1);
    ck_assert_int_eq(REQ->transfer_encoding, 0);
    ck_assert(chatd_http_has_token(REQ->connection, "upgrade"));
    ck_assert(chatd_http_has_token(REQ->connection, "KEEP-ALIVE"));
    ck_assert(!chatd_http_has_token(REQ->connection, "close"));
}
END_TEST

START_TEST(header_names_are_case_insensitive)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nhOsT: a\r\nCONNECTION: close\r\n"
                           "sec-websocket-VERSION: 13\r\nORIGIN: x\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->host, "a");
    ck_assert_str_eq(REQ->connection, "close");
    ck_assert_str_eq(REQ->ws_version, "13");
    ck_assert_str_eq(REQ->origin, "x");
}
END_TEST

/* Values lose the whitespace around them, not inside them. */
START_TEST(values_are_trimmed)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost:\t  a b \t \r\n"
                           "Origin:x\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->host, "a b");
    ck_assert_str_eq(REQ->origin, "x");
}
END_TEST

/* List headers that repeat are one list (RFC 9110 5.3). */
START_TEST(repeated_list_headers_are_joined)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->connection, "keep-alive, Upgrade");
    ck_assert(chatd_http_has_token(REQ->connection, "upgrade"));
}
END_TEST

START_TEST(bare_lf_ends_lines_too)
{
    ck_assert_int_eq(parse("GET /metrics HTTP/1.0\nAccept: */*\n\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->path, "/metrics");
    ck_assert_int_eq(REQ->minor, 0);
}
END_TEST

START_TEST(empty_lines_before_the_request_are_skipped)
{
    ck_assert_int_eq(parse("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->method, "GET");
}
END_TEST

START_TEST(targets)
{
    ck_assert_int_eq(parse("GET http://Example.org:80/ws?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->path, "/ws");
    ck_assert_str_eq(REQ->query, "x=1");
    ck_assert_int_eq(parse("GET HTTPS://example.org HTTP/1.1\r\nHost: a\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->path, "/");
    ck_assert_int_eq(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->path, "*");
    ck_assert_int_eq(parse("GET /a%20b?q?r=%2F HTTP/1.1\r\nHost: a\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->path, "/a%20b"); /* as sent */
    ck_assert_str_eq(REQ->query, "q?r=%2F");
    ck_assert_int_eq(parse("GET /? HTTP/1.1\r\nHost: a\r\n\r\n"), CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->query, "");
}
END_TEST

START_TEST(content_length_and_transfer_encoding)
{
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0042\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert_int_eq(REQ->content_length, 42);
    ck_assert_int_eq(REQ->transfer_encoding, 1);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4x\r\n\r\n"), 400);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), 400);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n"), 400);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           "Content-Length: 1\r\n\r\n"),
                     400);
}
END_TEST

/* Bytes after the head are the caller's: pipelined requests, or frames a
 * client sent right after its upgrade request. */
START_TEST(bytes_after_the_head_are_left_unconsumed)
{
    static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t first = strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"), used;
    ck_assert_int_eq(parse_limit(two, 0, &used), CHATD_HTTP_DONE);
    ck_assert_uint_eq(used, first);
    ck_assert_str_eq(REQ->path, "/a");
    ck_assert(chatd_http_keep_alive(REQ));
    ck_assert_int_eq(parse_limit(two + used, 0, &used), CHATD_HTTP_DONE);
    ck_assert_str_eq(REQ->path, "/b");
    ck_assert_uint_eq(used, strlen(two) - first);
    /* Once done, more input is not taken. */
    ck_assert_int_eq(chatd_http_parse(&parser, "GET", 3, &used), CHATD_HTTP_DONE);
    ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(frames_after_an_upgrade_stay)
{
    static const char s[] = "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n\x81\x85";
    size_t used;
    chatd_http_init(&parser, 0);
    ck_assert_int_eq(chatd_http_parse(&parser, s, sizeof s - 1, &used),
                     CHATD_HTTP_DONE);
    ck_assert_uint_eq(used, sizeof s - 3);
}
END_TEST

START_TEST(keep_alive)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert(!chatd_http_keep_alive(REQ));
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n"), CHATD_HTTP_DONE);
    ck_assert(!chatd_http_keep_alive(REQ));
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
                     CHATD_HTTP_DONE);
    ck_assert(chatd_http_keep_alive(REQ));
}
END_TEST

/* ---- limits ------------------------------------------------------------------- */

static char *head_of(size_t n)
{
    /* "GET / HTTP/1.1\r\nHost: a\r\nX: ***...\r\n\r\n", n bytes in all */
    static const char start[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_gt(n, sizeof start + 4);
    memcpy(s, start, sizeof start - 1);
    memset(s + sizeof start - 1, '*', n - (sizeof start - 1) - 4);
    memcpy(s + n - 4, "\r\n\r\n", 5);
    return s;
}

START_TEST(a_head_past_the_limit_is_431)
{
    size_t used;
    char *s = head_of(CHATD_HTTP_HEAD_MAX);
    ck_assert_int_eq(parse_chunks(&parser, s, strlen(s), 0, 0, &used), CHATD_HTTP_DONE);
    free(s);
    s = head_of(CHATD_HTTP_HEAD_MAX + 1);
    ck_assert_int_eq(parse_chunks(&parser, s, strlen(s), 0, 0, &used), 431);
    ck_assert_int_eq(parse_chunks(&parser, s, strlen(s), 1, 0, &used), 431);
    ck_assert_uint_eq(used, CHATD_HTTP_HEAD_MAX);
    free(s);
    /* The bound is a parameter. */
    s = head_of(100);
    ck_assert_int_eq(parse_limit(s, 100, &used), CHATD_HTTP_DONE);
    ck_assert_int_eq(parse_limit(s, 99, &used), 431);
    free(s);
}
END_TEST

/* Endless empty lines or a header that never ends count as much. */
START_TEST(the_limit_counts_every_byte)
{
    size_t used;
    char *s = malloc(9000);
    ck_assert_ptr_nonnull(s);
    memset(s, '\n', 9000);
    ck_assert_int_eq(parse_chunks(&parser, s, 9000, 0, 0, &used), 431);
    free(s);
}
END_TEST

START_TEST(values_past_their_buffer_are_431)
{
    char s[600];
    snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: %0300d\r\n\r\n", 0);
    ck_assert_int_eq(parse(s), 431);
    snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: %070d\r\n\r\n", 0);
    ck_assert_int_eq(parse(s), 431);
    /* Headers chatd does not read may be as long as the head allows. */
    snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: a\r\nCookie: %0500d\r\n\r\n", 0);
    ck_assert_int_eq(parse(s), CHATD_HTTP_DONE);
}
END_TEST

START_TEST(long_targets_are_414)
{
    char s[2200];
    snprintf(s, sizeof s, "GET /%01030d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    ck_assert_int_eq(parse(s), 414);
    snprintf(s, sizeof s, "GET /?%01030d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    ck_assert_int_eq(parse(s), 414);
    snprintf(s, sizeof s, "GET /%01023d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    ck_assert_int_eq(parse(s), CHATD_HTTP_DONE);
}
END_TEST

START_TEST(long_methods_are_501)
{
    ck_assert_int_eq(parse("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
    ck_assert_int_eq(parse("ABCDEFGHIJKLMNOP / HTTP/1.1\r\nHost: a\r\n\r\n"),
                     CHATD_HTTP_DONE);
}
END_TEST

/* ---- malformed heads ---------------------------------------------------------- */

static const char *const malformed[] = {
    " GET / HTTP/1.1\r\nHost: a\r\n\r\n",        /* space first */
    "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",        /* two spaces */
    "GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
    "GET /\r\nHost: a\r\n\r\n",                  /* HTTP/0.9 */
    "GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
    "GET / HTTP/1\r\nHost: a\r\n\r\n",
    "GET / http/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.a\r\nHost: a\r\n\r\n",
    "GET ws HTTP/1.1\r\nHost: a\r\n\r\n",       /* not a path */
    "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",     /* a fragment */
    "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",/* raw non-ASCII */
    "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
    "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",        /* not a token */
    "GET / HTTP/1.1\rHost: a\r\n\r\n",          /* bare CR */
    "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
    "GET / HTTP/1.1\r\nHost : a\r\n\r\n",       /* space before colon */
    "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", /* obs-fold */
    "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost a\r\n\r\n",         /* no colon */
    "GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",    /* control in a value */
    "GET / HTTP/1.1\r\nX: a\x7f\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /* two hosts */
    "GET / HTTP/1.1\r\n\r\n",                   /* 1.1 without Host */
    "GET / HTTP/1.1\r\nHost: a\r\nOrigin: x\r\nOrigin: y\r\n\r\n",
};

START_TEST(malformed_heads_are_400)
{
    const char *s = malformed[_i];
    ck_assert_msg(parse(s) == 400, "case %d", _i);
}
END_TEST

START_TEST(a_nul_byte_is_400)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    size_t used;
    ck_assert_int_eq(parse_chunks(&parser, s, sizeof s - 1, 0, 0, &used), 400);
    ck_assert_int_eq(parse_chunks(&parser, s, sizeof s - 1, 1, 0, &used), 400);
}
END_TEST

START_TEST(other_versions_are_505)
{
    ck_assert_int_eq(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    ck_assert_int_eq(parse("GET / HTTP/0.9\r\n\r\n"), 505);
    ck_assert_int_eq(parse("GET / HTTP/1.9\r\nHost: a\r\n\r\n"), CHATD_HTTP_DONE);
}
END_TEST

/* A head cut short is incomplete, not an error. */
START_TEST(an_unfinished_head_wants_more)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n"), CHATD_HTTP_MORE);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n\r"), CHATD_HTTP_MORE);
    ck_assert_int_eq(parse(""), CHATD_HTTP_MORE);
}
END_TEST

/* ---- responses ----------------------------------------------------------------- */

START_TEST(responses)
{
    char buf[256];
    size_t n = chatd_http_response(buf, sizeof buf, 404, "text/plain", "nope\n",
                                   5, NULL);
    static const char want[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 5\r\nConnection: close\r\n\r\nnope\n";
    ck_assert_uint_eq(n, sizeof want - 1);
    ck_assert(memcmp(buf, want, n) == 0);
    /* extra headers, no content type */
    n = chatd_http_response(buf, sizeof buf, 405, NULL, "", 0, "Allow: GET\r\n");
    static const char want2[] = "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n"
                                "Connection: close\r\nAllow: GET\r\n\r\n";
    ck_assert_uint_eq(n, sizeof want2 - 1);
    ck_assert(memcmp(buf, want2, n) == 0);
    /* the head alone, for a body sent apart */
    n = chatd_http_response(buf, sizeof buf, 200, "text/html", NULL, 12345, NULL);
    ck_assert_ptr_nonnull(strstr(buf, "Content-Length: 12345\r\n"));
    ck_assert(memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
    /* exactly the size fits, one byte less does not */
    ck_assert_uint_eq(chatd_http_response(buf, sizeof want - 1, 404, "text/plain",
                                          "nope\n", 5, NULL),
                      sizeof want - 1);
    ck_assert_uint_eq(chatd_http_response(buf, sizeof want - 2, 404, "text/plain",
                                          "nope\n", 5, NULL),
                      0);
    ck_assert_uint_eq(chatd_http_response(buf, 10, 404, NULL, NULL, 0, NULL), 0);
    ck_assert_str_eq(chatd_http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(chatd_http_reason(299), "Unknown");
}
END_TEST

/* ---- the WebSocket handshake ----------------------------------------------------- */

START_TEST(rfc6455_sample_accept_key)
{
    char out[CHATD_WS_ACCEPT_LEN + 1];
    ck_assert_int_eq(chatd_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

static char head[1024];

/* A handshake head with one header line replaced (or dropped: ""). */
static int handshake(const char *method, const char *version, const char *upgrade,
                     const char *connection, const char *key, const char *wsv,
                     char *out, size_t cap, size_t *len)
{
    snprintf(head, sizeof head,
             "%s /ws HTTP/%s\r\nHost: a\r\n%s%s%s%s\r\n", method, version,
             upgrade, connection, key, wsv);
    ck_assert_int_eq(parse(head), CHATD_HTTP_DONE);
    memset(out, 0, cap);
    /* One byte is kept for a NUL, so that the tests can use strstr. */
    int status = chatd_ws_handshake(REQ, out, cap - 1, len);
    out[*len] = '\0';
    return status;
}

#define UP "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define V13 "Sec-WebSocket-Version: 13\r\n"

START_TEST(handshake_101)
{
    char out[512];
    size_t len;
    ck_assert_int_eq(handshake("GET", "1.1", UP, CONN, KEY, V13, out, sizeof out, &len), 101);
    static const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    ck_assert_uint_eq(len, sizeof want - 1);
    ck_assert(memcmp(out, want, len) == 0);
    /* token lists and case, as browsers and libraries send them */
    ck_assert_int_eq(handshake("GET", "1.1", "Upgrade: WebSocket\r\n",
                               "Connection: keep-alive, Upgrade\r\n", KEY, V13, out,
                               sizeof out, &len),
                     101);
    /* the smallest buffer that holds it, and one byte less */
    ck_assert_int_eq(handshake("GET", "1.1", UP, CONN, KEY, V13, out, sizeof want + 1, &len), 101);
    ck_assert_int_eq(handshake("GET", "1.1", UP, CONN, KEY, V13, out, sizeof want, &len), -1);
    ck_assert_uint_eq(len, 0);
}
END_TEST

static void expect_status(int got, const char *out, int status, const char *header)
{
    char line[64];
    snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    ck_assert_int_eq(got, status);
    ck_assert(strncmp(out, line, strlen(line)) == 0);
    ck_assert_ptr_nonnull(strstr(out, "Connection: close\r\n"));
    if (header)
        ck_assert_ptr_nonnull(strstr(out, header));
}

START_TEST(handshake_failures)
{
    char out[512];
    size_t len;
    expect_status(handshake("POST", "1.1", UP, CONN, KEY, V13, out, sizeof out, &len),
                  out, 405, "Allow: GET\r\n");
    expect_status(handshake("GET", "1.1", "", "", "", "", out, sizeof out, &len),
                  out, 426, "Sec-WebSocket-Version: 13\r\n");
    expect_status(handshake("GET", "1.1", UP, CONN, KEY, "Sec-WebSocket-Version: 8\r\n",
                            out, sizeof out, &len),
                  out, 426, "Sec-WebSocket-Version: 13\r\n");
    expect_status(handshake("GET", "1.1", UP, CONN, KEY, "", out, sizeof out, &len),
                  out, 400, NULL);
    expect_status(handshake("GET", "1.1", "Upgrade: h2c\r\n", CONN, KEY, V13, out,
                            sizeof out, &len),
                  out, 400, NULL);
    expect_status(handshake("GET", "1.1", UP, "Connection: keep-alive\r\n", KEY, V13,
                            out, sizeof out, &len),
                  out, 400, NULL);
    expect_status(handshake("GET", "1.1", UP, CONN, "", V13, out, sizeof out, &len),
                  out, 400, NULL);
    expect_status(handshake("GET", "1.0", UP, CONN, KEY, V13, out, sizeof out, &len),
                  out, 400, NULL);
    ck_assert_uint_eq(len, strlen(out));
}
END_TEST

/* The key must be 16 bytes in canonical base64. */
START_TEST(handshake_keys)
{
    static const struct {
        const char *key;
        int status;
    } keys[] = {
        {"AAAAAAAAAAAAAAAAAAAAAA==", 101},
        {"/+/+/+/+/+/+/+/+/+/+/w==", 101},
        {"dGhlIHNhbXBsZSBub25jZQ", 400},     /* no padding */
        {"dGhlIHNhbXBsZSBub25jZR==", 400},   /* padding bits set */
        {"dGhlIHNhbXBsZSBub25j*Q==", 400},   /* not base64 */
        {"dGhlIHNhbXBsZSBub25jZQ==AAAA", 400},
        {"dGhlIHNhbXBsZQ==", 400},           /* 10 bytes */
        {"dGhlIHNhbXBsZSBub25jZQ=", 400},
    };
    char out[512], line[128];
    size_t len;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        snprintf(line, sizeof line, "Sec-WebSocket-Key: %s\r\n", keys[i].key);
        ck_assert_msg(handshake("GET", "1.1", UP, CONN, line, V13, out, sizeof out,
                                &len) == keys[i].status,
                      "key %s", keys[i].key);
    }
}
END_TEST

START_TEST(origins)
{
    static const char list[] = "https://Chat.Example.org, http://localhost:8080 ,null";
    ck_assert(chatd_ws_origin_allowed("", "http://evil.example"));
    ck_assert(chatd_ws_origin_allowed(NULL, "http://evil.example"));
    ck_assert(chatd_ws_origin_allowed(list, "https://chat.example.org"));
    ck_assert(chatd_ws_origin_allowed(list, "HTTPS://CHAT.EXAMPLE.ORG"));
    ck_assert(chatd_ws_origin_allowed(list, "http://localhost:8080"));
    ck_assert(chatd_ws_origin_allowed(list, "null"));
    ck_assert(chatd_ws_origin_allowed(list, "")); /* not a browser */
    ck_assert(!chatd_ws_origin_allowed(list, "http://chat.example.org"));
    ck_assert(!chatd_ws_origin_allowed(list, "https://chat.example.org:443"));
    ck_assert(!chatd_ws_origin_allowed(list, "https://chat.example.org.evil"));
    ck_assert(!chatd_ws_origin_allowed(list, "http://localhost"));
    ck_assert(!chatd_ws_origin_allowed(list, "https://chat.example.org/"));
    ck_assert(!chatd_ws_origin_allowed("http://a,", "http://b"));
}
END_TEST

START_TEST(token_lists)
{
    ck_assert(chatd_http_has_token("Upgrade", "upgrade"));
    ck_assert(chatd_http_has_token(" a ,\tb\t, c", "b"));
    ck_assert(chatd_http_has_token("a,,c", "c"));
    ck_assert(!chatd_http_has_token("upgrades", "upgrade"));
    ck_assert(!chatd_http_has_token("", "upgrade"));
    ck_assert(!chatd_http_has_token("a, b", ""));
    ck_assert(!chatd_http_has_token("a,,b", ""));
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
#define T(name) tcase_add_test(tc, name)
    T(a_websocket_upgrade);
    T(header_names_are_case_insensitive);
    T(values_are_trimmed);
    T(repeated_list_headers_are_joined);
    T(bare_lf_ends_lines_too);
    T(empty_lines_before_the_request_are_skipped);
    T(targets);
    T(content_length_and_transfer_encoding);
    T(bytes_after_the_head_are_left_unconsumed);
    T(frames_after_an_upgrade_stay);
    T(keep_alive);
    T(a_head_past_the_limit_is_431);
    T(the_limit_counts_every_byte);
    T(values_past_their_buffer_are_431);
    T(long_targets_are_414);
    T(long_methods_are_501);
    tcase_add_loop_test(tc, malformed_heads_are_400, 0,
                        sizeof malformed / sizeof malformed[0]);
    T(a_nul_byte_is_400);
    T(other_versions_are_505);
    T(an_unfinished_head_wants_more);
    T(responses);
    T(rfc6455_sample_accept_key);
    T(handshake_101);
    T(handshake_failures);
    T(handshake_keys);
    T(origins);
    T(token_lists);
#undef T
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(http_suite()); }
