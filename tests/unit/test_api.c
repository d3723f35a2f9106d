/*
 * The API around the protocol: two brokers in one process, chat_strerror,
 * chat_version, close reasons, option validation, stats, and the output
 * calls (next_ready, peek, consume, pending).
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- two brokers ---------------------------------------------------------- */

START_TEST(two_brokers_in_one_process_are_independent)
{
    h_harness *h1 = h_new(), *h2 = h_new();
    h_peer *a1, *b1, *a2, *b2;

    h_opt(h1, CHAT_OPT_RATE, 0);
    a1 = h_join_as(h1, "alice");
    b1 = h_join_as(h1, "bob");
    a2 = h_join_as(h2, "alice"); /* the same name, another broker */
    b2 = h_join_as(h2, "bob");
    h_send(a1, "only in one\n");
    expect_lines(b1, "alice: only in one\n");
    expect_nothing(b2);
    expect_nothing(a2);
    h_send(b1, "/rooms\n");
    expect_lines(b1, "Rooms - main (2)\n");
    h_send(a2, "/join two\n");
    h_send(b1, "/rooms\n");
    expect_lines(b1, "Rooms - main (2)\n");
    /* Options are per broker: h2 still limits at 40. */
    for (int i = 0; i < 50; i++)
        h_send(a1, "x\n");
    h_clear_all(h2);
    for (int i = 0; i < 50; i++)
        h_send(b2, "x\n");
    ck_assert(h_has_line(b2, "You are sending too fast, slow down"));
    /* Shutting one down leaves the other running. */
    chat_broker_shutdown(h1->b, h1->now);
    h_pump(h1);
    ck_assert_int_eq(h_reason(b2), CHAT_CLOSE_NONE);
    h_free(h1);
    h_advance(h2, 60000); /* b2's rate limit refills */
    h_clear_all(h2);
    h_send(b2, "/users\n");
    expect_lines(b2, "Users - bob\n");
    h_free(h2);
}
END_TEST

START_TEST(same_seed_gives_the_same_names_in_each_broker)
{
    h_harness *h1 = h_new(), *h2 = h_new();

    for (int i = 0; i < 20; i++) {
        h_peer *p1 = h_join(h1), *p2 = h_join(h2);
        ck_assert_str_eq(h_name(p1), h_name(p2));
    }
    h_free(h1);
    h_free(h2);
}
END_TEST

/* ---- errors, version, reasons ---------------------------------------------- */

START_TEST(strerror_names_every_error)
{
    static const int codes[] = {CHAT_OK, CHAT_ERR_NOMEM, CHAT_ERR_INVALID,
                                CHAT_ERR_STATE, CHAT_ERR_NOT_FOUND};
    size_t n = sizeof codes / sizeof *codes;

    for (size_t i = 0; i < n; i++) {
        const char *s = chat_strerror(codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(s, chat_strerror(codes[j]));
    }
    ck_assert_ptr_nonnull(chat_strerror(-999));
    ck_assert_ptr_nonnull(chat_strerror(42));
    ck_assert_uint_gt(strlen(chat_strerror(-999)), 0);
}
END_TEST

START_TEST(version_is_major_minor_patch)
{
    const char *v = chat_version();
    unsigned a, b, c;
    char tail;

    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(sscanf(v, "%u.%u.%u%c", &a, &b, &c, &tail), 3);
}
END_TEST

static const struct {
    chat_close_reason r;
    int flushes;
} reasons[] = {
    {CHAT_CLOSE_QUIT, 1},     {CHAT_CLOSE_EOF, 1},
    {CHAT_CLOSE_IDLE, 1},     {CHAT_CLOSE_LOGIN_TIMEOUT, 1},
    {CHAT_CLOSE_FULL, 1},     {CHAT_CLOSE_SHUTDOWN, 1},
    {CHAT_CLOSE_SLOW, 0},     {CHAT_CLOSE_WRITE_TIMEOUT, 0},
    {CHAT_CLOSE_NOMEM, 0},
};

START_TEST(close_reasons_have_words_and_flush_rules)
{
    size_t n = sizeof reasons / sizeof *reasons;

    ck_assert_str_eq(chat_close_reason_str(CHAT_CLOSE_QUIT), "quit");
    ck_assert_str_eq(chat_close_reason_str(CHAT_CLOSE_IDLE), "idle");
    for (size_t i = 0; i < n; i++) {
        const char *s = chat_close_reason_str(reasons[i].r);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
        for (const char *c = s; *c; c++)
            ck_assert_msg(!isupper((unsigned char)*c) && !isspace((unsigned char)*c),
                          "reason word '%s'", s);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(s, chat_close_reason_str(reasons[j].r));
        ck_assert_msg((chat_close_reason_flushes(reasons[i].r) != 0) ==
                          reasons[i].flushes,
                      "flushes(%s)", s);
    }
    ck_assert_ptr_nonnull(chat_close_reason_str(CHAT_CLOSE_NONE));
    ck_assert_ptr_nonnull(chat_close_reason_str((chat_close_reason)999));
}
END_TEST

/* ---- options ---------------------------------------------------------------- */

START_TEST(options_reject_bad_values)
{
    h_harness *h = h_new();
    chat_broker *b = h->b;

    ck_assert_int_eq(chat_broker_set_option(b, (chat_option)0, 1),
                     CHAT_ERR_INVALID);
    ck_assert_int_eq(chat_broker_set_option(b, (chat_option)999, 1),
                     CHAT_ERR_INVALID);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_HISTORY, -1),
                     CHAT_ERR_INVALID);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_RATE, -5),
                     CHAT_ERR_INVALID);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_IDLE_TIMEOUT_MS, -1),
                     CHAT_ERR_INVALID);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_MAX_PEERS, -1),
                     CHAT_ERR_INVALID);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_HIGH_WATER, 1),
                     CHAT_ERR_INVALID);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_HIGH_WATER, 2),
                     CHAT_OK);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_LOGIN_MODE, 1),
                     CHAT_OK);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_LOGIN_MODE, 0),
                     CHAT_OK);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_SEED, 7), CHAT_OK);
    h_join(h);
    ck_assert_int_eq(chat_broker_set_option(b, CHAT_OPT_SEED, 8),
                     CHAT_ERR_STATE);
    h_free(h);
}
END_TEST

/* ---- output calls ------------------------------------------------------------ */

static int user_tag;

START_TEST(peer_user_pointer_comes_back)
{
    chat_broker *b = NULL;
    chat_peer *p = NULL;

    ck_assert_int_eq(chat_broker_new(&b, NULL), CHAT_OK);
    ck_assert_int_eq(chat_broker_join(b, &user_tag, 0, &p), CHAT_OK);
    ck_assert_ptr_eq(chat_peer_user(p), &user_tag);
    ck_assert_ptr_nonnull(chat_peer_name(p));
    ck_assert_str_eq(chat_peer_room(p), "main");
    ck_assert_int_eq(chat_peer_close_reason(p), CHAT_CLOSE_NONE);
    ck_assert_uint_gt(chat_peer_pending(p), 0);
    chat_broker_free(b); /* frees p and its pending output too */
    chat_broker_free(NULL);
}
END_TEST

START_TEST(next_ready_returns_each_peer_once_per_change)
{
    h_harness *h = h_new();
    h_peer *a = h_join_as(h, "alice");
    h_peer *b = h_join_as(h, "bob");
    chat_peer *p;

    (void)b;
    ck_assert_ptr_null(chat_broker_next_ready(h->b));
    ck_assert_int_eq(chat_peer_feed(h->b, a->p, "/users\n", 7, h->now),
                     CHAT_OK);
    p = chat_broker_next_ready(h->b);
    ck_assert_ptr_eq(p, a->p);
    ck_assert_ptr_null(chat_broker_next_ready(h->b));
    h_drain(a);
    expect_lines(a, "Users - alice, bob\n");
    ck_assert_int_eq(chat_peer_feed(h->b, a->p, "hi\n", 3, h->now), CHAT_OK);
    {
        chat_peer *x = chat_broker_next_ready(h->b);
        chat_peer *y = chat_broker_next_ready(h->b);
        ck_assert_ptr_nonnull(x);
        ck_assert_ptr_nonnull(y);
        ck_assert_ptr_ne(x, y);
        ck_assert_ptr_null(chat_broker_next_ready(h->b));
    }
    h_free(h);
}
END_TEST

START_TEST(peek_and_partial_consume_walk_the_output)
{
    h_harness *h = h_new();
    h_peer *a = h_join_as(h, "alice");
    chat_iov iov[1];
    size_t total;
    char buf[256];
    size_t got = 0;

    h_hold(a, 1);
    h_send(a, "one\n");
    h_send(a, "two\n");
    total = chat_peer_pending(a->p);
    ck_assert_uint_eq(total, strlen("alice: one\nalice: two\n"));
    /* One piece at a time, three bytes at a time. */
    while (chat_peer_pending(a->p) > 0) {
        size_t k = chat_peer_peek(a->p, iov, 1);
        size_t n;
        ck_assert_uint_eq(k, 1);
        ck_assert_uint_gt(iov[0].len, 0);
        n = iov[0].len < 3 ? iov[0].len : 3;
        memcpy(buf + got, iov[0].base, n);
        got += n;
        chat_peer_consume(h->b, a->p, n, h->now);
        ck_assert_uint_eq(chat_peer_pending(a->p), total - got);
    }
    ck_assert_uint_eq(got, total);
    ck_assert_int_eq(memcmp(buf, "alice: one\nalice: two\n", total), 0);
    ck_assert_uint_eq(chat_peer_peek(a->p, iov, 1), 0);
    h_free(h);
}
END_TEST

START_TEST(stats_count_messages_deliveries_and_bytes)
{
    h_harness *h = h_new();
    h_peer *a = h_join_as(h, "alice");
    h_peer *b = h_join_as(h, "bob");
    h_peer *c = h_join_as(h, "carol");
    chat_stats st0, st;

    chat_broker_stats(h->b, &st0, sizeof st0);
    h_hold(b, 1);
    h_hold(c, 1);
    h_send(a, "hi\n");
    chat_broker_stats(h->b, &st, sizeof st);
    ck_assert_uint_eq(st.messages, st0.messages + 1);
    ck_assert_uint_eq(st.deliveries, st0.deliveries + 3);
    ck_assert_uint_eq(st.bytes_queued, h_pending(b) + h_pending(c));
    ck_assert_uint_eq(st.peers, 3);
    ck_assert_uint_eq(st.rooms, 1);
    h_drain(b);
    h_drain(c);
    chat_broker_stats(h->b, &st, sizeof st);
    ck_assert_uint_eq(st.bytes_queued, 0);
    h_free(h);
}
END_TEST

START_TEST(stats_fill_only_the_size_given)
{
    h_harness *h = h_new();
    unsigned char buf[sizeof(chat_stats) + 16];

    h_join(h);
    memset(buf, 0xAB, sizeof buf);
    chat_broker_stats(h->b, (chat_stats *)(void *)buf, sizeof(uint64_t));
    for (size_t i = sizeof(uint64_t); i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], 0xAB);
    ck_assert_uint_eq(((chat_stats *)(void *)buf)->peers, 1);
    h_free(h);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("brokers");

    tcase_add_test(tc, two_brokers_in_one_process_are_independent);
    tcase_add_test(tc, same_seed_gives_the_same_names_in_each_broker);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, strerror_names_every_error);
    tcase_add_test(tc, version_is_major_minor_patch);
    tcase_add_test(tc, close_reasons_have_words_and_flush_rules);
    tcase_add_test(tc, options_reject_bad_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, peer_user_pointer_comes_back);
    tcase_add_test(tc, next_ready_returns_each_peer_once_per_change);
    tcase_add_test(tc, peek_and_partial_consume_walk_the_output);
    tcase_add_test(tc, stats_count_messages_deliveries_and_bytes);
    tcase_add_test(tc, stats_fill_only_the_size_given);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return h_run_suite(api_suite());
}
