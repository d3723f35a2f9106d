/*
 * The decoder's test harness: see ws_harness.h.
 */
#include "ws_harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ws_stream st;

/*
 * Check records every passing ck_assert (its "last checkpoint"), which is
 * slow in the loops here that run millions of times: those check with
 * REQUIRE, which costs nothing until it fails.
 */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);               \
    } while (0)

static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};

void st_reset(void)
{
    st.len = 0;
}

static void put_byte(unsigned b)
{
    REQUIRE(st.len < WS_STREAM_MAX);
    st.buf[st.len++] = (unsigned char)b;
}

static void put_header(unsigned b0, int masked, unsigned long long n)
{
    unsigned m = masked ? 0x80 : 0;
    put_byte(b0);
    if (n < 126) {
        put_byte(m | (unsigned)n);
    } else if (n < 65536) {
        put_byte(m | 126);
        put_byte((unsigned)(n >> 8) & 0xff);
        put_byte((unsigned)n & 0xff);
    } else {
        put_byte(m | 127);
        for (int i = 7; i >= 0; i--)
            put_byte((unsigned)(n >> (8 * i)) & 0xff);
    }
    if (masked)
        for (int i = 0; i < 4; i++)
            put_byte(key[i]);
}

static void put_frame(unsigned b0, int masked, const void *payload, size_t n)
{
    const unsigned char *p = payload;
    put_header(b0, masked, n);
    for (size_t i = 0; i < n; i++)
        put_byte(masked ? p[i] ^ key[i & 3] : p[i]);
}

void st_put(unsigned b0, const void *payload, size_t n)
{
    put_frame(b0, 1, payload, n);
}

void st_put_str(unsigned b0, const char *s)
{
    put_frame(b0, 1, s, strlen(s));
}

void st_put_unmasked(unsigned b0, const void *payload, size_t n)
{
    put_frame(b0, 0, payload, n);
}

void st_put_len64(unsigned b0, unsigned long long len)
{
    put_byte(b0);
    put_byte(0x80 | 127);
    for (int i = 7; i >= 0; i--)
        put_byte((unsigned)(len >> (8 * i)) & 0xff);
    for (int i = 0; i < 4; i++)
        put_byte(key[i]);
}

/* ---- the log ---------------------------------------------------------- */

void log_init(struct ws_log *lg)
{
    memset(lg, 0, sizeof *lg);
    /* Text never outgrows the stream it came in. */
    lg->cap = st.len + 1;
    lg->data = malloc(lg->cap);
    REQUIRE(lg->data != NULL);
}

void log_free(struct ws_log *lg)
{
    free(lg->data);
    lg->data = NULL;
}

const unsigned char *log_data(const struct ws_log *lg, size_t i)
{
    return lg->data + lg->ev[i].off;
}

static void add_data(struct ws_log *lg, const char *p, size_t n)
{
    REQUIRE(lg->data_len + n <= lg->cap);
    if (n)
        memcpy(lg->data + lg->data_len, p, n);
    lg->data_len += n;
}

static int on_event(void *ctx, const struct chatd_ws_event *e)
{
    struct ws_log *lg = ctx;
    struct ws_ev *last = lg->n ? &lg->ev[lg->n - 1] : NULL;
    if (e->type == CHATD_WS_TEXT) {
        lg->pieces++;
        if (e->len == 0 && !e->fin)
            lg->bad_piece = 1;
        if (last && last->type == CHATD_WS_TEXT && !last->fin) {
            add_data(lg, e->data, e->len); /* the same message goes on */
            last->len += e->len;
            last->fin = e->fin;
            return 0;
        }
    }
    REQUIRE(lg->n < WS_LOG_EVENTS);
    struct ws_ev *ev = &lg->ev[lg->n++];
    ev->type = e->type;
    ev->fin = e->fin;
    ev->code = e->code;
    ev->off = lg->data_len;
    /* A FAIL's reason is for people; a test checks there is one. */
    if (e->type == CHATD_WS_FAIL) {
        REQUIRE(e->len > 0);
        ev->len = 0;
    } else {
        add_data(lg, e->data, e->len);
        ev->len = e->len;
    }
    return 0;
}

/* Feed [a, b) of s from a buffer of exactly that size (ASan sees any
 * read past it). Returns 0 once the decoder stops taking bytes. */
static int feed_piece(struct chatd_ws_decoder *d, const unsigned char *s,
                      size_t a, size_t b, struct ws_log *lg)
{
    size_t n = b - a;
    unsigned char *buf = malloc(n ? n : 1);
    REQUIRE(buf != NULL);
    memcpy(buf, s + a, n);
    size_t used = chatd_ws_feed(d, buf, n, on_event, lg);
    free(buf);
    REQUIRE(used <= n);
    lg->used += used;
    if (used < n)
        REQUIRE(chatd_ws_finished(d));
    return used == n;
}

void decode_chunks(const unsigned char *s, size_t n, size_t chunk,
                   unsigned long long max_message, struct ws_log *lg)
{
    struct chatd_ws_decoder d;
    chatd_ws_init(&d, max_message);
    if (chunk == 0)
        chunk = n ? n : 1;
    for (size_t a = 0; a < n; a += chunk)
        if (!feed_piece(&d, s, a, a + chunk < n ? a + chunk : n, lg))
            break;
    /* Once finished, nothing more is taken. */
    if (chatd_ws_finished(&d)) {
        unsigned char more[3] = {0x81, 0x80, 0};
        REQUIRE(chatd_ws_feed(&d, more, 3, on_event, lg) == 0);
    }
}

void decode_split(const unsigned char *s, size_t n, size_t k,
                  unsigned long long max_message, struct ws_log *lg)
{
    struct chatd_ws_decoder d;
    chatd_ws_init(&d, max_message);
    if (feed_piece(&d, s, 0, k, lg))
        feed_piece(&d, s, k, n, lg);
}

int log_same(const struct ws_log *a, const struct ws_log *b)
{
    if (a->n != b->n || a->used != b->used)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct ws_ev *x = &a->ev[i], *y = &b->ev[i];
        if (x->type != y->type || x->fin != y->fin || x->code != y->code ||
            x->len != y->len ||
            memcmp(log_data(a, i), log_data(b, i), x->len) != 0)
            return 0;
    }
    return 1;
}

static void check_want(const struct ws_log *lg, const struct want *w,
                       size_t n)
{
    ck_assert_int_eq(lg->bad_piece, 0);
    ck_assert_uint_eq(lg->n, n);
    for (size_t i = 0; i < n; i++) {
        const struct ws_ev *e = &lg->ev[i];
        ck_assert_msg(e->type == w[i].type, "event %zu: type %d, want %d", i,
                      (int)e->type, (int)w[i].type);
        ck_assert_msg(e->fin == w[i].fin, "event %zu: fin %d", i, e->fin);
        ck_assert_msg(e->code == w[i].code, "event %zu: code %u, want %u", i,
                      e->code, w[i].code);
        if (w[i].data) {
            ck_assert_msg(e->len == w[i].len, "event %zu: %zu bytes, want %zu",
                          i, e->len, w[i].len);
            ck_assert(memcmp(log_data(lg, i), w[i].data, e->len) == 0);
        }
    }
    /* The stream is used up unless it ended with CLOSE or FAIL. */
    if (!n || (w[n - 1].type != CHATD_WS_CLOSE && w[n - 1].type != CHATD_WS_FAIL))
        ck_assert_uint_eq(lg->used, st.len);
}

/* Every split of a stream this short is tried. */
#define ALL_SPLITS_MAX 4096

size_t expect_events(const struct want *want, size_t n)
{
    struct ws_log whole, other;
    log_init(&whole);
    decode_chunks(st.buf, st.len, 0, 0, &whole);
    check_want(&whole, want, n);
    size_t chunks[] = {1, 2, 3, 7, 997};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        log_init(&other);
        decode_chunks(st.buf, st.len, chunks[i], 0, &other);
        if (!log_same(&whole, &other))
            ck_abort_msg("reads of %zu bytes differ", chunks[i]);
        log_free(&other);
    }
    for (size_t k = 0; st.len <= ALL_SPLITS_MAX && k <= st.len; k++) {
        log_init(&other);
        decode_split(st.buf, st.len, k, 0, &other);
        if (!log_same(&whole, &other))
            ck_abort_msg("split at %zu differs", k);
        log_free(&other);
    }
    size_t used = whole.used;
    log_free(&whole);
    return used;
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
