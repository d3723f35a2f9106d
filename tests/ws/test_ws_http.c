/*
 * The HTTP phase of chatd's http:// listener over a real socket: each
 * request a browser, a scraper or a stranger may send, and the one answer
 * chatd gives before closing (server/http_conn.c): the page, /metrics,
 * the WebSocket upgrade, or 400, 403, 404, 405, 408, 426, 431.
 *
 * The request parser itself is unit-tested without sockets in
 * tests/server/test_http.c; these cases check the answers on the wire
 * (status, the headers that matter, the body, the close) and the options
 * that shape them (--http-timeout, --http-head-max, --ws-origin).
 *
 * Every case skips (77) where chatd has no http:// listener.
 * Run one case: CK_RUN_CASE=page_served ./test_ws_http.
 */
#define _GNU_SOURCE

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "wsclient.h"

/* ---- helpers ------------------------------------------------------------- */

/* r's status must be want, with a short text/plain body saying why. */
static void expect_error(const http_resp *r, int want)
{
    CHECK(r->status == want, "expected %d, got: %s", want, r->head);
    CHECK(r->body && r->body_len > 0 && r->body_len < 200,
          "%d: body '%s'", want, r->body ? r->body : "(none)");
    const char *type = http_header(r, "Content-Type");
    CHECK(type && strncmp(type, "text/plain", 10) == 0,
          "%d: Content-Type '%s'", want, type ? type : "(none)");
}

/* GET path on a fresh connection; the answer in r. */
static void get(const char *path, const char *headers, http_resp *r)
{
    char req[1024];

    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
             path, headers ? headers : "");
    http_request(req, r);
}

/* A WebSocket handshake with these header lines (no key/version defaults):
 * the status chatd answers with. */
static int handshake_status(const char *headers, http_resp *r)
{
    char req[1024];

    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
             headers);
    http_request(req, r);
    return r->status;
}

/* Read a whole file; *len its size. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    CHECK(f != NULL, "open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "read %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- the page and /metrics ----------------------------------------------- */

/* GET / is the chat page: 200, text/html, and the body is
 * server/page/index.html byte for byte (what was embedded at build time);
 * /index.html and a query string are the same page. */
CHAT_CASE_IF(page_served, chatd_has_http)
{
    const char *path = getenv("CHATD_PAGE");
    static const char *const urls[] = {"/", "/index.html", "/?room=pizza"};
    size_t len;
    char *page;
    http_resp r;

    CHECK(path && *path, "$CHATD_PAGE (server/page/index.html) is not set");
    page = read_all(path, &len);
    start_http(NULL);
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        get(urls[i], NULL, &r);
        CHECK(r.status == 200, "GET %s: %s", urls[i], r.head);
        const char *type = http_header(&r, "Content-Type");
        CHECK(type && strncmp(type, "text/html", 9) == 0,
              "GET %s: Content-Type '%s'", urls[i], type ? type : "(none)");
        CHECK(r.body_len == len, "GET %s: %zu bytes, index.html has %zu",
              urls[i], r.body_len, len);
        CHECK(memcmp(r.body, page, len) == 0,
              "GET %s: the body differs from index.html", urls[i]);
        http_free(&r);
    }
    free(page);
}
END_TEST

/*
 * GET /metrics: the Prometheus text format 0.0.4, counting a WebSocket
 * user and a telnet user by transport; promtool (Debian's prometheus)
 * must accept it where it is installed.
 */
CHAT_CASE_IF(metrics_served, chatd_has_http)
{
    char tmp[] = "/tmp/chatd-metrics-XXXXXX", cmd[256];
    http_resp r;
    client *tcp, *ws;
    int fd;

    start_http(NULL);
    tcp = tcp_join();
    ws = ws_join();
    EXPECT(tcp, "%s joined main", ws->name);
    get("/metrics", NULL, &r);
    CHECK(r.status == 200, "GET /metrics: %s", r.head);
    const char *type = http_header(&r, "Content-Type");
    CHECK(type && strstr(type, "text/plain") && strstr(type, "version=0.0.4"),
          "Content-Type '%s'", type ? type : "(none)");
    CHECK(strstr(r.body, "\nchatd_connections_open{transport=\"ws\"} 1\n"),
          "the WebSocket user is not counted:\n%s", r.body);
    CHECK(strstr(r.body, "\nchatd_connections_open{transport=\"tcp\"} 1\n"),
          "the telnet user is not counted:\n%s", r.body);
    CHECK(strstr(r.body, "\nchatd_users 2\n"), "users:\n%s", r.body);

    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        fprintf(stderr, "promtool is not installed: not linted\n");
    } else {
        fd = mkstemp(tmp);
        CHECK(fd >= 0 && write(fd, r.body, r.body_len) == (ssize_t)r.body_len,
              "writing %s", tmp);
        close(fd);
        snprintf(cmd, sizeof cmd, "promtool check metrics < %s", tmp);
        int rc = system(cmd);
        unlink(tmp);
        CHECK(rc == 0, "promtool check metrics failed (%d):\n%s", rc, r.body);
    }
    http_free(&r);
    ws_send_close(ws, 1000, "");
    WS_EXPECT_CLOSE(ws, 1000, 0);
    EXPECT(tcp, "%s left main", ws->name);
}
END_TEST

/* ---- errors ---------------------------------------------------------------- */

/* Anything else is 404, with a short text body, and the connection closes. */
CHAT_CASE_IF(not_found_404, chatd_has_http)
{
    static const char *const urls[] = {"/nope", "/ws/", "/metrics/x",
                                       "/index.htm", "/%2e%2e/etc/passwd"};
    http_resp r;

    start_http(NULL);
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        get(urls[i], NULL, &r);
        expect_error(&r, 404);
        http_free(&r);
    }
}
END_TEST

/* Only GET is served: POST (with a body chatd never reads), PUT, DELETE
 * get 405 with Allow: GET, on the page and on /ws. */
CHAT_CASE_IF(post_405, chatd_has_http)
{
    static const char *const reqs[] = {
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "DELETE / HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    http_resp r;

    start_http(NULL);
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        http_request(reqs[i], &r);
        expect_error(&r, 405);
        const char *allow = http_header(&r, "Allow");
        CHECK(allow && strcmp(allow, "GET") == 0, "Allow: '%s'",
              allow ? allow : "(none)");
        http_free(&r);
    }
}
END_TEST

/* A head over --http-head-max gets 431 as soon as it passes the bound,
 * without waiting for its end; one under it is served. */
CHAT_CASE_IF(head_too_big_431, chatd_has_http)
{
    static const char *const args[] = {"--http-head-max", "256", NULL};
    char req[1024], pad[600];
    http_resp r;
    client *c;

    start_http(args);
    memset(pad, 'a', sizeof pad);
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %.150s\r\n\r\n",
             pad);
    http_request(req, &r);
    CHECK(r.status == 200, "a head of %zu bytes under 256: %s", strlen(req),
          r.head);
    http_free(&r);
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %.300s\r\n\r\n",
             pad);
    http_request(req, &r);
    expect_error(&r, 431);
    http_free(&r);
    /* The head never ends: 431 all the same, long before any timeout. */
    c = http_connect();
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX-Pad: %.500s", pad);
    long long t0 = now_ms();
    CHECK(client_send(c, req) == 0, "send");
    CHECK(http_read(c, &r, 1) == 0, "unfinished head: %s", r.head);
    expect_error(&r, 431);
    CHECK(now_ms() - t0 < 2500 * harness_slowdown(),
          "431 took %lld ms", now_ms() - t0);
    http_free(&r);
    drop(c);
}
END_TEST

/* What is not HTTP at all gets 400: text, a TLS ClientHello, a header
 * without a colon, a folded header line. */
CHAT_CASE_IF(garbage_400, chatd_has_http)
{
    static const char *const reqs[] = {
        "hello there\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nX-A: b\r\n folded\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
    };
    http_resp r;

    start_http(NULL);
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        http_request(reqs[i], &r);
        expect_error(&r, 400);
        http_free(&r);
    }
    /* chatd is fine: the page is still served. */
    get("/", NULL, &r);
    CHECK(r.status == 200, "GET / after the garbage: %s", r.head);
    http_free(&r);
}
END_TEST

/* A request head that does not arrive within --http-timeout (1 s here)
 * gets 408 and the connection closes: silence and half a head alike. */
CHAT_CASE_IF(timeout_408, chatd_has_http)
{
    static const char *const args[] = {"--http-timeout", "1", NULL};
    client *silent, *half;
    http_resp r;

    start_http(args);
    long long t0 = now_ms();
    silent = http_connect();
    half = http_connect();
    CHECK(client_send(half, "GET / HTTP/1.1\r\nHost: x\r\n") == 0, "send");
    CHECK(http_read(silent, &r, 1) == 0, "silent: %s", r.head);
    expect_error(&r, 408);
    long long took = now_ms() - t0;
    http_free(&r);
    CHECK(took >= 900, "408 after %lld ms, before the 1 s timeout", took);
    CHECK(took < 2500 * harness_slowdown(), "408 after %lld ms", took);
    CHECK(http_read(half, &r, 1) == 0, "half a head: %s", r.head);
    expect_error(&r, 408);
    http_free(&r);
    expect_eof(silent);
    expect_eof(half);
    drop(silent);
    drop(half);
}
END_TEST

/* ---- the WebSocket handshake ---------------------------------------------- */

/* GET /ws that is not an upgrade (a browser opening the URL) gets 426 with
 * the version chatd speaks; another version gets 426 too. A broken
 * upgrade (no key, a bad key, HTTP/1.0, Upgrade not websocket) gets 400. */
CHAT_CASE_IF(ws_without_upgrade_426, chatd_has_http)
{
    static const char *const bad[] = {
        /* no key */
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\n",
        /* a key that is not 16 bytes */
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n",
        /* Upgrade to something else */
        "Upgrade: h2c\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n",
        /* no Connection: Upgrade */
        "Upgrade: websocket\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n",
    };
    http_resp r;

    start_http(NULL);
    get("/ws", NULL, &r);
    expect_error(&r, 426);
    const char *v = http_header(&r, "Sec-WebSocket-Version");
    CHECK(v && strcmp(v, "13") == 0, "426 without Sec-WebSocket-Version: 13");
    http_free(&r);

    CHECK(handshake_status("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 8\r\n",
                           &r) == 426,
          "version 8: %s", r.head);
    http_free(&r);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(handshake_status(bad[i], &r) == 400, "bad handshake #%zu: %s", i,
              r.head);
        http_free(&r);
    }
    http_request("GET /ws HTTP/1.0\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 &r);
    CHECK(r.status == 400, "HTTP/1.0 upgrade: %s", r.head);
    http_free(&r);
    /* And a good one still works. */
    client *ws = ws_join();
    ws_send(ws, "/quit");
    WS_EXPECT(ws, "Bye!");
    WS_EXPECT_CLOSE(ws, 1000, 0);
}
END_TEST

/* --ws-origin restricts who may open /ws: another site's page gets 403
 * (and never joins), a listed origin is let in, compared ignoring case,
 * and a request without Origin (not a browser) too. */
CHAT_CASE_IF(ws_origin_403, chatd_has_http)
{
    static const char *const args[] = {
        "--ws-origin", "https://chat.example.org,http://localhost:8080", NULL};
    http_resp r;
    client *tcp, *ws;

    start_http(args);
    tcp = tcp_join();
    CHECK(handshake_status("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Origin: https://evil.example.com\r\n",
                           &r) == 403,
          "another origin: %s", r.head);
    expect_error(&r, 403);
    http_free(&r);
    CHECK(handshake_status("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Origin: https://chat.example.org.evil.com\r\n",
                           &r) == 403,
          "an origin that only starts like a listed one: %s", r.head);
    http_free(&r);
    /* The refused never joined. */
    send_line(tcp, "/rooms");
    EXPECT(tcp, "Rooms - main (1)");
    ws = ws_open("Origin: https://chat.example.org\r\n", 0);
    WS_EXPECT(ws, "Server commands");
    drop(ws);
    ws = ws_open("Origin: HTTP://LOCALHOST:8080\r\n", 0);
    WS_EXPECT(ws, "Server commands");
    drop(ws);
    ws = ws_join(); /* no Origin */
    drop(ws);
}
END_TEST

/* Without --ws-origin, any origin may connect. */
CHAT_CASE_IF(ws_origin_any_by_default, chatd_has_http)
{
    client *ws;

    start_http(NULL);
    ws = ws_open("Origin: https://anywhere.example\r\n", 0);
    WS_EXPECT(ws, "Server commands");
    drop(ws);
    ws = ws_open("Origin: null\r\n", 0);
    WS_EXPECT(ws, "Server commands");
    drop(ws);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

/* CHAT_CASES: the CHAT_CASE lines above, as meson read them. */
#include "ws-http_cases.h"

int main(void)
{
    const harness_case cases[] = {CHAT_CASES};

    return harness_main("ws-http", cases, sizeof cases / sizeof cases[0],
                        55 * harness_slowdown());
}
