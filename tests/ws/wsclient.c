/* A hand-written WebSocket and HTTP client for chatd's tests. See wsclient.h. */
#define _GNU_SOURCE /* MSG_NOSIGNAL, strcasestr */

#include "wsclient.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int http_port = -1;
char ws_close_reason[128];

/* The RFC's own example (section 1.3): this key must be answered so. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* ---- chatd ------------------------------------------------------------- */

static size_t slurp(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    size_t n = 0;

    if (fd >= 0) {
        ssize_t r;
        while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0)
            n += (size_t)r;
        close(fd);
    }
    buf[n] = '\0';
    return n;
}

const char *chatd_log_text(void)
{
    static char log[1 << 16];

    slurp(srv.log_path, log, sizeof log);
    return log;
}

void wait_log(const char *needle)
{
    long long deadline = now_ms() + DEFAULT_WAIT_MS;

    while (!chatd_log_contains(&srv, needle)) {
        CHECK(now_ms() < deadline, "chatd never logged '%s'", needle);
        sleep_ms(20);
    }
}

int memory_measurable(void)
{
    const char *san = getenv("CHATD_SANITIZED");

    return !harness_wrapped() && !(san && *san);
}

/* The port of d's "listening on http://HOST:PORT" line, waiting up to
 * wait_ms for it; -1 if it never came. */
static int find_http_port(chatd_proc *d, int wait_ms)
{
    long long deadline = now_ms() + wait_ms;
    char line[512];

    for (;;) {
        if (chatd_log_line(d, "listening on http://", line, sizeof line)) {
            const char *colon = strrchr(line, ':');
            return colon ? atoi(colon + 1) : -1;
        }
        if (now_ms() >= deadline)
            return -1;
        sleep_ms(10);
    }
}

int chatd_has_http(void)
{
    static const char *const args[] = {"--listen", "http://127.0.0.1:0",
                                       NULL};
    chatd_proc d;
    int port = -1;

    /* chatd_start_nofile runs chatd without $CHATD_WRAPPER: a quick ask. */
    if (chatd_start_nofile(&d, args, 1024) == 0)
        port = find_http_port(&d, 3000);
    chatd_stop(&d);
    if (port <= 0)
        fprintf(stderr, "this chatd has no http:// listener: skipping\n");
    return port > 0;
}

void start_http(const char *const *args)
{
    const char *argv[64];
    int n = 0;

    argv[n++] = "--listen";
    argv[n++] = "http://127.0.0.1:0";
    for (; args && *args && n < 63; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    start(argv);
    http_port = find_http_port(&srv, DEFAULT_WAIT_MS);
    CHECK(http_port > 0, "chatd logged no 'listening on http://' line");
}

/* ---- clients ----------------------------------------------------------- */

#define MAX_TRACKED 128
static client *tracked[MAX_TRACKED];

static void close_tracked(void)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i]) {
            client_close(tracked[i]);
            tracked[i] = NULL;
        }
}

client *track(client *c)
{
    static int registered;

    if (!registered)
        registered = atexit(close_tracked) == 0;
    for (int i = 0; i < MAX_TRACKED; i++)
        if (!tracked[i]) {
            tracked[i] = c;
            return c;
        }
    return c; /* not tracked: the test opened very many */
}

static void untrack(client *c)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] == c)
            tracked[i] = NULL;
}

void drop(client *c)
{
    untrack(c);
    client_close(c);
}

void drop_reset(client *c)
{
    untrack(c);
    client_reset(c);
}

client *tcp_join(void)
{
    return track(join());
}

/* ---- HTTP -------------------------------------------------------------- */

client *http_connect(void)
{
    client *c = client_connect(http_port, 0);

    CHECK(c != NULL, "connect to 127.0.0.1:%d: %s", http_port,
          strerror(errno));
    return track(c);
}

/* Wait for more input into c->buf until deadline. Returns bytes read, 0
 * on timeout, -1 at EOF. */
static int more(client *c, long long deadline)
{
    for (;;) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        long long left = deadline - now_ms();
        if (c->eof)
            return -1;
        if (left <= 0)
            return 0;
        if (poll(&pfd, 1, (int)left) > 0) {
            int n = client_pump(c);
            if (n > 0)
                return n;
            if (c->eof)
                return -1;
        }
    }
}

static int fail_resp(http_resp *r, const char *what)
{
    snprintf(r->head, sizeof r->head, "%s", what);
    return -1;
}

int http_read(client *c, http_resp *r, int read_body)
{
    long long deadline = now_ms() + DEFAULT_WAIT_MS;
    char *end;
    size_t head_len;

    memset(r, 0, sizeof *r);
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        int n = more(c, deadline);
        if (n < 0)
            return fail_resp(r, c->len ? "<eof in the head>" : "<eof>");
        if (n == 0)
            return fail_resp(r, "<timeout>");
    }
    head_len = (size_t)(end - c->buf) + 4;
    if (head_len >= sizeof r->head)
        return fail_resp(r, "<head too long for the test>");
    memcpy(r->head, c->buf, head_len);
    r->head[head_len] = '\0';
    c->len -= head_len;
    memmove(c->buf, c->buf + head_len, c->len);
    if (sscanf(r->head, "HTTP/1.%*d %d ", &r->status) != 1)
        return fail_resp(r, "<no status line>");
    if (!read_body)
        return 0;

    const char *cl = http_header(r, "Content-Length");
    long want = cl ? atol(cl) : -1;
    size_t cap = want >= 0 ? (size_t)want + 1 : 1 << 20;
    r->body = malloc(cap);
    CHECK(r->body != NULL, "out of memory");
    for (;;) {
        size_t take = c->len;
        if (want >= 0 && take > (size_t)want - r->body_len)
            take = (size_t)want - r->body_len;
        if (r->body_len + take >= cap)
            take = cap - 1 - r->body_len;
        memcpy(r->body + r->body_len, c->buf, take);
        r->body_len += take;
        c->len -= take;
        memmove(c->buf, c->buf + take, c->len);
        if ((want >= 0 && r->body_len == (size_t)want) ||
            r->body_len == cap - 1)
            break;
        int n = more(c, deadline);
        if (n < 0 && want < 0)
            break;
        if (n <= 0) {
            r->body[r->body_len] = '\0';
            return fail_resp(r, n < 0 ? "<eof in the body>"
                                      : "<timeout in the body>");
        }
    }
    r->body[r->body_len] = '\0';
    return 0;
}

void http_free(http_resp *r)
{
    free(r->body);
    r->body = NULL;
}

const char *http_header(const http_resp *r, const char *name)
{
    static char value[1024];
    size_t nlen = strlen(name);
    const char *p = strstr(r->head, "\r\n");

    while (p && p[2] != '\r') {
        const char *line = p + 2, *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t n = (size_t)(eol - v);
            if (n >= sizeof value)
                n = sizeof value - 1;
            memcpy(value, v, n);
            value[n] = '\0';
            return value;
        }
        p = eol;
    }
    return NULL;
}

void http_request(const char *raw, http_resp *r)
{
    client *c = http_connect();

    CHECK(client_send(c, raw) == 0, "send: %s", strerror(errno));
    CHECK(http_read(c, r, 1) == 0, "reading the answer to '%.60s': %s", raw,
          r->head);
    /* chatd answers once and closes (Connection: close). */
    CHECK(client_wait_eof(c, DEFAULT_WAIT_MS) == 0,
          "the connection stayed open after the answer to '%.60s'", raw);
    drop(c);
}

/* ---- WebSocket: sending ----------------------------------------------- */

size_t ws_build_frame(unsigned char *out, size_t cap, unsigned b0,
                      const void *payload, size_t len, int mask)
{
    static unsigned serial;
    size_t n = 0;

    if (cap < len + 14)
        return 0;
    out[n++] = (unsigned char)b0;
    unsigned char m = mask ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (unsigned char)(m | len);
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)((unsigned long long)len >> (8 * i));
    }
    if (!mask) {
        memcpy(out + n, payload, len);
        return n + len;
    }
    /* A different key per frame, never all zeros: a server that forgot to
     * unmask would see garbage. */
    unsigned k = ++serial;
    unsigned char key[4] = {(unsigned char)(0x5a ^ k), (unsigned char)(0xc3 + k),
                            (unsigned char)(0x17 * k | 1),
                            (unsigned char)(0xe4 ^ (k << 2))};
    memcpy(out + n, key, 4);
    n += 4;
    const unsigned char *p = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = p[i] ^ key[i & 3];
    return n + len;
}

int ws_send_frame(client *c, unsigned b0, const void *payload, size_t len,
                  int mask)
{
    unsigned char stack[1024];
    unsigned char *buf = len + 14 <= sizeof stack ? stack : malloc(len + 14);
    int r;

    CHECK(buf != NULL, "out of memory");
    size_t n = ws_build_frame(buf, len + 14, b0, payload, len, mask);
    r = client_send_bytes(c, buf, n);
    if (buf != stack)
        free(buf);
    return r;
}

void ws_send(client *c, const char *fmt, ...)
{
    char text[4096];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < sizeof text, "ws_send: text too long");
    CHECK(ws_send_frame(c, WS_FIN | WS_TEXT, text, (size_t)n, 1) == 0,
          "ws_send '%s': %s", text, strerror(errno));
}

void ws_send_close(client *c, unsigned code, const char *reason)
{
    unsigned char p[125];
    size_t n = 0;

    if (code) {
        p[n++] = (unsigned char)(code >> 8);
        p[n++] = (unsigned char)code;
        size_t r = strlen(reason ? reason : "");
        if (r > sizeof p - 2)
            r = sizeof p - 2;
        memcpy(p + n, reason, r);
        n += r;
    }
    CHECK(ws_send_frame(c, WS_FIN | WS_CLOSE, p, n, 1) == 0,
          "sending a close frame: %s", strerror(errno));
}

/* ---- WebSocket: receiving --------------------------------------------- */

/* Describe a control or text payload into c->line with a prefix. */
static const char *describe(client *c, const char *prefix,
                            const unsigned char *p, size_t len)
{
    size_t room = sizeof c->line - 1, at = 0;

    at = (size_t)snprintf(c->line, sizeof c->line, "%s", prefix);
    if (len > room - at - 1)
        len = room - at - 1;
    memcpy(c->line + at, p, len);
    at += len;
    if (*prefix)
        c->line[at++] = '>';
    c->line[at] = '\0';
    return c->line;
}

const char *ws_frame(client *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    const unsigned char *b = (const unsigned char *)c->buf;
    size_t need = 0, hlen = 0;
    unsigned long long len = 0;

    for (;;) {
        if (c->len >= 2) {
            len = b[1] & 0x7f;
            hlen = 2 + (len == 126 ? 2 : len == 127 ? 8 : 0) +
                   (b[1] & 0x80 ? 4 : 0);
            if (c->len >= hlen) {
                if (len == 126) {
                    len = (unsigned long long)b[2] << 8 | b[3];
                } else if (len == 127) {
                    len = 0;
                    for (int i = 0; i < 8; i++)
                        len = len << 8 | b[2 + i];
                }
                if (len > sizeof c->buf - hlen)
                    return "<bad frame: too long for the test client>";
                need = hlen + (size_t)len;
                if (c->len >= need)
                    break;
            }
        }
        int n = more(c, deadline);
        if (n < 0)
            return "<eof>";
        if (n == 0)
            return "<timeout>";
    }

    unsigned b0 = b[0], op = b0 & 0x0f;
    unsigned char payload[1 << 16];
    memcpy(payload, b + hlen, (size_t)len);
    int masked = (b[1] & 0x80) != 0;
    c->len -= need;
    memmove(c->buf, c->buf + need, c->len);

    if (masked)
        return "<bad frame: masked (a server must not mask)>";
    if (b0 & (WS_RSV1 | WS_RSV2 | WS_RSV3))
        return "<bad frame: reserved bits set>";
    if (!(b0 & WS_FIN))
        return "<bad frame: not final (chatd sends one frame per line)>";
    switch (op) {
    case WS_TEXT:
        return describe(c, "", payload, (size_t)len);
    case WS_CLOSE:
        ws_close_reason[0] = '\0';
        if (len == 0)
            return "<close>";
        if (len == 1)
            return "<bad frame: a close payload of one byte>";
        snprintf(ws_close_reason, sizeof ws_close_reason, "%.*s",
                 (int)(len - 2), (const char *)payload + 2);
        snprintf(c->line, sizeof c->line, "<close %u>",
                 (unsigned)payload[0] << 8 | payload[1]);
        return c->line;
    case WS_PING:
        return describe(c, "<ping ", payload, (size_t)len);
    case WS_PONG:
        return describe(c, "<pong ", payload, (size_t)len);
    case WS_BINARY:
        snprintf(c->line, sizeof c->line, "<binary %llu>", len);
        return c->line;
    default:
        snprintf(c->line, sizeof c->line, "<opcode %u>", op);
        return c->line;
    }
}

const char *ws_next(client *c)
{
    return ws_frame(c, DEFAULT_WAIT_MS);
}

void ws_expect(const char *file, int line, client *c, const char *fmt, ...)
{
    char want[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    const char *got = ws_next(c);
    CHECK(strcmp(got, want) == 0, "%s:%d: expected frame '%s', got '%s'",
          file, line, want, got);
}

void ws_skip_to(client *c, const char *want)
{
    const char *got;

    while (strcmp(got = ws_next(c), want) != 0)
        CHECK(strcmp(got, "<eof>") && strcmp(got, "<timeout>") &&
                  strncmp(got, "<close", 6) && strncmp(got, "<bad", 4),
              "waiting for '%s': %s", want, got);
}

void ws_expect_close(const char *file, int line, client *c, unsigned code,
                     int skip)
{
    char want[32];
    const char *got;
    long long deadline;

    if (code)
        snprintf(want, sizeof want, "<close %u>", code);
    else
        snprintf(want, sizeof want, "<close>");
    for (;;) {
        got = ws_next(c);
        if (!skip || got[0] == '<')
            break;
    }
    CHECK(strcmp(got, want) == 0, "%s:%d: expected %s, got '%s' (reason '%s')",
          file, line, want, got, ws_close_reason);
    /* Nothing may follow a close frame; then the server ends the TCP
     * connection. */
    deadline = now_ms() + DEFAULT_WAIT_MS;
    while (!c->eof) {
        int n = more(c, deadline);
        CHECK(c->len == 0, "%s:%d: %zu bytes after the close frame", file,
              line, c->len);
        CHECK(n != 0, "%s:%d: the server did not close the connection after "
              "its close frame", file, line);
    }
}

/* ---- WebSocket: opening ----------------------------------------------- */

client *ws_open(const char *extra, int rcvbuf)
{
    char req[2048];
    http_resp r;
    client *c = rcvbuf > 0 ? client_connect_small(http_port, rcvbuf)
                           : client_connect(http_port, 0);

    CHECK(c != NULL, "connect to 127.0.0.1:%d: %s", http_port,
          strerror(errno));
    track(c);
    snprintf(req, sizeof req,
             "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: " WS_KEY "\r\n"
             "Sec-WebSocket-Version: 13\r\n%s\r\n",
             http_port, extra ? extra : "");
    CHECK(client_send(c, req) == 0, "send: %s", strerror(errno));
    CHECK(http_read(c, &r, 0) == 0, "the WebSocket handshake: %s", r.head);
    CHECK(r.status == 101, "the WebSocket handshake: %s", r.head);
    const char *accept = http_header(&r, "Sec-WebSocket-Accept");
    CHECK(accept && strcmp(accept, WS_ACCEPT) == 0,
          "Sec-WebSocket-Accept '%s', want '" WS_ACCEPT "'",
          accept ? accept : "(none)");
    const char *up = http_header(&r, "Upgrade");
    CHECK(up && strcasecmp(up, "websocket") == 0, "Upgrade: '%s'",
          up ? up : "(none)");
    return c;
}

client *ws_join(void)
{
    client *c = ws_open(NULL, 0);
    const char *line;

    WS_EXPECT(c, "Server commands");
    while (strncmp(line = ws_next(c), "You are ", 8) != 0)
        CHECK(line[0] == '/', "greeting: expected a help line, got '%s'",
              line);
    snprintf(c->name, sizeof c->name, "%s", line + 8);
    ws_skip_to(c, "You joined main");
    return c;
}
