/*
 * doc/protocol.md "Leaving": however a user goes (quit, EOF, reset, idle
 * timeout, slow consumer, write timeout, server shutdown), the room gets
 * "{name} left {room}" (not on shutdown), the name is free at once and a
 * room left empty is removed.
 *
 * The same checks run for every path, table-driven.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDLE_MS 100000
#define HIGH_WATER 1000

static void setup(void)
{
    h_setup();
    h_opt(h, CHAT_OPT_IDLE_TIMEOUT_MS, IDLE_MS);
    h_opt(h, CHAT_OPT_HIGH_WATER, HIGH_WATER);
    h_opt(h, CHAT_OPT_RATE, 0);
    h_join_abc(3);
    h_carol_aside();
}

/* ---- the ways to go --------------------------------------------------------- */

static void go_quit(void)
{
    h_send(alice, "/quit\n");
}

static void go_ctrl_d(void)
{
    h_send(alice, "\x04\r\n");
}

static void go_telnet_ip(void)
{
    h_sendn(alice, "\xff\xf4", 2);
}

static void go_eof(void)
{
    h_eof(alice);
}

static void go_release(void)
{
    h_release(alice);
}

/* Everyone else stays active; alice sends nothing. */
static void go_idle(void)
{
    h_advance(h, IDLE_MS / 2);
    h_send(bob, "/users\n");
    h_send(carol, "/users\n");
    h_clear(bob);
    h_clear(carol);
    h_advance(h, IDLE_MS / 2 + 1);
}

/* alice stops reading and keeps asking for help. */
static void go_slow(void)
{
    h_hold(alice, 1);
    for (int i = 0; i < 100 && h_reason(alice) == CHAT_CLOSE_NONE; i++)
        h_send(alice, "/help\n");
}

/* alice stops reading with output pending. */
static void go_write_timeout(void)
{
    h_hold(alice, 1);
    h_send(alice, "/users\n");
    h_advance(h, 30001);
}

static void go_shutdown(void)
{
    chat_broker_shutdown(h->b, h->now);
    h_pump(h);
}

static const struct path {
    const char *what;
    void (*go)(void);
    chat_close_reason reason; /* CHAT_CLOSE_NONE: released, no reason left */
    const char *last;         /* alice's last line, or NULL if not checked */
} paths[] = {
    {"quit", go_quit, CHAT_CLOSE_QUIT, H_BYE},
    {"ctrl-d", go_ctrl_d, CHAT_CLOSE_QUIT, H_BYE},
    {"telnet interrupt", go_telnet_ip, CHAT_CLOSE_QUIT, H_BYE},
    {"eof", go_eof, CHAT_CLOSE_EOF, NULL},
    {"reset", go_release, CHAT_CLOSE_NONE, NULL},
    {"idle", go_idle, CHAT_CLOSE_IDLE, H_IDLE},
    {"slow", go_slow, CHAT_CLOSE_SLOW, NULL},
    {"write timeout", go_write_timeout, CHAT_CLOSE_WRITE_TIMEOUT, NULL},
    {"shutdown", go_shutdown, CHAT_CLOSE_SHUTDOWN, H_SHUTDOWN},
};

#define NPATHS ((int)(sizeof paths / sizeof *paths))

static int is_shutdown(const struct path *p)
{
    return p->reason == CHAT_CLOSE_SHUTDOWN;
}

START_TEST(room_hears_the_user_leave)
{
    const struct path *p = &paths[_i];

    p->go();
    if (is_shutdown(p)) {
        expect_lines(bob, H_SHUTDOWN);
        expect_lines(carol, H_SHUTDOWN);
    } else {
        expect_lines(bob, "alice left main\n");
        expect_nothing(carol);
    }
    if (p->reason != CHAT_CLOSE_NONE) {
        ck_assert_msg(h_reason(alice) == p->reason, "%s: reason %d, want %d",
                      p->what, (int)h_reason(alice), (int)p->reason);
        if (!chat_close_reason_flushes(p->reason))
            ck_assert_uint_eq(h_pending(alice), 0);
        h_drain(alice);
        /* Releasing later tells no one again. */
        h_release(alice);
        expect_nothing(bob);
    }
}
END_TEST

START_TEST(leaving_user_gets_the_right_last_line)
{
    const struct path *p = &paths[_i];
    char *line, *last = NULL;

    if (p->last == NULL)
        return;
    p->go();
    h_drain(alice);
    while ((line = h_take_line(alice)) != NULL) {
        free(last);
        last = line;
    }
    ck_assert_ptr_nonnull(last);
    ck_assert_msg(strncmp(last, p->last, strlen(last)) == 0 &&
                      strlen(last) + 1 == strlen(p->last),
                  "%s: last line '%s'", p->what, last);
    free(last);
}
END_TEST

START_TEST(name_is_free_at_once)
{
    const struct path *p = &paths[_i];

    if (is_shutdown(p))
        return;
    p->go();
    /* Before the front-end has released the peer. */
    h_send(carol, "/name Alice\n");
    expect_lines(carol, "carol is now Alice\n");
    ck_assert_str_eq(h_name(carol), "Alice");
}
END_TEST

START_TEST(room_left_empty_is_removed)
{
    const struct path *p = &paths[_i];

    if (is_shutdown(p))
        return;
    h_send(alice, "/join solo\n");
    h_clear_all(h);
    h_send(bob, "/rooms\n");
    expect_lines(bob, "Rooms - main (1), side (1), solo (1)\n");
    h_clear_all(h);
    p->go();
    expect_nothing(bob); /* solo was alice's room, not bob's */
    h_send(bob, "/rooms\n");
    expect_lines(bob, "Rooms - main (1), side (1)\n");
}
END_TEST

START_TEST(last_line_before_eof_is_executed_first)
{
    h_send(alice, "bye all");
    h_eof(alice);
    expect_lines(bob, "alice: bye all\n", "alice left main\n");
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_EOF);
    expect_lines(alice, "alice: bye all\n");
}
END_TEST

START_TEST(eof_twice_or_after_quit_is_harmless)
{
    h_send(alice, "/quit\n");
    h_eof(alice);
    h_eof(alice);
    expect_lines(bob, "alice left main\n");
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_QUIT);
}
END_TEST

START_TEST(user_leaves_the_room_they_are_in_now)
{
    h_send(alice, "/join side\n");
    h_clear_all(h);
    h_eof(alice);
    expect_lines(carol, "alice left side\n");
    expect_nothing(bob);
}
END_TEST

START_TEST(nameless_login_user_leaves_silently)
{
    h_harness *hh = h_new();
    h_peer *b2, *p;

    h_opt(hh, CHAT_OPT_LOGIN_MODE, 1);
    b2 = h_join_as(hh, "bob");
    p = h_join(hh);
    h_release(p);
    expect_nothing(b2);
    h_free(hh);
}
END_TEST

START_TEST(stats_follow_users_and_rooms)
{
    chat_stats st;

    chat_broker_stats(h->b, &st, sizeof st);
    ck_assert_uint_eq(st.peers, 3);
    ck_assert_uint_eq(st.named, 3);
    ck_assert_uint_eq(st.rooms, 2);
    h_send(carol, "/quit\n");
    chat_broker_stats(h->b, &st, sizeof st);
    ck_assert_uint_eq(st.named, 2);
    ck_assert_uint_eq(st.rooms, 1);
    h_release(carol);
    chat_broker_stats(h->b, &st, sizeof st);
    ck_assert_uint_eq(st.peers, 2);
    chat_peer_release(h->b, NULL, h->now); /* NULL is accepted */
}
END_TEST

static Suite *leaving_suite(void)
{
    Suite *s = suite_create("leaving");
    TCase *tc = h_tcase(s, "every path", setup);
    tcase_add_loop_test(tc, room_hears_the_user_leave, 0, NPATHS);
    tcase_add_loop_test(tc, leaving_user_gets_the_right_last_line, 0, NPATHS);
    tcase_add_loop_test(tc, name_is_free_at_once, 0, NPATHS);
    tcase_add_loop_test(tc, room_left_empty_is_removed, 0, NPATHS);

    tc = h_tcase(s, "details", setup);
    tcase_add_test(tc, last_line_before_eof_is_executed_first);
    tcase_add_test(tc, eof_twice_or_after_quit_is_harmless);
    tcase_add_test(tc, user_leaves_the_room_they_are_in_now);
    tcase_add_test(tc, nameless_login_user_leaves_silently);
    tcase_add_test(tc, stats_follow_users_and_rooms);
    return s;
}

int main(void)
{
    return h_run_suite(leaving_suite());
}
