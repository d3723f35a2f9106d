/*
 * chat-bench: RESP2 replies, read one line at a time. The connection's
 * framer already splits the stream at "\n" and drops the "\r", so a reply
 * is a sequence of lines: a type line ("+", "-", ":", "$", "*") and, after
 * "$N", one line of exactly N bytes. Pub/sub needs no more than arrays of
 * scalars, so there is no nesting and no buffering: every element is acted
 * on as its line arrives, and a message's payload is handed over where the
 * framer holds it.
 */
#include <string.h>

#include "bench.h"

enum array_kind { ARRAY_OTHER, ARRAY_MESSAGE, ARRAY_SUBSCRIBE };

static int is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* The decimal number (optionally negative) that is the whole of s. */
static int get_int(const char *s, size_t len, long long *v)
{
    long long x = 0;
    int neg = len > 0 && s[0] == '-';
    size_t i = (size_t)neg;

    if (i == len)
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || x > (0x7fffffffffffffffLL - 9) / 10)
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = neg ? -x : x;
    return 0;
}

static enum bench_resp_kind set(struct bench_resp_event *ev,
                                enum bench_resp_kind k, const char *data,
                                size_t len)
{
    ev->data = data;
    ev->len = len;
    return k;
}

/* One element of an array (a bulk string's bytes, or a scalar). */
static enum bench_resp_kind element(struct bench_resp *r, const char *s,
                                    size_t len, struct bench_resp_event *ev)
{
    unsigned i = r->index++;
    int what = r->what;

    r->items--;
    if (i == 0)
        r->what = is(s, len, "message")     ? ARRAY_MESSAGE
                  : is(s, len, "subscribe") ? ARRAY_SUBSCRIBE
                                            : ARRAY_OTHER;
    if (r->items == 0)
        r->index = 0;
    if (i == 1 && what == ARRAY_SUBSCRIBE)
        return set(ev, BENCH_RESP_SUBSCRIBED, s, len);
    if (i == 2 && what == ARRAY_MESSAGE)
        return set(ev, BENCH_RESP_MESSAGE, s, len);
    return i == 0 ? BENCH_RESP_NONE : BENCH_RESP_OTHER;
}

/* A line that starts with its type byte. */
static enum bench_resp_kind typed(struct bench_resp *r, const char *line,
                                  size_t len, struct bench_resp_event *ev)
{
    long long n;

    if (len == 0)
        return BENCH_RESP_BAD;
    switch (line[0]) {
    case '+':
    case '-':
        if (r->items > 0)
            return element(r, line + 1, len - 1, ev);
        return set(ev, line[0] == '+' ? BENCH_RESP_STATUS : BENCH_RESP_ERROR,
                   line + 1, len - 1);
    case ':':
        if (get_int(line + 1, len - 1, &n) < 0)
            return BENCH_RESP_BAD;
        if (r->items > 0)
            return element(r, line + 1, len - 1, ev);
        ev->value = n;
        return set(ev, BENCH_RESP_INTEGER, line + 1, len - 1);
    case '$':
        if (get_int(line + 1, len - 1, &n) < 0 || n < -1)
            return BENCH_RESP_BAD;
        if (n == -1) /* the null bulk string: an element with no bytes */
            return r->items > 0 ? element(r, "", 0, ev) : BENCH_RESP_OTHER;
        r->in_bulk = 1;
        r->bulk = n;
        return BENCH_RESP_NONE;
    case '*':
        /* Pub/sub replies are flat: an array inside one is not ours. */
        if (get_int(line + 1, len - 1, &n) < 0 || n < -1 || r->items > 0)
            return BENCH_RESP_BAD;
        if (n <= 0)
            return BENCH_RESP_OTHER;
        r->items = n;
        r->index = 0;
        return BENCH_RESP_NONE;
    default:
        return BENCH_RESP_BAD;
    }
}

enum bench_resp_kind bench_resp_line(struct bench_resp *r, const char *line,
                                     size_t len, struct bench_resp_event *ev)
{
    ev->data = NULL;
    ev->len = 0;
    ev->value = 0;
    if (!r->in_bulk)
        return typed(r, line, len, ev);
    r->in_bulk = 0;
    /* Shorter than announced: the string held a line break. */
    if ((long long)len != r->bulk)
        return BENCH_RESP_BAD;
    if (r->items > 0)
        return element(r, line, len, ev);
    return set(ev, BENCH_RESP_OTHER, line, len);
}
