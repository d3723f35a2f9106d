/*
 * doc/protocol.md "Shutdown", as far as the broker decides it: every user gets
 * "Server shutting down..." after whatever is already pending for them
 * (slow users too), no "left" notices, later joins and input are refused.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdlib.h>
#include <string.h>

static void setup(void)
{
    h_setup();
    h_opt(h, CHAT_OPT_RATE, 0);
    h_join_abc(3);
    h_carol_aside();
}

static void shutdown_now(void)
{
    chat_broker_shutdown(h->b, h->now);
    h_pump(h);
}

START_TEST(everyone_gets_the_shutdown_line_and_nothing_else)
{
    shutdown_now();
    expect_lines(alice, H_SHUTDOWN);
    expect_lines(bob, H_SHUTDOWN);
    expect_lines(carol, H_SHUTDOWN);
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_SHUTDOWN);
    ck_assert_int_eq(h_reason(carol), CHAT_CLOSE_SHUTDOWN);
    ck_assert_int_ne(chat_close_reason_flushes(CHAT_CLOSE_SHUTDOWN), 0);
    /* Releasing the peers afterwards tells no one anything. */
    h_release(alice);
    h_release(carol);
    expect_nothing(bob);
}
END_TEST

START_TEST(shutdown_line_comes_after_pending_output)
{
    h_hold(bob, 1);
    h_send(alice, "one\n");
    h_send(alice, "two\n");
    shutdown_now();
    h_drain(bob);
    expect_lines(bob, "alice: one\n", "alice: two\n", H_SHUTDOWN);
}
END_TEST

START_TEST(slow_user_gets_the_shutdown_line_too)
{
    h_harness *hh = h_new();
    h_peer *a, *b;
    char *line, *last = NULL;

    h_opt(hh, CHAT_OPT_HIGH_WATER, 500);
    h_opt(hh, CHAT_OPT_RATE, 0);
    a = h_join_as(hh, "alice");
    b = h_join_as(hh, "bob");
    h_hold(b, 1);
    for (int i = 0; i < 200; i++)
        h_send(a, "flooding the room\n");
    ck_assert_int_eq(h_reason(b), CHAT_CLOSE_NONE);
    chat_broker_shutdown(hh->b, hh->now);
    h_pump(hh);
    ck_assert_int_eq(h_reason(b), CHAT_CLOSE_SHUTDOWN);
    h_drain(b);
    while ((line = h_take_line(b)) != NULL) {
        free(last);
        last = line;
    }
    ck_assert_ptr_nonnull(last);
    ck_assert_str_eq(last, "Server shutting down...");
    free(last);
    h_free(hh);
}
END_TEST

START_TEST(joins_after_shutdown_fail)
{
    chat_peer *p = (chat_peer *)&p;

    shutdown_now();
    ck_assert_int_eq(chat_broker_join(h->b, NULL, h->now, &p), CHAT_ERR_STATE);
    ck_assert_ptr_eq(p, (chat_peer *)&p);
}
END_TEST

START_TEST(input_after_shutdown_is_refused)
{
    shutdown_now();
    h_clear_all(h);
    ck_assert_int_eq(h_send(alice, "anyone?\n"), CHAT_ERR_STATE);
    h_eof(alice);
    expect_nothing(alice);
    expect_nothing(bob);
}
END_TEST

START_TEST(second_shutdown_and_ticks_change_nothing)
{
    shutdown_now();
    shutdown_now();
    h_advance(h, 3600 * 1000);
    expect_lines(alice, H_SHUTDOWN);
    expect_lines(bob, H_SHUTDOWN);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_SHUTDOWN);
}
END_TEST

START_TEST(user_already_quitting_gets_only_bye)
{
    h_hold(alice, 1);
    h_send(alice, "/quit\n");
    shutdown_now();
    h_drain(alice);
    expect_lines(alice, H_BYE);
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_QUIT);
    expect_lines(bob, "alice left main\n", H_SHUTDOWN);
}
END_TEST

START_TEST(nameless_login_user_gets_the_shutdown_line)
{
    h_harness *hh = h_new();
    h_peer *p;

    h_opt(hh, CHAT_OPT_LOGIN_MODE, 1);
    p = h_join(hh);
    chat_broker_shutdown(hh->b, hh->now);
    h_pump(hh);
    expect_lines(p, H_SHUTDOWN);
    ck_assert_int_eq(h_reason(p), CHAT_CLOSE_SHUTDOWN);
    h_free(hh);
}
END_TEST

START_TEST(broker_can_be_freed_with_peers_pending)
{
    h_hold(bob, 1);
    h_send(alice, "left in the outbox\n");
    shutdown_now();
    /* teardown frees the broker with bob's output unread */
}
END_TEST

static Suite *shutdown_suite(void)
{
    Suite *s = suite_create("shutdown");
    TCase *tc = h_tcase(s, "shutdown", setup);
    tcase_add_test(tc, everyone_gets_the_shutdown_line_and_nothing_else);
    tcase_add_test(tc, shutdown_line_comes_after_pending_output);
    tcase_add_test(tc, slow_user_gets_the_shutdown_line_too);
    tcase_add_test(tc, joins_after_shutdown_fail);
    tcase_add_test(tc, input_after_shutdown_is_refused);
    tcase_add_test(tc, second_shutdown_and_ticks_change_nothing);
    tcase_add_test(tc, user_already_quitting_gets_only_bye);
    tcase_add_test(tc, nameless_login_user_gets_the_shutdown_line);
    tcase_add_test(tc, broker_can_be_freed_with_peers_pending);
    return s;
}

int main(void)
{
    return h_run_suite(shutdown_suite());
}
