/*
 * Allocation failure: a chat_allocator that fails the Nth allocation (or
 * every allocation from the Nth on) drives a scripted session for N = 0,
 * 1, 2, ... until a run needs no more than N allocations. Every run must
 * end with every block freed (counted here; ASan in CI checks the rest),
 * never crash, and, when only one allocation failed, leave a broker that
 * still serves a new user.
 *
 * This uses the raw API, not the harness: errors are expected here.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <stdlib.h>
#include <string.h>

typedef struct tally {
    long count;   /* allocations attempted */
    long fail_at; /* index of the allocation to fail; -1: none */
    int fail_rest; /* also fail every allocation after it */
    int failed;   /* a failure was injected */
    long live;    /* blocks allocated and not yet freed */
} tally;

static int should_fail(tally *t)
{
    long idx = t->count++;

    if (t->fail_at < 0)
        return 0;
    if (idx == t->fail_at || (t->fail_rest && idx > t->fail_at)) {
        t->failed = 1;
        return 1;
    }
    return 0;
}

static void *t_malloc(void *ctx, size_t n)
{
    tally *t = ctx;
    void *p;

    if (should_fail(t))
        return NULL;
    p = malloc(n ? n : 1);
    if (p)
        t->live++;
    return p;
}

static void *t_realloc(void *ctx, void *old, size_t n)
{
    tally *t = ctx;
    void *p;

    if (should_fail(t))
        return NULL;
    p = realloc(old, n ? n : 1);
    if (p && old == NULL)
        t->live++;
    return p;
}

static void t_free(void *ctx, void *p)
{
    tally *t = ctx;

    if (p) {
        t->live--;
        free(p);
    }
}

static chat_filter_verdict shout(void *ctx, const chat_filter_msg *m,
                                 char *buf, size_t *len)
{
    (void)ctx;
    for (size_t i = 0; i < m->len; i++)
        buf[i] = (m->text[i] >= 'a' && m->text[i] <= 'z')
                     ? (char)(m->text[i] - 32) : m->text[i];
    *len = m->len;
    return CHAT_FILTER_REWRITE;
}

#define NPEERS 5

typedef struct session {
    chat_broker *b;
    chat_peer *p[NPEERS];
    uint64_t now;
    chat_peer *held; /* not drained: a slow consumer */
} session;

/* One front-end pass: write everything pending except for the held peer;
 * the odd peer is written in halves to exercise partial consumes. */
static void pass(session *s)
{
    chat_peer *p;
    int turn = 0;

    while ((p = chat_broker_next_ready(s->b)) != NULL) {
        chat_iov iov[4];
        size_t k, n = 0;

        if (p == s->held)
            continue;
        k = chat_peer_peek(p, iov, 4);
        for (size_t i = 0; i < k; i++)
            n += iov[i].len;
        if ((turn++ & 1) && n > 1)
            n /= 2;
        chat_peer_consume(s->b, p, n, s->now);
    }
}

static void feed(session *s, int i, const char *text)
{
    if (s->p[i] == NULL)
        return;
    int rc = chat_peer_feed(s->b, s->p[i], text, strlen(text), s->now);
    ck_assert(rc == CHAT_OK || rc == CHAT_ERR_STATE);
    pass(s);
}

static void join(session *s, int i)
{
    chat_peer *sentinel = (chat_peer *)s;
    chat_peer *p = sentinel;
    int rc = chat_broker_join(s->b, s, s->now, &p);

    if (rc == CHAT_OK) {
        ck_assert_ptr_ne(p, sentinel);
        s->p[i] = p;
    } else {
        ck_assert_int_eq(rc, CHAT_ERR_NOMEM);
        ck_assert_ptr_eq(p, sentinel);
    }
    pass(s);
}

static void release(session *s, int i)
{
    chat_peer_release(s->b, s->p[i], s->now);
    if (s->p[i] == s->held)
        s->held = NULL;
    s->p[i] = NULL;
}

static void drain_fully(session *s, chat_peer *p)
{
    while (p && chat_peer_pending(p) > 0) {
        chat_iov iov[8];
        size_t k = chat_peer_peek(p, iov, 8), n = 0;
        for (size_t i = 0; i < k; i++)
            n += iov[i].len;
        chat_peer_consume(s->b, p, n, s->now);
    }
}

/* Write all of p's output, appending it to out (of cap bytes) at *len. */
static void collect(session *s, chat_peer *p, char *out, size_t cap,
                    size_t *len)
{
    while (chat_peer_pending(p) > 0) {
        chat_iov iov[8];
        size_t k = chat_peer_peek(p, iov, 8), n = 0;
        for (size_t i = 0; i < k; i++) {
            ck_assert_uint_lt(*len + iov[i].len, cap);
            memcpy(out + *len, iov[i].base, iov[i].len);
            *len += iov[i].len;
            n += iov[i].len;
        }
        chat_peer_consume(s->b, p, n, s->now);
    }
    out[*len] = '\0';
}

/* After a single failure, a newcomer must still be able to chat. */
static void check_still_serves(session *s, int login)
{
    const char *name = login ? "zed\n" : "/name zed\n";
    chat_peer *z = NULL;
    char out[8192];
    size_t len = 0;

    ck_assert_int_eq(chat_broker_join(s->b, NULL, s->now, &z), CHAT_OK);
    /* The greeting alone passes this session's small high-water mark:
     * write it before chatting, as a live client would. */
    collect(s, z, out, sizeof out, &len);
    ck_assert_int_eq(chat_peer_feed(s->b, z, name, strlen(name), s->now),
                     CHAT_OK);
    collect(s, z, out, sizeof out, &len);
    ck_assert_int_eq(chat_peer_feed(s->b, z, "ping\n", 5, s->now), CHAT_OK);
    collect(s, z, out, sizeof out, &len);
    /* PING if the shouting filter was added, ping if that failed. */
    ck_assert_msg(strstr(out, "zed: PING\n") || strstr(out, "zed: ping\n"),
                  "newcomer got: %s", out);
    chat_peer_release(s->b, z, s->now);
}

static void scripted_session(const chat_allocator *al, tally *t, int login)
{
    session s;
    chat_broker *sentinel = (chat_broker *)&s;
    char flood[64 * 8] = "";
    int rc;

    memset(&s, 0, sizeof s);
    s.now = 5000;
    s.b = sentinel;
    if (chat_broker_new(&s.b, al) != CHAT_OK) {
        ck_assert_ptr_eq(s.b, sentinel);
        return;
    }
    ck_assert_int_eq(chat_broker_set_option(s.b, CHAT_OPT_SEED, 3), CHAT_OK);
    chat_broker_set_option(s.b, CHAT_OPT_HISTORY, 4);
    chat_broker_set_option(s.b, CHAT_OPT_HIGH_WATER, 300);
    chat_broker_set_option(s.b, CHAT_OPT_RATE, 0);
    chat_broker_set_option(s.b, CHAT_OPT_LOGIN_MODE, login);
    chat_broker_set_option(s.b, CHAT_OPT_MAX_PEERS, NPEERS - 1);
    rc = chat_broker_set_default_room(s.b, "lobby");
    ck_assert(rc == CHAT_OK || (rc == CHAT_ERR_NOMEM && t->failed));
    rc = chat_broker_add_filter(s.b, shout, NULL);
    ck_assert(rc == CHAT_OK || (rc == CHAT_ERR_NOMEM && t->failed));

    for (int i = 0; i < NPEERS - 1; i++)
        join(&s, i);
    feed(&s, 0, login ? "alice\n" : "/name alice\n");
    feed(&s, 1, login ? "a\nbob\n" : "/nick bob\n");
    feed(&s, 2, login ? "carol\n" : "/name carol\n");
    feed(&s, 3, login ? "dave\n" : "/name dave\n");
    s.held = s.p[3];
    feed(&s, 0, "hello\n/me waves\n");
    feed(&s, 1, "/join pizza\nin pizza\n/msg alice,nobody psst\n");
    feed(&s, 2, "/rooms\n/users\n/help\n/foo\n\xc0\xaf\n\xff\xfb\x01ok\r\n");
    {
        char *longline = h_repeat('L', 450);
        feed(&s, 2, longline);
        feed(&s, 2, "\n");
        free(longline);
    }
    for (int i = 0; i < 40; i++)
        strcat(flood, "flood line\n");
    feed(&s, 0, flood); /* dave, held, turns slow */
    feed(&s, 1, "/join lobby\n"); /* gets the history */
    join(&s, 4); /* one over the cap: "Server is full" */
    s.now += 1000;
    chat_broker_tick(s.b, s.now);
    pass(&s);
    drain_fully(&s, s.held); /* the drop notice */
    s.held = NULL;
    pass(&s);
    if (s.p[2])
        chat_peer_eof(s.b, s.p[2], s.now);
    feed(&s, 1, "partial");
    feed(&s, 1, " line\n/quit\n");
    pass(&s);
    release(&s, 1);
    release(&s, 2);
    release(&s, 4);
    if (!t->fail_rest) {
        t->fail_at = -1;
        check_still_serves(&s, login);
    }
    chat_broker_shutdown(s.b, s.now);
    pass(&s);
    release(&s, 0);
    /* p[3] is left for chat_broker_free to reclaim. */
    chat_broker_free(s.b);
}

/* A filter that answers later for texts starting with '?'. */
typedef struct later {
    uint64_t token[8];
    int n;
} later;

static chat_filter_verdict ask_later(void *ctx, const chat_filter_msg *m,
                                     char *buf, size_t *len)
{
    later *lt = ctx;
    (void)buf;
    (void)len;
    if (m->text[0] != '?' || lt->n == 8)
        return CHAT_FILTER_ALLOW;
    lt->token[lt->n++] = m->token;
    return CHAT_FILTER_PENDING;
}

static void join_as(session *s, int i, chat_dialect d, int lines)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    chat_peer *p = NULL;
    o.dialect = d;
    o.lines = lines;
    int rc = chat_broker_join_opts(s->b, s, &o, s->now, &p);
    ck_assert(rc == CHAT_OK || rc == CHAT_ERR_NOMEM);
    s->p[i] = rc == CHAT_OK ? p : NULL;
    pass(s);
}

static void feed_line(session *s, int i, const char *text)
{
    if (s->p[i])
        (void)chat_peer_feed_line(s->b, s->p[i], text, strlen(text), 0, s->now);
    pass(s);
}

/* Dialects, a line peer and a filter that answers later, with every
 * allocation failing in turn. */
static void dialect_session(const chat_allocator *al, tally *t, int unused)
{
    session s;
    later lt = {{0}, 0};
    (void)unused;
    memset(&s, 0, sizeof s);
    s.now = 5000;
    if (chat_broker_new(&s.b, al) != CHAT_OK)
        return;
    chat_broker_set_option(s.b, CHAT_OPT_RATE, 0);
    chat_broker_set_option(s.b, CHAT_OPT_HISTORY, 4);
    int rc = chat_broker_add_filter(s.b, ask_later, &lt);
    ck_assert(rc == CHAT_OK || (rc == CHAT_ERR_NOMEM && t->failed));
    join_as(&s, 0, CHAT_DIALECT_CHAT, 0);
    join_as(&s, 1, CHAT_DIALECT_TELEX, 0);
    join_as(&s, 2, CHAT_DIALECT_A_CHAT, 0);
    join_as(&s, 3, CHAT_DIALECT_CHAT, 1);
    feed(&s, 0, "/name alice\nhello all\n");
    feed(&s, 1, "tom\n<tom> here\n/me waves\n");
    feed(&s, 2, "ann\nalice, tom: hi\n");
    feed_line(&s, 3, "/name webby");
    feed_line(&s, 3, "from the web");
    feed(&s, 0, "?may I\nheld one\n/msg ann held two\n");
    feed(&s, 1, "?and I\n");
    for (int i = 0; i < lt.n; i++) {
        (void)chat_broker_filter_resume(s.b, lt.token[i],
                                        i ? CHAT_FILTER_REWRITE
                                          : CHAT_FILTER_ALLOW,
                                        "rewritten", 9, s.now);
        pass(&s);
    }
    feed(&s, 0, "?left waiting\n");
    join_as(&s, 4, CHAT_DIALECT_TELEX, 0); /* replays history in telex */
    feed(&s, 4, "tex\n");
    chat_broker_shutdown(s.b, s.now);
    pass(&s);
    chat_broker_free(s.b);
}

typedef void (*script_fn)(const chat_allocator *al, tally *t, int login);

static void run_script(script_fn fn, int realloc_too, int fail_rest, int login)
{
    long n;

    for (n = 0; n < 200000; n++) {
        tally t = {0, n, fail_rest, 0, 0};
        chat_allocator al = {t_malloc, realloc_too ? t_realloc : NULL,
                             t_free, &t};

        fn(&al, &t, login);
        ck_assert_msg(t.live == 0, "N=%ld: %ld blocks leaked", n, t.live);
        if (!t.failed)
            break;
    }
    ck_assert_msg(n > 10, "the session made only %ld allocations", n);
    ck_assert_msg(n < 200000, "the session never ran without failures");
}

static void run_all(int realloc_too, int fail_rest, int login)
{
    run_script(scripted_session, realloc_too, fail_rest, login);
}

START_TEST(dialects_and_waiting_survive_failed_allocations)
{
    run_script(dialect_session, 1, 0, 0);
    run_script(dialect_session, 1, 1, 0);
}
END_TEST

START_TEST(session_survives_one_failed_allocation_at_every_point)
{
    run_all(1, 0, 0);
}
END_TEST

START_TEST(session_survives_running_out_of_memory_at_every_point)
{
    run_all(1, 1, 0);
}
END_TEST

START_TEST(login_session_survives_one_failed_allocation)
{
    run_all(1, 0, 1);
}
END_TEST

START_TEST(allocator_without_realloc_works)
{
    run_all(0, 0, 0);
}
END_TEST

START_TEST(broker_new_without_memory_leaves_out_untouched)
{
    tally t = {0, 0, 1, 0, 0};
    chat_allocator al = {t_malloc, t_realloc, t_free, &t};
    chat_broker *b = (chat_broker *)&t;

    ck_assert_int_eq(chat_broker_new(&b, &al), CHAT_ERR_NOMEM);
    ck_assert_ptr_eq(b, (chat_broker *)&t);
    ck_assert_int_eq(t.live, 0);
}
END_TEST

START_TEST(broker_uses_only_the_allocator_it_was_given)
{
    tally t = {0, -1, 0, 0, 0};
    chat_allocator al = {t_malloc, t_realloc, t_free, &t};
    session s;

    memset(&s, 0, sizeof s);
    ck_assert_int_eq(chat_broker_new(&s.b, &al), CHAT_OK);
    ck_assert_int_gt(t.live, 0);
    join(&s, 0);
    feed(&s, 0, "hello\n");
    ck_assert_int_gt(t.count, 1);
    chat_broker_free(s.b);
    ck_assert_int_eq(t.live, 0);
}
END_TEST

/* Out of memory for "Server shutting down...": every user still gets what
 * was already queued for them (the close flushes), only the line is lost. */
START_TEST(shutdown_without_memory_still_flushes_pending_output)
{
    tally t = {0, -1, 0, 0, 0};
    chat_allocator al = {t_malloc, t_realloc, t_free, &t};
    session s;

    memset(&s, 0, sizeof s);
    ck_assert_int_eq(chat_broker_new(&s.b, &al), CHAT_OK);
    join(&s, 0);
    join(&s, 1);
    s.held = s.p[1];
    feed(&s, 0, "for the one who is not reading yet\n");
    size_t pending = chat_peer_pending(s.p[1]);
    ck_assert_uint_gt(pending, 0);
    t.fail_at = t.count; /* every allocation from here on fails */
    t.fail_rest = 1;
    chat_broker_shutdown(s.b, s.now);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(chat_peer_close_reason(s.p[i]), CHAT_CLOSE_SHUTDOWN);
    ck_assert_uint_eq(chat_peer_pending(s.p[1]), pending);
    chat_broker_free(s.b);
    ck_assert_int_eq(t.live, 0);
}
END_TEST

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("allocation failure");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, session_survives_one_failed_allocation_at_every_point);
    tcase_add_test(tc, session_survives_running_out_of_memory_at_every_point);
    tcase_add_test(tc, login_session_survives_one_failed_allocation);
    tcase_add_test(tc, allocator_without_realloc_works);
    tcase_add_test(tc, broker_new_without_memory_leaves_out_untouched);
    tcase_add_test(tc, broker_uses_only_the_allocator_it_was_given);
    tcase_add_test(tc, shutdown_without_memory_still_flushes_pending_output);
    tcase_add_test(tc, dialects_and_waiting_survive_failed_allocations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return h_run_suite(alloc_suite());
}
