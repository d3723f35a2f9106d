/* The unit-test harness: see harness.h. */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fixed seed keeps random names the same from run to run. */
#define H_SEED 12345

/* How much of a mismatching buffer a failure message shows. */
#define H_SHOW_MAX 1500

static void *h_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    ck_assert_msg(p != NULL, "test harness out of memory");
    return p;
}

/* Render bytes for a failure message: printable ASCII as is, the rest escaped. */
static char *h_escape(const char *s, size_t n)
{
    size_t shown = n > H_SHOW_MAX ? H_SHOW_MAX : n;
    char *out = h_xmalloc(shown * 4 + 32);
    size_t o = 0;

    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            o += (size_t)sprintf(out + o, "\\n");
        } else if (c == '\\') {
            o += (size_t)sprintf(out + o, "\\\\");
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            o += (size_t)sprintf(out + o, "\\x%02x", c);
        }
    }
    if (shown < n)
        o += (size_t)sprintf(out + o, "...(%zu bytes)", n);
    out[o] = '\0';
    return out;
}

static void h_append(h_peer *p, const void *data, size_t n)
{
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < p->len + n)
            cap *= 2;
        char *nb = realloc(p->buf, cap);
        ck_assert_msg(nb != NULL, "test harness out of memory");
        p->buf = nb;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, n);
    p->len += n;
    p->total += n;
}

h_harness *h_new_alloc(const chat_allocator *alloc)
{
    h_harness *h = h_xmalloc(sizeof *h);

    memset(h, 0, sizeof *h);
    ck_assert_int_eq(chat_broker_new(&h->b, alloc), CHAT_OK);
    ck_assert_ptr_nonnull(h->b);
    ck_assert_int_eq(chat_broker_set_option(h->b, CHAT_OPT_SEED, H_SEED),
                     CHAT_OK);
    h->now = 1000000; /* any origin: not zero, to catch "0 means unset" */
    return h;
}

h_harness *h_new(void)
{
    return h_new_alloc(NULL);
}

void h_free(h_harness *h)
{
    if (h == NULL)
        return;
    chat_broker_free(h->b);
    for (size_t i = 0; i < h->npeers; i++) {
        free(h->peers[i]->buf);
        free(h->peers[i]);
    }
    free(h->peers);
    free(h);
}

void h_opt_at(const char *file, int line, h_harness *h, chat_option opt,
              int64_t val)
{
    int rc = chat_broker_set_option(h->b, opt, val);

    if (rc != CHAT_OK)
        _ck_assert_failed(file, line, "h_opt failed",
                          "chat_broker_set_option(%d, %lld) = %d (%s)",
                          (int)opt, (long long)val, rc, chat_strerror(rc));
    if (opt == CHAT_OPT_LOGIN_MODE)
        h->login = val != 0;
}

static h_peer *h_add_peer(h_harness *h)
{
    h_peer *p = h_xmalloc(sizeof *p);

    memset(p, 0, sizeof *p);
    p->h = h;
    if (h->npeers == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        h_peer **np = realloc(h->peers, cap * sizeof *np);
        ck_assert_msg(np != NULL, "test harness out of memory");
        h->peers = np;
        h->cap = cap;
    }
    h->peers[h->npeers++] = p;
    return p;
}

h_peer *h_join_at(const char *file, int line, h_harness *h)
{
    h_peer *p = h_add_peer(h);
    int rc = chat_broker_join(h->b, p, h->now, &p->p);

    if (rc != CHAT_OK)
        _ck_assert_failed(file, line, "h_join failed",
                          "chat_broker_join = %d (%s)", rc, chat_strerror(rc));
    if (p->p == NULL)
        _ck_assert_failed(file, line, "h_join failed", "no peer returned");
    h_pump(h);
    return p;
}

h_peer *h_join_opts_at(const char *file, int line, h_harness *h,
                       const chat_peer_options *opt)
{
    h_peer *p = h_add_peer(h);
    int rc = chat_broker_join_opts(h->b, p, opt, h->now, &p->p);

    if (rc != CHAT_OK || p->p == NULL)
        _ck_assert_failed(file, line, "h_join_opts failed",
                          "chat_broker_join_opts = %d (%s)", rc,
                          chat_strerror(rc));
    h_pump(h);
    return p;
}

h_peer *h_join_dialect_at(const char *file, int line, h_harness *h,
                          chat_dialect d, const char *name)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    o.dialect = d;
    h_peer *p = h_join_opts_at(file, line, h, &o);
    if (name) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "%s%s\n",
                 d == CHAT_DIALECT_CHAT && !h->login ? "/name " : "", name);
        h_send(p, cmd);
        if (strcmp(h_name(p), name) != 0)
            _ck_assert_failed(file, line, "h_join_dialect failed",
                              "wanted name '%s', peer is '%s'", name,
                              h_name(p));
    }
    h_clear_all(h);
    return p;
}

const void *h_first_piece(const h_peer *p)
{
    chat_iov iov[1];
    ck_assert_uint_gt(chat_peer_peek(p->p, iov, 1), 0);
    return iov[0].base;
}

int h_send_line(h_peer *p, const char *s)
{
    int rc;

    ck_assert_ptr_nonnull(p->p);
    rc = chat_peer_feed_line(p->h->b, p->p, s, strlen(s), 0, p->h->now);
    h_pump(p->h);
    return rc;
}

h_peer *h_join_as_at(const char *file, int line, h_harness *h,
                     const char *name)
{
    h_peer *p = h_join_at(file, line, h);
    size_t n = strlen(name);
    char *cmd = h_xmalloc(n + 8);

    sprintf(cmd, "%s%s\n", h->login ? "" : "/name ", name);
    h_send(p, cmd);
    free(cmd);
    if (strcmp(h_name(p), name) != 0)
        _ck_assert_failed(file, line, "h_join_as failed",
                          "wanted name '%s', peer is '%s'", name, h_name(p));
    h_clear_all(h);
    return p;
}

int h_sendn(h_peer *p, const void *data, size_t len)
{
    int rc;

    ck_assert_ptr_nonnull(p->p);
    rc = chat_peer_feed(p->h->b, p->p, data, len, p->h->now);
    h_pump(p->h);
    return rc;
}

int h_send(h_peer *p, const char *s)
{
    return h_sendn(p, s, strlen(s));
}

void h_send_bytewise(h_peer *p, const void *data, size_t len)
{
    const unsigned char *d = data;

    ck_assert_ptr_nonnull(p->p);
    for (size_t i = 0; i < len; i++) {
        chat_peer_feed(p->h->b, p->p, d + i, 1, p->h->now);
        h_pump(p->h);
    }
}

void h_eof(h_peer *p)
{
    ck_assert_ptr_nonnull(p->p);
    chat_peer_eof(p->h->b, p->p, p->h->now);
    h_pump(p->h);
}

void h_release(h_peer *p)
{
    ck_assert_ptr_nonnull(p->p);
    chat_peer_release(p->h->b, p->p, p->h->now);
    p->p = NULL;
    h_pump(p->h);
}

void h_at(h_harness *h, uint64_t t)
{
    h->now = t;
    chat_broker_tick(h->b, h->now);
    h_pump(h);
}

void h_advance(h_harness *h, uint64_t ms)
{
    h_at(h, h->now + ms);
}

size_t h_drain_n(h_peer *p, size_t n)
{
    size_t done = 0;

    ck_assert_ptr_nonnull(p->p);
    while (done < n && chat_peer_pending(p->p) > 0) {
        chat_iov iov[16];
        size_t k = chat_peer_peek(p->p, iov, 16);
        size_t take = 0;

        ck_assert_msg(k > 0, "pending output but peek gave no pieces");
        for (size_t i = 0; i < k && done + take < n; i++) {
            size_t m = iov[i].len;
            if (m > n - done - take)
                m = n - done - take;
            h_append(p, iov[i].base, m);
            take += m;
        }
        chat_peer_consume(p->h->b, p->p, take, p->h->now);
        done += take;
    }
    return done;
}

size_t h_drain(h_peer *p)
{
    return h_drain_n(p, SIZE_MAX);
}

void h_pump(h_harness *h)
{
    chat_peer *cp;

    while ((cp = chat_broker_next_ready(h->b)) != NULL) {
        h_peer *p = chat_peer_user(cp);

        ck_assert_msg(p != NULL && p->p == cp,
                      "next_ready returned a peer the harness does not know");
        if (!p->hold)
            h_drain(p);
    }
}

void h_hold(h_peer *p, int on)
{
    p->hold = on;
}

void h_clear(h_peer *p)
{
    p->len = 0;
}

void h_clear_all(h_harness *h)
{
    for (size_t i = 0; i < h->npeers; i++)
        h_clear(h->peers[i]);
}

const char *h_name(const h_peer *p)
{
    const char *n = p->p ? chat_peer_name(p->p) : NULL;

    return n ? n : "";
}

const char *h_room(const h_peer *p)
{
    const char *r = p->p ? chat_peer_room(p->p) : NULL;

    return r ? r : "";
}

chat_close_reason h_reason(const h_peer *p)
{
    ck_assert_ptr_nonnull(p->p);
    return chat_peer_close_reason(p->p);
}

size_t h_pending(const h_peer *p)
{
    ck_assert_ptr_nonnull(p->p);
    return chat_peer_pending(p->p);
}

char *h_take_line(h_peer *p)
{
    char *nl = p->len ? memchr(p->buf, '\n', p->len) : NULL;
    size_t n;
    char *line;

    if (nl == NULL)
        return NULL;
    n = (size_t)(nl - p->buf);
    line = h_xmalloc(n + 1);
    memcpy(line, p->buf, n);
    line[n] = '\0';
    memmove(p->buf, nl + 1, p->len - n - 1);
    p->len -= n + 1;
    return line;
}

size_t h_count_lines(const h_peer *p)
{
    size_t n = 0;

    for (size_t i = 0; i < p->len; i++)
        n += p->buf[i] == '\n';
    return n;
}

int h_has_line(const h_peer *p, const char *line)
{
    size_t n = strlen(line);
    size_t start = 0;

    for (size_t i = 0; i < p->len; i++) {
        if (p->buf[i] != '\n')
            continue;
        if (i - start == n && memcmp(p->buf + start, line, n) == 0)
            return 1;
        start = i + 1;
    }
    return 0;
}

char *h_help_text(void)
{
    h_harness *tmp = h_new();
    h_peer *p;
    char *you;
    char *text;
    size_t n;

    p = h_join(tmp);
    ck_assert_msg(p->len > 0, "a joining peer got no greeting");
    you = NULL;
    for (size_t i = 0; i + 8 <= p->len; i++) {
        if ((i == 0 || p->buf[i - 1] == '\n') &&
            memcmp(p->buf + i, "You are ", 8) == 0) {
            you = p->buf + i;
            break;
        }
    }
    ck_assert_msg(you != NULL, "no 'You are' line in the greeting");
    n = (size_t)(you - p->buf);
    text = h_xmalloc(n + 1);
    memcpy(text, p->buf, n);
    text[n] = '\0';
    h_free(tmp);
    return text;
}

static void h_fail_diff(const char *file, int line, const char *what,
                        const char *want, size_t wn, const char *got,
                        size_t gn)
{
    char *w = h_escape(want, wn);
    char *g = h_escape(got, gn);

    _ck_assert_failed(file, line, what, "expected \"%s\"\n     got \"%s\"", w,
                      g);
}

/* Concatenate a NULL-terminated list of strings. */
static char *h_concat(va_list ap, size_t *out_len)
{
    size_t len = 0, cap = 256;
    char *all = h_xmalloc(cap);
    const char *s;

    while ((s = va_arg(ap, const char *)) != NULL) {
        size_t n = strlen(s);
        if (len + n + 1 > cap) {
            while (len + n + 1 > cap)
                cap *= 2;
            char *na = realloc(all, cap);
            ck_assert_msg(na != NULL, "test harness out of memory");
            all = na;
        }
        memcpy(all + len, s, n);
        len += n;
    }
    all[len] = '\0';
    *out_len = len;
    return all;
}

void h_expect_lines(const char *file, int line, h_peer *p, ...)
{
    va_list ap;
    size_t n;
    char *want;

    va_start(ap, p);
    want = h_concat(ap, &n);
    va_end(ap);
    if (n != p->len || memcmp(want, p->buf, n) != 0)
        h_fail_diff(file, line, "expect_lines", want, n, p->buf, p->len);
    free(want);
    h_clear(p);
}

void h_expect_out(const char *file, int line, h_peer *p, const char *s,
                  size_t n)
{
    if (n != p->len || memcmp(s, p->buf, n) != 0)
        h_fail_diff(file, line, "expect_out", s, n, p->buf, p->len);
    h_clear(p);
}

void h_expect_nothing(const char *file, int line, h_peer *p)
{
    if (p->len != 0)
        h_fail_diff(file, line, "expect_nothing", "", 0, p->buf, p->len);
}

void h_expect_prefix(const char *file, int line, h_peer *p, const char *s)
{
    size_t n = strlen(s);

    if (p->len < n || memcmp(p->buf, s, n) != 0)
        h_fail_diff(file, line, "expect_prefix", s, n, p->buf, p->len);
    memmove(p->buf, p->buf + n, p->len - n);
    p->len -= n;
}

void h_expect_any(const char *file, int line, h_peer *p, ...)
{
    va_list ap;
    const char *s;
    char *copy = h_xmalloc(p->len + 1);
    size_t clen = p->len;

    /* Remove each expected line from a copy; what is left is unexpected. */
    memcpy(copy, p->buf, p->len);
    va_start(ap, p);
    while ((s = va_arg(ap, const char *)) != NULL) {
        size_t n = strlen(s), i = 0, start = 0;
        int found = 0;
        for (; i < clen && !found; i++) {
            if (copy[i] != '\n')
                continue;
            if (i + 1 - start == n && memcmp(copy + start, s, n) == 0) {
                memmove(copy + start, copy + i + 1, clen - i - 1);
                clen -= n;
                found = 1;
            }
            start = i + 1;
        }
        if (!found)
            h_fail_diff(file, line, "expect_lines_any_order: missing line", s,
                        n, p->buf, p->len);
    }
    va_end(ap);
    if (clen != 0)
        h_fail_diff(file, line, "expect_lines_any_order: extra output", "", 0,
                    copy, clen);
    free(copy);
    h_clear(p);
}

char *h_repeat(char c, size_t n)
{
    char *s = h_xmalloc(n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

int h_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
