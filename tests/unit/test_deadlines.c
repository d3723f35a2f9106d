/*
 * Timeouts that fall due together. However the deadlines are ordered and
 * however coarse the caller's ticks, a peer whose output never moves ends
 * with that output discarded: a close that would flush (idle, login
 * timeout) must not take the write timeout's place, or the peer waits for
 * ever with its output pending and no deadline left.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <stdlib.h>

static h_harness *h;
static uint64_t t0; /* the harness clock when the test began */

static void setup(void)
{
    h = h_new();
    t0 = h->now;
}

static void teardown(void)
{
    h_free(h);
    h = NULL;
}

/* alice stops reading with output pending (bob's line, queued at t=0);
 * bob keeps reading. Both have the given idle and write timeouts. */
static h_peer *stuck_reader(uint64_t idle_ms, uint64_t write_ms)
{
    h_opt(h, CHAT_OPT_IDLE_TIMEOUT_MS, (int64_t)idle_ms);
    h_opt(h, CHAT_OPT_WRITE_TIMEOUT_MS, (int64_t)write_ms);
    h_peer *alice = h_join_as(h, "alice");
    h_peer *bob = h_join_as(h, "bob");
    h_hold(alice, 1);
    h_send(bob, "are you there?\n");
    ck_assert_uint_gt(h_pending(alice), 0);
    return alice;
}

/* The end every order of events must reach. */
static void expect_cut(const h_peer *alice)
{
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_WRITE_TIMEOUT);
    ck_assert_uint_eq(h_pending(alice), 0);
}

START_TEST(idle_and_write_timeouts_due_in_one_tick)
{
    h_peer *alice = stuck_reader(1000, 1000);

    h_at(h, t0 + 5000); /* both are long overdue: one coarse tick */
    expect_cut(alice);
    ck_assert_uint_eq(chat_broker_next_deadline(h->b), CHAT_NO_DEADLINE);
}
END_TEST

START_TEST(login_and_write_timeouts_due_in_one_tick)
{
    h_opt(h, CHAT_OPT_LOGIN_MODE, 1);
    h_opt(h, CHAT_OPT_LOGIN_TIMEOUT_MS, 1000);
    h_opt(h, CHAT_OPT_WRITE_TIMEOUT_MS, 1000);
    h_peer *p = h_join(h);
    h_hold(p, 1);
    h_send(p, "!\n"); /* not a name: the reply waits unread */
    ck_assert_uint_gt(h_pending(p), 0);

    h_at(h, t0 + 5000);
    expect_cut(p);
    ck_assert_uint_eq(chat_broker_next_deadline(h->b), CHAT_NO_DEADLINE);
}
END_TEST

START_TEST(idle_close_keeps_the_write_deadline)
{
    h_peer *alice = stuck_reader(1000, 3000);

    h_at(h, t0 + 1000); /* idle: closing, "Disconnected for inactivity" pending */
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_IDLE);
    ck_assert_uint_gt(h_pending(alice), 0);
    ck_assert_uint_eq(chat_broker_next_deadline(h->b), t0 + 3000);
    h_at(h, t0 + 3000);
    expect_cut(alice);
}
END_TEST

/* Every order of the two deadlines, every tick size: the same end. */
START_TEST(any_order_any_tick_size)
{
    static const uint64_t timeouts[] = {1000, 2000, 3000};
    static const uint64_t steps[] = {1, 499, 1000, 2500, 10000};
    int idle = _i / 3, write = _i % 3;

    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        h_free(h); /* a fresh broker per tick size */
        h = h_new();
        t0 = h->now;
        h_peer *alice = stuck_reader(timeouts[idle], timeouts[write]);
        while (h->now < t0 + 20000)
            h_advance(h, steps[s]);
        expect_cut(alice);
        ck_assert_uint_eq(chat_broker_next_deadline(h->b), CHAT_NO_DEADLINE);
    }
}
END_TEST

static Suite *deadlines_suite(void)
{
    Suite *s = suite_create("deadlines");
    TCase *tc = tcase_create("deadlines");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, idle_and_write_timeouts_due_in_one_tick);
    tcase_add_test(tc, login_and_write_timeouts_due_in_one_tick);
    tcase_add_test(tc, idle_close_keeps_the_write_deadline);
    tcase_add_loop_test(tc, any_order_any_tick_size, 0, 9);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_run_suite(deadlines_suite()); }
