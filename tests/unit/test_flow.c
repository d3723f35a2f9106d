/*
 * doc/protocol.md "Limits": slow consumers (high water, drop
 * count and notice, own replies still queued, 4x high water, write
 * timeout), the rate limit, the idle timeout and the connection cap.
 *
 * A slow consumer is a peer the harness does not drain (h_hold).
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HW 1000

static void setup_slow(void)
{
    h_setup();
    h_opt(h, CHAT_OPT_HIGH_WATER, HW);
    h_opt(h, CHAT_OPT_RATE, 0);
    h_join_abc(3);
}

/* Start over with up to two options set before anyone joins (o2 = 0: one). */
static void reset_with(chat_option o1, int64_t v1, chat_option o2, int64_t v2)
{
    h_teardown();
    h_setup();
    h_opt(h, o1, v1);
    if (o2)
        h_opt(h, o2, v2);
    h_join_abc(3);
}

/* alice sends lines "m{from}".."m{to-1}", each "alice: mNNNN\n" = 13 bytes. */
static void flood(int from, int to)
{
    char line[16];

    for (int i = from; i < to; i++) {
        snprintf(line, sizeof line, "m%04d\n", i);
        h_send(alice, line);
    }
}

/*
 * Count p's lines "alice: mNNNN", checking they are in order, and parse
 * any drop notices into *dropped. Returns how many chat lines there were.
 */
static int count_received(h_peer *p, int *dropped)
{
    int got = 0, last = -1, n;
    char *line;

    *dropped = 0;
    while ((line = h_take_line(p)) != NULL) {
        int k;
        char tail;
        if (sscanf(line, "alice: m%d%c", &k, &tail) == 1) {
            ck_assert_msg(k > last, "line m%d after m%d", k, last);
            last = k;
            got++;
        } else if (sscanf(line,
                          "Server is very busy and dropped %d messages, "
                          "sorry!%c",
                          &n, &tail) == 1) {
            char want[80];
            snprintf(want, sizeof want,
                     "Server is very busy and dropped %d messages, sorry!", n);
            ck_assert_str_eq(line, want);
            ck_assert_int_gt(n, 0);
            *dropped += n;
        } else {
            ck_abort_msg("unexpected line '%s'", line);
        }
        free(line);
    }
    return got;
}

/* ---- slow consumer ---------------------------------------------------------- */

START_TEST(slow_user_stops_receiving_past_high_water)
{
    h_hold(bob, 1);
    flood(0, 300);
    ck_assert_uint_gt(h_pending(bob), HW - 13);
    ck_assert_uint_le(h_pending(bob), HW + CHAT_MAX_LINE + 64);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_NONE);
    /* Others are not slowed down. */
    {
        int dropped, got = count_received(carol, &dropped);
        ck_assert_int_eq(got, 300);
        ck_assert_int_eq(dropped, 0);
    }
}
END_TEST

START_TEST(slow_user_gets_the_drop_count_when_drained)
{
    int dropped, got;
    chat_stats st;

    h_hold(bob, 1);
    flood(0, 300);
    h_drain(bob);
    h_hold(bob, 0);
    got = count_received(bob, &dropped);
    ck_assert_int_gt(dropped, 0);
    ck_assert_int_eq(got + dropped, 300);
    chat_broker_stats(h->b, &st, sizeof st);
    ck_assert_uint_eq(st.dropped, (uint64_t)dropped);
    /* The notice came after the lines that were queued, and traffic
     * resumes after it. */
    flood(300, 310);
    got = count_received(bob, &dropped);
    ck_assert_int_eq(got, 10);
    ck_assert_int_eq(dropped, 0);
}
END_TEST

START_TEST(drop_notice_is_the_last_line_before_traffic_resumes)
{
    char *line, *last = NULL;

    h_hold(bob, 1);
    flood(0, 300);
    h_drain(bob);
    while ((line = h_take_line(bob)) != NULL) {
        free(last);
        last = line;
    }
    ck_assert_ptr_nonnull(last);
    ck_assert_msg(strncmp(last, "Server is very busy and dropped ", 32) == 0,
                  "last line '%s'", last);
    free(last);
}
END_TEST

START_TEST(slow_mode_ends_only_below_low_water)
{
    size_t pending;
    int dropped, got;

    h_hold(bob, 1);
    flood(0, 300);
    pending = h_pending(bob);
    /* Down to just above half the high-water mark: still slow. */
    h_drain_n(bob, pending - (HW / 2 + 1));
    ck_assert_uint_eq(h_pending(bob), HW / 2 + 1);
    flood(300, 310);
    ck_assert_uint_eq(h_pending(bob), HW / 2 + 1);
    /* Below it: the notice is queued, then new lines flow again. */
    h_drain_n(bob, 2);
    ck_assert_uint_gt(h_pending(bob), HW / 2 - 1);
    flood(310, 320);
    h_drain(bob);
    got = count_received(bob, &dropped);
    ck_assert_int_eq(got + dropped, 320);
    ck_assert(h_has_line(carol, "alice: m0319"));
}
END_TEST

START_TEST(received_plus_dropped_equals_sent_over_many_rounds)
{
    int total_got = 0, total_dropped = 0, sent = 0;

    h_hold(bob, 1);
    for (int round = 0; round < 20; round++) {
        int dropped;
        flood(sent, sent + 50 + round * 7);
        sent += 50 + round * 7;
        /* Drain a varying part of the backlog. */
        h_drain_n(bob, (size_t)(round * 97) % (h_pending(bob) + 1));
        total_got += count_received(bob, &dropped);
        total_dropped += dropped;
    }
    h_drain(bob);
    {
        int dropped;
        total_got += count_received(bob, &dropped);
        total_dropped += dropped;
    }
    ck_assert_int_gt(total_dropped, 0);
    ck_assert_int_eq(total_got + total_dropped, sent);
}
END_TEST

START_TEST(slow_user_misses_notices_me_and_direct_messages_too)
{
    int dropped, got;

    h_hold(bob, 1);
    flood(0, 200);
    h_clear(alice);
    h_send(alice, "/me shouts\n");
    h_send(alice, "/msg bob psst\n");
    expect_lines(alice, "* alice shouts\n", "to bob: psst\n");
    h_join_as(h, "dave"); /* "X joined main", "X is now dave" */
    h_send(carol, "/join other\n"); /* "carol left main" */
    h_drain(bob);
    got = count_received(bob, &dropped);
    /* The 200 chat lines, the /me, the direct message and three notices. */
    ck_assert_int_eq(got + dropped, 200 + 5);
}
END_TEST

START_TEST(own_command_replies_are_still_queued)
{
    size_t before;

    h_hold(bob, 1);
    flood(0, 300);
    h_clear(alice);
    before = h_pending(bob);
    h_send(bob, "/users\n");
    ck_assert_uint_eq(h_pending(bob), before + strlen("Users - alice, bob, carol\n"));
    before = h_pending(bob);
    h_send(bob, "/msg alice hi\n");
    ck_assert_uint_eq(h_pending(bob), before + strlen("to alice: hi\n"));
    expect_lines(alice, "from bob: hi\n");
    h_drain(bob);
    ck_assert(h_has_line(bob, "Users - alice, bob, carol"));
    ck_assert(h_has_line(bob, "to alice: hi"));
}
END_TEST

START_TEST(four_times_high_water_disconnects)
{
    int i;

    h_hold(bob, 1);
    flood(0, 300);
    /* Past high water only bob's own replies grow his backlog. */
    for (i = 0; i < 200 && h_reason(bob) == CHAT_CLOSE_NONE; i++) {
        ck_assert_uint_le(h_pending(bob), 4 * HW);
        h_send(bob, "/users\n");
    }
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_SLOW);
    ck_assert_uint_eq(h_pending(bob), 0);
    ck_assert_int_eq(chat_close_reason_flushes(CHAT_CLOSE_SLOW), 0);
    ck_assert(h_has_line(alice, "bob left main"));
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_NONE);
}
END_TEST

/* The greeting and a room's history are bounded and not the newcomer's
 * doing: even a high-water mark smaller than the help text must not turn
 * them into a slow-consumer disconnect. */
START_TEST(greeting_and_history_never_count_as_slow)
{
    h_harness *hh = h_new();
    h_opt(hh, CHAT_OPT_HIGH_WATER, 16);
    h_peer *a = h_join_as(hh, "carol");
    char *line = h_repeat('x', 300);
    for (int i = 0; i < 20; i++) {
        h_send(a, line);
        h_send(a, "\n");
    }
    free(line);
    h_peer *d = h_join(hh);
    ck_assert_int_eq(h_reason(d), CHAT_CLOSE_NONE);
    ck_assert(h_has_line(d, "You joined main"));
    h_send(d, "/join other\n");
    h_send(d, "/join main\n");
    ck_assert_int_eq(h_reason(d), CHAT_CLOSE_NONE);
    h_free(hh);
}
END_TEST

START_TEST(write_timeout_disconnects_a_stuck_reader)
{
    h_hold(bob, 1);
    h_send(alice, "hi bob\n");
    h_advance(h, 29999);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_NONE);
    h_advance(h, 2);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_WRITE_TIMEOUT);
    ck_assert_uint_eq(h_pending(bob), 0);
    ck_assert_int_eq(chat_close_reason_flushes(CHAT_CLOSE_WRITE_TIMEOUT), 0);
    ck_assert(h_has_line(alice, "bob left main"));
}
END_TEST

START_TEST(writing_some_output_resets_the_write_timeout)
{
    h_hold(bob, 1);
    h_send(alice, "one\n");
    h_send(alice, "two\n");
    h_advance(h, 20000);
    h_drain_n(bob, 3);
    h_advance(h, 20000);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_NONE);
    h_advance(h, 10001);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_WRITE_TIMEOUT);
}
END_TEST

START_TEST(no_write_timeout_without_pending_output)
{
    reset_with(CHAT_OPT_IDLE_TIMEOUT_MS, 0, 0, 0);
    h_advance(h, 100000);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_NONE);
}
END_TEST

START_TEST(write_timeout_is_configurable_and_0_turns_it_off)
{
    h_opt(h, CHAT_OPT_WRITE_TIMEOUT_MS, 5000);
    h_hold(bob, 1);
    h_send(alice, "x\n");
    h_advance(h, 5001);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_WRITE_TIMEOUT);
    h_opt(h, CHAT_OPT_WRITE_TIMEOUT_MS, 0);
    h_hold(carol, 1);
    h_send(alice, "y\n");
    h_advance(h, 100000);
    ck_assert_int_eq(h_reason(carol), CHAT_CLOSE_NONE);
}
END_TEST

START_TEST(default_high_water_is_one_mebibyte)
{
    char *text = h_repeat('x', 380);
    char *line = malloc(400);
    int dropped, got, sent = 0;

    ck_assert_ptr_nonnull(line);
    h_opt(h, CHAT_OPT_RATE, 0);
    snprintf(line, 400, "%s\n", text);
    h_hold(bob, 1);
    /* 3000 lines of 388 bytes: about 1.1 MiB. */
    for (; sent < 3000; sent++)
        h_send(alice, line);
    ck_assert_uint_ge(h_pending(bob), 1024 * 1024 - 400);
    ck_assert_uint_le(h_pending(bob), 1024 * 1024 + 800);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_NONE);
    h_drain(bob);
    dropped = 0;
    got = 0;
    for (char *l; (l = h_take_line(bob)) != NULL; free(l)) {
        int n;
        if (strncmp(l, "alice: ", 7) == 0)
            got++;
        else if (sscanf(l, "Server is very busy and dropped %d", &n) == 1)
            dropped += n;
    }
    ck_assert_int_gt(dropped, 0);
    ck_assert_int_eq(got + dropped, sent);
    free(text);
    free(line);
}
END_TEST

/* ---- rate limit ---------------------------------------------------------------- */

/*
 * Joining took a token ("/name alice"): a minute's pause refills the
 * bucket, so each rate test starts from a full burst.
 */
static void setup_rate(void)
{
    h_setup_abc();
    h_advance(h, 60000);
}

/* alice sends n lines at once; returns how many the room saw. */
static int burst(int n)
{
    char *all = malloc((size_t)n * 8 + 1);
    int got = 0;

    ck_assert_ptr_nonnull(all);
    all[0] = '\0';
    for (int i = 0; i < n; i++)
        sprintf(all + strlen(all), "r%d\n", i);
    h_send(alice, all);
    free(all);
    for (char *l; (l = h_take_line(bob)) != NULL; free(l)) {
        ck_assert_msg(strncmp(l, "alice: r", 8) == 0, "bob got '%s'", l);
        got++;
    }
    return got;
}

/* How many "too fast" notices alice got; her other lines are dropped. */
static int too_fast_notices(void)
{
    int n = 0;

    for (char *l; (l = h_take_line(alice)) != NULL; free(l))
        n += strcmp(l, "You are sending too fast, slow down") == 0;
    return n;
}

START_TEST(burst_of_40_passes_and_the_rest_is_dropped_with_one_notice)
{
    ck_assert_int_eq(burst(50), 40);
    ck_assert_int_eq(too_fast_notices(), 1);
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_NONE);
}
END_TEST

START_TEST(rate_refills_20_lines_a_second)
{
    ck_assert_int_eq(burst(40), 40);
    ck_assert_int_eq(too_fast_notices(), 0);
    h_advance(h, 1000);
    ck_assert_int_eq(burst(25), 20);
    ck_assert_int_eq(too_fast_notices(), 1);
    h_advance(h, 500);
    ck_assert_int_eq(burst(10), 10);
}
END_TEST

START_TEST(burst_is_capped_after_a_long_pause)
{
    h_advance(h, 60000);
    ck_assert_int_eq(burst(50), 40);
}
END_TEST

START_TEST(too_fast_notice_at_most_once_a_second)
{
    ck_assert_int_eq(burst(45), 40);
    ck_assert_int_eq(too_fast_notices(), 1);
    h_advance(h, 200);
    ck_assert_int_eq(burst(10), 4);
    ck_assert_int_eq(too_fast_notices(), 0);
    h_advance(h, 300);
    ck_assert_int_eq(burst(10), 6);
    ck_assert_int_eq(too_fast_notices(), 0);
    h_advance(h, 600);
    ck_assert_int_eq(burst(20), 12);
    ck_assert_int_eq(too_fast_notices(), 1);
}
END_TEST

START_TEST(rate_and_burst_are_configurable)
{
    reset_with(CHAT_OPT_RATE, 5, CHAT_OPT_BURST, 10);
    h_advance(h, 60000);
    ck_assert_int_eq(burst(12), 10);
    h_advance(h, 1000);
    ck_assert_int_eq(burst(12), 5);
}
END_TEST

START_TEST(burst_below_1_means_the_rate)
{
    /* Set after joining, so the joins are not limited by it. */
    h_opt(h, CHAT_OPT_RATE, 5);
    h_opt(h, CHAT_OPT_BURST, 0);
    h_advance(h, 60000);
    ck_assert_int_eq(burst(12), 5);
}
END_TEST

START_TEST(rate_0_turns_the_limit_off)
{
    reset_with(CHAT_OPT_RATE, 0, 0, 0);
    ck_assert_int_eq(burst(1000), 1000);
    ck_assert_int_eq(too_fast_notices(), 0);
}
END_TEST

START_TEST(rate_limit_counts_me_lines)
{
    ck_assert_int_eq(burst(40), 40);
    h_send(alice, "/me too much\n");
    expect_nothing(bob);
    ck_assert_int_eq(too_fast_notices(), 1);
}
END_TEST

START_TEST(rate_limit_is_per_user)
{
    ck_assert_int_eq(burst(50), 40);
    h_clear_all(h);
    h_send(carol, "my turn\n");
    expect_lines(bob, "carol: my turn\n");
}
END_TEST

/* ---- idle timeout ---------------------------------------------------------------- */

START_TEST(idle_user_is_disconnected_after_300_seconds)
{
    reset_with(CHAT_OPT_WRITE_TIMEOUT_MS, 0, 0, 0);
    h_advance(h, 150000);
    h_send(alice, "still here\n");
    h_send(carol, "me too\n");
    h_clear_all(h);
    h_advance(h, 150000 - 1);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_NONE);
    h_advance(h, 2);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_IDLE);
    expect_lines(bob, H_IDLE);
    expect_lines(alice, "bob left main\n");
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_NONE);
    ck_assert_int_ne(chat_close_reason_flushes(CHAT_CLOSE_IDLE), 0);
}
END_TEST

START_TEST(only_input_counts_against_idle)
{
    reset_with(CHAT_OPT_IDLE_TIMEOUT_MS, 10000, 0, 0);
    for (int i = 0; i < 12; i++) {
        h_advance(h, 1000);
        h_send(alice, "talking to bob\n"); /* output to bob: not his input */
        h_send(carol, "/users\n");
    }
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_IDLE);
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_NONE);
    ck_assert_int_eq(h_reason(carol), CHAT_CLOSE_NONE);
}
END_TEST

START_TEST(any_command_is_input_for_idle)
{
    reset_with(CHAT_OPT_IDLE_TIMEOUT_MS, 10000, 0, 0);
    h_advance(h, 9000);
    h_send(bob, "/users\n");
    h_send(alice, "/rooms\n");
    h_send(carol, "hey\n");
    h_advance(h, 9000);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_NONE);
    h_advance(h, 1001);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_IDLE);
}
END_TEST

START_TEST(idle_0_turns_it_off)
{
    reset_with(CHAT_OPT_IDLE_TIMEOUT_MS, 0, 0, 0);
    h_advance(h, 10 * 3600 * 1000);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_NONE);
}
END_TEST

START_TEST(next_deadline_is_no_later_than_the_idle_timeout)
{
    uint64_t d;

    reset_with(CHAT_OPT_IDLE_TIMEOUT_MS, 10000, 0, 0);
    h_send(alice, "x\n");
    h_send(bob, "x\n");
    h_send(carol, "x\n");
    d = chat_broker_next_deadline(h->b);
    ck_assert_uint_ne(d, CHAT_NO_DEADLINE);
    ck_assert_uint_le(d, h->now + 10000);
    h_at(h, d); /* a tick at the deadline is harmless */
    ck_assert_uint_ge(chat_broker_next_deadline(h->b), h->now);
}
END_TEST

START_TEST(no_deadline_without_timeouts)
{
    h_harness *hh = h_new();
    h_peer *p;

    ck_assert_uint_eq(chat_broker_next_deadline(hh->b), CHAT_NO_DEADLINE);
    h_opt(hh, CHAT_OPT_IDLE_TIMEOUT_MS, 0);
    h_opt(hh, CHAT_OPT_WRITE_TIMEOUT_MS, 0);
    p = h_join(hh);
    (void)p;
    ck_assert_uint_eq(chat_broker_next_deadline(hh->b), CHAT_NO_DEADLINE);
    h_free(hh);
}
END_TEST

/* ---- connection cap ---------------------------------------------------------------- */

START_TEST(past_max_peers_a_new_user_is_turned_away)
{
    h_harness *hh = h_new();
    h_peer *a, *b, *c, *d;

    h_opt(hh, CHAT_OPT_MAX_PEERS, 2);
    a = h_join_as(hh, "alice");
    b = h_join_as(hh, "bob");
    c = h_join(hh);
    expect_lines(c, H_FULL);
    ck_assert_int_eq(h_reason(c), CHAT_CLOSE_FULL);
    ck_assert_int_ne(chat_close_reason_flushes(CHAT_CLOSE_FULL), 0);
    ck_assert_int_eq(h_send(c, "hello?\n"), CHAT_ERR_STATE);
    expect_nothing(a);
    expect_nothing(b);
    h_release(c);
    expect_nothing(a);
    /* A place frees up when someone leaves. */
    h_send(b, "/quit\n");
    h_release(b);
    h_clear_all(hh);
    d = h_join(hh);
    ck_assert_int_eq(h_reason(d), CHAT_CLOSE_NONE);
    ck_assert_msg(h_has_line(d, "You joined main"), "d was not let in");
    h_free(hh);
}
END_TEST

/* Slots the front-end holds for connections not joined yet (an HTTP
 * request being read, a TLS handshake) count toward the cap. */
START_TEST(reserved_slots_count_toward_the_cap)
{
    h_harness *hh = h_new();

    h_opt(hh, CHAT_OPT_MAX_PEERS, 3);
    h_opt(hh, CHAT_OPT_RESERVED_PEERS, 2);
    h_peer *a = h_join(hh);
    ck_assert_int_eq(h_reason(a), CHAT_CLOSE_NONE);
    h_peer *b = h_join(hh);
    expect_lines(b, H_FULL);
    h_release(b);
    h_opt(hh, CHAT_OPT_RESERVED_PEERS, 1); /* one request finished */
    h_peer *c = h_join(hh);
    ck_assert_int_eq(h_reason(c), CHAT_CLOSE_NONE);
    h_free(hh);
}
END_TEST

START_TEST(max_peers_0_means_no_cap)
{
    h_harness *hh = h_new();

    h_opt(hh, CHAT_OPT_MAX_PEERS, 0);
    for (int i = 0; i < 100; i++) {
        h_peer *p = h_join(hh);
        ck_assert_int_eq(h_reason(p), CHAT_CLOSE_NONE);
        h_send(p, "/join own\n");
    }
    h_free(hh);
}
END_TEST

static Suite *flow_suite(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = h_tcase(s, "slow consumer", setup_slow);
    tcase_add_test(tc, slow_user_stops_receiving_past_high_water);
    tcase_add_test(tc, slow_user_gets_the_drop_count_when_drained);
    tcase_add_test(tc, drop_notice_is_the_last_line_before_traffic_resumes);
    tcase_add_test(tc, slow_mode_ends_only_below_low_water);
    tcase_add_test(tc, received_plus_dropped_equals_sent_over_many_rounds);
    tcase_add_test(tc, slow_user_misses_notices_me_and_direct_messages_too);
    tcase_add_test(tc, own_command_replies_are_still_queued);
    tcase_add_test(tc, four_times_high_water_disconnects);
    tcase_add_test(tc, greeting_and_history_never_count_as_slow);

    tc = h_tcase(s, "write timeout", h_setup_abc);
    tcase_add_test(tc, write_timeout_disconnects_a_stuck_reader);
    tcase_add_test(tc, writing_some_output_resets_the_write_timeout);
    tcase_add_test(tc, no_write_timeout_without_pending_output);
    tcase_add_test(tc, write_timeout_is_configurable_and_0_turns_it_off);
    tcase_add_test(tc, default_high_water_is_one_mebibyte);

    tc = h_tcase(s, "rate limit", setup_rate);
    tcase_add_test(tc, burst_of_40_passes_and_the_rest_is_dropped_with_one_notice);
    tcase_add_test(tc, rate_refills_20_lines_a_second);
    tcase_add_test(tc, burst_is_capped_after_a_long_pause);
    tcase_add_test(tc, too_fast_notice_at_most_once_a_second);
    tcase_add_test(tc, rate_and_burst_are_configurable);
    tcase_add_test(tc, burst_below_1_means_the_rate);
    tcase_add_test(tc, rate_0_turns_the_limit_off);
    tcase_add_test(tc, rate_limit_counts_me_lines);
    tcase_add_test(tc, rate_limit_is_per_user);

    tc = h_tcase(s, "idle", h_setup_abc);
    tcase_add_test(tc, idle_user_is_disconnected_after_300_seconds);
    tcase_add_test(tc, only_input_counts_against_idle);
    tcase_add_test(tc, any_command_is_input_for_idle);
    tcase_add_test(tc, idle_0_turns_it_off);
    tcase_add_test(tc, next_deadline_is_no_later_than_the_idle_timeout);
    tcase_add_test(tc, no_deadline_without_timeouts);

    tc = h_tcase(s, "connection cap", h_setup_abc);
    tcase_add_test(tc, past_max_peers_a_new_user_is_turned_away);
    tcase_add_test(tc, max_peers_0_means_no_cap);
    tcase_add_test(tc, reserved_slots_count_toward_the_cap);
    return s;
}

int main(void)
{
    return h_run_suite(flow_suite());
}
