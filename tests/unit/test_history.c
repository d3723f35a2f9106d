/*
 * doc/protocol.md "History": each room keeps its last N chat lines (/me
 * included, notices and direct messages excluded), a user who joins gets
 * them oldest first before "You joined {room}", 0 turns it off, and the
 * history of a removed room is gone with it.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void setup(void)
{
    h_setup();
    h_opt(h, CHAT_OPT_RATE, 0);
    h_join_abc(2);
}

/* carol comes to `room` from her own; returns her, with the output of her
 * /join left in her buffer. */
static h_peer *carol_joins(const char *room)
{
    char cmd[48];

    carol = h_join_as(h, "carol");
    h_send(carol, "/join carolroom\n");
    h_clear(carol);
    snprintf(cmd, sizeof cmd, "/join %s\n", room);
    h_send(carol, cmd);
    return carol;
}

static void say(h_peer *p, int from, int to)
{
    char line[32];

    for (int i = from; i < to; i++) {
        snprintf(line, sizeof line, "line %d\n", i);
        h_send(p, line);
    }
}

/* Expect "alice: line {from}" .. "alice: line {to-1}", then `tail`. */
static void expect_history(h_peer *p, int from, int to, const char *tail)
{
    char want[64];

    for (int i = from; i < to; i++) {
        char *got = h_take_line(p);
        snprintf(want, sizeof want, "alice: line %d", i);
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(got, want);
        free(got);
    }
    expect_lines(p, tail);
}

START_TEST(joiner_gets_the_last_20_lines_oldest_first)
{
    say(alice, 0, 25);
    carol = carol_joins("main");
    expect_history(carol, 5, 25, "You joined main\n");
}
END_TEST

START_TEST(history_size_is_configurable)
{
    h_opt(h, CHAT_OPT_HISTORY, 3);
    say(alice, 0, 5);
    carol = carol_joins("main");
    expect_history(carol, 2, 5, "You joined main\n");
}
END_TEST

START_TEST(history_with_fewer_lines_than_the_limit)
{
    say(alice, 0, 2);
    carol = carol_joins("main");
    expect_history(carol, 0, 2, "You joined main\n");
}
END_TEST

START_TEST(history_0_turns_it_off)
{
    h_opt(h, CHAT_OPT_HISTORY, 0);
    say(alice, 0, 5);
    carol = carol_joins("main");
    expect_lines(carol, "You joined main\n");
}
END_TEST

START_TEST(history_includes_me_and_excludes_notices_and_directs)
{
    h_peer *dave;

    h_send(alice, "hello\n");
    h_send(alice, "/me waves\n");
    h_send(alice, "/msg bob secret\n");
    h_send(alice, "/name alicia\n");
    h_send(bob, "/join elsewhere\n");
    h_send(bob, "/join main\n");
    dave = h_join(h);
    h_send(dave, "/quit\n");
    h_send(alice, "/users\n");
    h_send(alice, "/nosuch\n");
    h_send(alice, "/rooms\n");
    h_send(alice, "/me \n");
    h_send(alice, "\n");
    h_send(alice, "bye\n");
    carol = carol_joins("main");
    expect_lines(carol, "alice: hello\n", "* alice waves\n", "alicia: bye\n",
                 "You joined main\n");
}
END_TEST

START_TEST(lines_keep_the_name_they_were_sent_under)
{
    h_send(alice, "before\n");
    h_send(alice, "/name alicia\n");
    h_send(alice, "after\n");
    carol = carol_joins("main");
    expect_lines(carol, "alice: before\n", "alicia: after\n",
                 "You joined main\n");
}
END_TEST

START_TEST(each_room_has_its_own_history)
{
    h_send(bob, "/join pizza\n");
    h_send(bob, "pepperoni\n");
    h_send(alice, "in main\n");
    carol = carol_joins("pizza");
    expect_lines(carol, "bob: pepperoni\n", "You joined pizza\n");
    h_send(carol, "/join main\n");
    expect_lines(carol, "alice: in main\n", "You joined main\n");
}
END_TEST

START_TEST(history_of_a_removed_room_is_gone)
{
    h_send(bob, "/join pizza\n");
    h_send(bob, "old news\n");
    h_send(bob, "/join main\n"); /* pizza is empty now, so removed */
    carol = carol_joins("pizza");
    expect_lines(carol, "You joined pizza\n");
}
END_TEST

START_TEST(history_of_a_room_kept_alive_by_one_member_stays)
{
    h_send(bob, "/join pizza\n");
    h_send(bob, "still here\n");
    h_send(alice, "/join pizza\n");
    h_send(bob, "/join main\n");
    carol = carol_joins("pizza");
    expect_lines(carol, "bob: still here\n", "You joined pizza\n");
}
END_TEST

START_TEST(history_does_not_replay_to_those_who_saw_it)
{
    say(alice, 0, 3);
    h_clear_all(h);
    h_send(bob, "/join main\n");
    expect_lines(bob, "You are in main\n");
}
END_TEST

START_TEST(lowering_the_history_trims_what_joiners_get)
{
    say(alice, 0, 10);
    h_opt(h, CHAT_OPT_HISTORY, 2);
    carol = carol_joins("main");
    expect_history(carol, 8, 10, "You joined main\n");
}
END_TEST

static Suite *history_suite(void)
{
    Suite *s = suite_create("history");
    TCase *tc = h_tcase(s, "history", setup);
    tcase_add_test(tc, joiner_gets_the_last_20_lines_oldest_first);
    tcase_add_test(tc, history_size_is_configurable);
    tcase_add_test(tc, history_with_fewer_lines_than_the_limit);
    tcase_add_test(tc, history_0_turns_it_off);
    tcase_add_test(tc, history_includes_me_and_excludes_notices_and_directs);
    tcase_add_test(tc, lines_keep_the_name_they_were_sent_under);
    tcase_add_test(tc, each_room_has_its_own_history);
    tcase_add_test(tc, history_of_a_removed_room_is_gone);
    tcase_add_test(tc, history_of_a_room_kept_alive_by_one_member_stays);
    tcase_add_test(tc, history_does_not_replay_to_those_who_saw_it);
    tcase_add_test(tc, lowering_the_history_trims_what_joiners_get);
    return s;
}

int main(void)
{
    return h_run_suite(history_suite());
}
