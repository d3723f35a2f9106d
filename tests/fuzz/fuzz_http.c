/*
 * Fuzz chatd's HTTP request-head parser and the WebSocket handshake
 * (server/http.c).
 *
 * Input: byte 0 seeds how the head is cut into reads, byte 1 picks the
 * head bound (0: the default 8 KiB, else 16 + 4 * byte), the rest is what
 * a client sent.
 *
 * Checks:
 *   - split points do not change the outcome: one read and reads of
 *     pseudo-random sizes give the same result, the same bytes consumed
 *     and the same parsed request, byte for byte;
 *   - every read comes in a buffer of exactly its size (ASan sees reads
 *     past it), and every string of the result is NUL-terminated inside
 *     its buffer;
 *   - results are MORE (all consumed), DONE (within the bound), or one of
 *     the documented statuses;
 *   - on DONE, the handshake, the origin check and a response built from
 *     the rest of the input stay inside buffers of every size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* Parse in reads whose sizes come from seed (0: one read). */
static int parse(struct chatd_http_parser *p, const uint8_t *data,
                 size_t size, unsigned seed, size_t max_head, size_t *used)
{
    uint32_t s = seed * 2654435761u + 1;
    int r = CHATD_HTTP_MORE;
    chatd_http_init(p, max_head);
    *used = 0;
    for (size_t off = 0; off < size && r == CHATD_HTTP_MORE;) {
        size_t n = size - off, u;
        if (seed) {
            s = s * 1103515245u + 12345u;
            size_t want = 1 + (s >> 16) % 31;
            n = n < want ? n : want;
        }
        char *buf = malloc(n);
        if (!buf)
            abort();
        memcpy(buf, data + off, n);
        r = chatd_http_parse(p, buf, n, &u);
        free(buf);
        if (u > n || (r == CHATD_HTTP_MORE && u != n))
            abort();
        *used += u;
        off += n;
    }
    return r;
}

static void terminated(const char *s, size_t size)
{
    if (!memchr(s, '\0', size))
        abort();
}

static void check_request(const struct chatd_http_req *q)
{
    terminated(q->method, sizeof q->method);
    terminated(q->path, sizeof q->path);
    terminated(q->query, sizeof q->query);
    terminated(q->host, sizeof q->host);
    terminated(q->connection, sizeof q->connection);
    terminated(q->upgrade, sizeof q->upgrade);
    terminated(q->ws_key, sizeof q->ws_key);
    terminated(q->ws_version, sizeof q->ws_version);
    terminated(q->origin, sizeof q->origin);
}

static int known_result(int r)
{
    return r == CHATD_HTTP_MORE || r == CHATD_HTTP_DONE || r == 400 ||
           r == 414 || r == 431 || r == 501 || r == 505;
}

/* The router's helpers, with output buffers of the exact size asked. */
static void use_request(const struct chatd_http_req *q, const uint8_t *rest,
                        size_t rest_len, unsigned seed)
{
    size_t cap = seed % 600, len;
    char *out = malloc(cap ? cap : 1);
    if (!out)
        abort();
    int st = chatd_ws_handshake(q, out, cap, &len);
    if (len > cap || (st != -1 && st != 101 && st != 400 && st != 405 &&
                      st != 426 && st != 500) ||
        (st == -1) != (len == 0))
        abort();
    (void)chatd_ws_origin_allowed(q->origin, q->host);
    (void)chatd_http_keep_alive(q);
    size_t n = chatd_http_response(out, cap, 404, q->ws_version[0] ? q->host : NULL,
                                   (const char *)rest, rest_len,
                                   q->origin[0] ? q->origin : NULL);
    if (n > cap)
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct chatd_http_parser whole, split;
    size_t u1, u2;
    if (size < 2)
        return 0;
    unsigned seed = data[0] | 1;
    size_t max_head = data[1] ? 16 + 4 * (size_t)data[1] : 0;
    data += 2;
    size -= 2;
    int r1 = parse(&whole, data, size, 0, max_head, &u1);
    int r2 = parse(&split, data, size, seed, max_head, &u2);
    if (r1 != r2 || u1 != u2 || !known_result(r1) ||
        memcmp(&whole.req, &split.req, sizeof whole.req) != 0)
        abort();
    check_request(&whole.req);
    if (u1 > (max_head ? max_head : CHATD_HTTP_HEAD_MAX))
        abort();
    if (r1 == CHATD_HTTP_DONE)
        use_request(&whole.req, data + u1, size - u1, seed);
    return 0;
}
