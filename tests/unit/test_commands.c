/*
 * doc/protocol.md "Commands": /join, /rooms, /users, /msg, /me, /quit, the
 * unknown command reply and usage lines; the command word in any case.
 * (/name and /nick are in test_names.c, /help in test_session.c.)
 *
 * Every test starts with alice, bob and carol in room main.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A new user named `name` in `room`, everyone's output cleared. */
static h_peer *join_in(const char *name, const char *room)
{
    h_peer *p = h_join_as(h, name);
    char cmd[48];

    snprintf(cmd, sizeof cmd, "/join %s\n", room);
    h_send(p, cmd);
    h_clear_all(h);
    return p;
}

/* ---- /join ---------------------------------------------------------------- */

START_TEST(join_moves_the_user_and_tells_both_rooms)
{
    h_peer *dave = join_in("dave", "pizza");

    h_send(alice, "/join pizza\n");
    expect_lines(alice, "You joined pizza\n");
    expect_lines(bob, "alice left main\n");
    expect_lines(carol, "alice left main\n");
    expect_lines(dave, "alice joined pizza\n");
    ck_assert_str_eq(h_room(alice), "pizza");
    h_send(alice, "hi\n");
    expect_lines(dave, "alice: hi\n");
    expect_lines(alice, "alice: hi\n");
    expect_nothing(bob);
}
END_TEST

START_TEST(join_creates_a_missing_room)
{
    h_send(alice, "/join fresh\n");
    expect_lines(alice, "You joined fresh\n");
    h_send(alice, "/rooms\n");
    expect_lines(alice, "Rooms - main (2), fresh (1)\n");
}
END_TEST

START_TEST(join_sends_history_then_joined)
{
    h_peer *dave = join_in("dave", "pizza");

    h_send(dave, "slice?\n");
    h_send(dave, "/me orders\n");
    h_clear_all(h);
    h_send(alice, "/join pizza\n");
    expect_lines(alice, "dave: slice?\n", "* dave orders\n",
                 "You joined pizza\n");
}
END_TEST

START_TEST(join_own_room_in_any_case_says_you_are_in)
{
    h_send(alice, "/join main\n");
    expect_lines(alice, "You are in main\n");
    h_send(alice, "/join MAIN\n");
    expect_lines(alice, "You are in main\n");
    expect_nothing(bob);
    ck_assert_str_eq(h_room(alice), "main");
}
END_TEST

START_TEST(room_keeps_the_spelling_it_was_created_with)
{
    h_peer *dave = join_in("dave", "PiZZa");

    h_send(alice, "/join pizza\n");
    expect_lines(alice, "You joined PiZZa\n");
    expect_lines(dave, "alice joined PiZZa\n");
    ck_assert_str_eq(h_room(alice), "PiZZa");
    h_send(alice, "/join PIZZA\n");
    expect_lines(alice, "You are in PiZZa\n");
    h_send(alice, "/rooms\n");
    expect_lines(alice, "Rooms - main (2), PiZZa (2)\n");
}
END_TEST

static const char *const bad_rooms[] = {
    "a", "abcdefghijklmnopqrstuvwxy", "ro.om", "r!", "#main", "r/oom",
    "caf\xc3\xa9",
};

START_TEST(join_invalid_room_gets_the_room_error)
{
    char cmd[64];

    snprintf(cmd, sizeof cmd, "/join %s\n", bad_rooms[_i]);
    h_send(alice, cmd);
    expect_lines(alice, H_ROOM_ERR);
    expect_nothing(bob);
    ck_assert_str_eq(h_room(alice), "main");
}
END_TEST

START_TEST(join_room_names_at_the_length_limits)
{
    h_send(alice, "/join ab\n");
    expect_lines(alice, "You joined ab\n");
    h_send(alice, "/join abcdefghijklmnopqrstuvwx\n");
    expect_lines(alice, "You joined abcdefghijklmnopqrstuvwx\n");
    h_send(alice, "/join a_b-C9\n");
    expect_lines(alice, "You joined a_b-C9\n");
}
END_TEST

/* ---- usage lines -------------------------------------------------------------- */

static const struct {
    const char *in;
    const char *out;
} usage_cases[] = {
    {"/join\n", "Usage: /join ROOM\n"},
    {"/JOIN\n", "Usage: /join ROOM\n"},
    {"/join   \n", "Usage: /join ROOM\n"},
    {"/name\n", "Usage: /name NAME\n"},
    {"/me\n", "Usage: /me TEXT\n"},
    {"/me  \t\n", "Usage: /me TEXT\n"},
    {"/msg\n", "Usage: /msg NAME[,NAME...] TEXT\n"},
    {"/msg bob\n", "Usage: /msg NAME[,NAME...] TEXT\n"},
    {"/msg bob   \n", "Usage: /msg NAME[,NAME...] TEXT\n"},
};

START_TEST(command_without_its_argument_gets_a_usage_line)
{
    h_send(alice, usage_cases[_i].in);
    expect_lines(alice, usage_cases[_i].out);
    expect_nothing(bob);
}
END_TEST

/* ---- /rooms, /users --------------------------------------------------------- */

START_TEST(rooms_lists_by_count_then_name_ignoring_case)
{
    join_in("dave", "Zeta");
    join_in("erin", "Zeta");
    join_in("frank", "Zeta");
    join_in("gina", "alpha");
    join_in("hank", "alpha");
    h_send(alice, "/join Beta\n");
    h_send(bob, "/join beta\n");
    h_clear_all(h);
    h_send(carol, "/rooms\n");
    expect_lines(carol, "Rooms - Zeta (3), alpha (2), Beta (2), main (1)\n");
    expect_nothing(alice);
}
END_TEST

START_TEST(rooms_with_one_room)
{
    h_send(alice, "/ROOMS\n");
    expect_lines(alice, "Rooms - main (3)\n");
}
END_TEST

START_TEST(users_lists_the_room_by_name_ignoring_case)
{
    h_peer *zen = h_join_as(h, "ZenMammoth");

    (void)zen;
    h_send(alice, "/name Alice\n");
    h_send(carol, "/join other\n");
    h_clear_all(h);
    h_send(bob, "/users\n");
    expect_lines(bob, "Users - Alice, bob, ZenMammoth\n");
    h_send(carol, "/Users\n");
    expect_lines(carol, "Users - carol\n");
    expect_nothing(alice);
}
END_TEST

/* ---- /msg ----------------------------------------------------------------- */

START_TEST(msg_reaches_only_the_recipient)
{
    h_send(alice, "/msg bob hi there\n");
    expect_lines(bob, "from alice: hi there\n");
    expect_lines(alice, "to bob: hi there\n");
    expect_nothing(carol);
}
END_TEST

START_TEST(msg_to_several_names)
{
    h_send(alice, "/msg bob,carol lunch?\n");
    expect_lines(bob, "from alice: lunch?\n");
    expect_lines(carol, "from alice: lunch?\n");
    expect_lines(alice, "to bob, carol: lunch?\n");
}
END_TEST

START_TEST(msg_names_are_case_insensitive_and_echoed_as_given)
{
    h_send(alice, "/MSG BOB,Carol hey\n");
    expect_lines(bob, "from alice: hey\n");
    expect_lines(carol, "from alice: hey\n");
    expect_lines(alice, "to BOB, Carol: hey\n");
}
END_TEST

START_TEST(msg_unknown_name_is_reported_and_others_still_receive)
{
    h_send(alice, "/msg bob,nobody,carol psst\n");
    expect_lines(bob, "from alice: psst\n");
    expect_lines(carol, "from alice: psst\n");
    /* The echo names those who got it (spelled as given). */
    expect_lines_any_order(alice, "No such user: nobody\n",
                           "to bob, carol: psst\n");
}
END_TEST

START_TEST(msg_to_only_unknown_names)
{
    h_send(alice, "/msg ghost hello\n");
    ck_assert_msg(h_has_line(alice, "No such user: ghost"), "no error");
    expect_nothing(bob);
    expect_nothing(carol);
}
END_TEST

START_TEST(msg_reaches_a_user_in_another_room)
{
    h_peer *dave = join_in("dave", "pizza");

    h_send(alice, "/msg dave across rooms\n");
    expect_lines(dave, "from alice: across rooms\n");
    expect_lines(alice, "to dave: across rooms\n");
    expect_nothing(bob);
}
END_TEST

START_TEST(msg_text_keeps_inner_spaces)
{
    h_send(alice, "/msg bob a  b\tc \n");
    expect_lines(bob, "from alice: a  b\tc\n");
}
END_TEST

/* ---- /me, /quit -------------------------------------------------------------- */

START_TEST(me_is_an_action_for_the_room)
{
    h_peer *dave = join_in("dave", "pizza");

    h_send(alice, "/me waves hello\n");
    expect_lines(alice, "* alice waves hello\n");
    expect_lines(bob, "* alice waves hello\n");
    expect_nothing(dave);
    h_clear_all(h);
    h_send(bob, "/ME nods\n");
    expect_lines(carol, "* bob nods\n");
}
END_TEST

static const char *const quit_words[] = {"/quit\n", "/QUIT\n", "/Quit\r\n"};

START_TEST(quit_says_bye_and_the_room_hears_it)
{
    h_send(alice, quit_words[_i]);
    expect_lines(alice, H_BYE);
    expect_lines(bob, "alice left main\n");
    expect_lines(carol, "alice left main\n");
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_QUIT);
    ck_assert_int_ne(chat_close_reason_flushes(CHAT_CLOSE_QUIT), 0);
    ck_assert_uint_eq(h_pending(alice), 0);
    h_release(alice);
    expect_nothing(bob);
}
END_TEST

START_TEST(quit_output_waits_for_the_transport)
{
    h_hold(alice, 1);
    h_send(alice, "/quit\n");
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_QUIT);
    ck_assert_uint_eq(h_pending(alice), strlen(H_BYE));
    h_drain(alice);
    expect_lines(alice, H_BYE);
}
END_TEST

/* ---- unknown commands ----------------------------------------------------- */

static const struct {
    const char *in;
    const char *out;
} unknown_cases[] = {
    {"/foo\n", "Unrecognized command /foo, try /help\n"},
    {"/FoO bar baz\n", "Unrecognized command /FoO, try /help\n"},
    {"/he\n", "Unrecognized command /he, try /help\n"},
    {"/helpme\n", "Unrecognized command /helpme, try /help\n"},
    {"/msgs bob hi\n", "Unrecognized command /msgs, try /help\n"},
    {"/\n", "Unrecognized command /, try /help\n"},
    {"/caf\xc3\xa9\n", "Unrecognized command /caf\xc3\xa9, try /help\n"},
};

START_TEST(unknown_command_names_the_word_as_typed)
{
    h_send(alice, unknown_cases[_i].in);
    expect_lines(alice, unknown_cases[_i].out);
    expect_nothing(bob);
}
END_TEST

static Suite *commands_suite(void)
{
    Suite *s = suite_create("commands");
    TCase *tc = h_tcase(s, "join", h_setup_abc);
    tcase_add_test(tc, join_moves_the_user_and_tells_both_rooms);
    tcase_add_test(tc, join_creates_a_missing_room);
    tcase_add_test(tc, join_sends_history_then_joined);
    tcase_add_test(tc, join_own_room_in_any_case_says_you_are_in);
    tcase_add_test(tc, room_keeps_the_spelling_it_was_created_with);
    tcase_add_loop_test(tc, join_invalid_room_gets_the_room_error, 0,
                        (int)(sizeof bad_rooms / sizeof *bad_rooms));
    tcase_add_test(tc, join_room_names_at_the_length_limits);

    tc = h_tcase(s, "usage", h_setup_abc);
    tcase_add_loop_test(tc, command_without_its_argument_gets_a_usage_line, 0,
                        (int)(sizeof usage_cases / sizeof *usage_cases));
    tcase_add_loop_test(tc, unknown_command_names_the_word_as_typed, 0,
                        (int)(sizeof unknown_cases / sizeof *unknown_cases));

    tc = h_tcase(s, "lists", h_setup_abc);
    tcase_add_test(tc, rooms_lists_by_count_then_name_ignoring_case);
    tcase_add_test(tc, rooms_with_one_room);
    tcase_add_test(tc, users_lists_the_room_by_name_ignoring_case);

    tc = h_tcase(s, "msg", h_setup_abc);
    tcase_add_test(tc, msg_reaches_only_the_recipient);
    tcase_add_test(tc, msg_to_several_names);
    tcase_add_test(tc, msg_names_are_case_insensitive_and_echoed_as_given);
    tcase_add_test(tc, msg_unknown_name_is_reported_and_others_still_receive);
    tcase_add_test(tc, msg_to_only_unknown_names);
    tcase_add_test(tc, msg_reaches_a_user_in_another_room);
    tcase_add_test(tc, msg_text_keeps_inner_spaces);

    tc = h_tcase(s, "me and quit", h_setup_abc);
    tcase_add_test(tc, me_is_an_action_for_the_room);
    tcase_add_loop_test(tc, quit_says_bye_and_the_room_hears_it, 0,
                        (int)(sizeof quit_words / sizeof *quit_words));
    tcase_add_test(tc, quit_output_waits_for_the_transport);
    return s;
}

int main(void)
{
    return h_run_suite(commands_suite());
}
