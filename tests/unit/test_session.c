/*
 * doc/protocol.md "Connecting" and "Chatting": the greeting in order, the join
 * notice, the default room option, chat to every member of the room and
 * only to them, and per-sender ordering.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- greeting ----------------------------------------------------------- */

START_TEST(new_user_gets_help_then_name_then_joined)
{
    h_peer *p = h_join(h);
    char *help = h_help_text();
    char you[64], joined[] = "You joined main\n";

    snprintf(you, sizeof you, "You are %s\n", h_name(p));
    expect_prefix(p, "Server commands\n");
    expect_prefix(p, help + strlen("Server commands\n"));
    expect_lines(p, you, joined);
    free(help);
}
END_TEST

START_TEST(help_text_has_one_line_per_command)
{
    static const char *const commands[] = {"/help", "/name", "/join", "/rooms",
                                           "/users", "/msg", "/me", "/quit"};
    char *help = h_help_text();
    size_t lines = 0;
    const char *line = help;

    ck_assert_msg(strncmp(help, "Server commands\n", 16) == 0,
                  "help starts '%.40s'", help);
    for (const char *c = help; *c; c++) {
        lines += *c == '\n';
        ck_assert_msg(*c == '\n' || (unsigned char)*c >= 0x20,
                      "control character in help");
        if (*c == '\n')
            ck_assert_msg(c[-1] != ' ' && c[-1] != '\t',
                          "trailing space in help");
    }
    ck_assert_uint_eq(lines, 1 + sizeof commands / sizeof *commands);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        int found = 0;

        /* The command followed by a space or end of line, not a prefix. */
        for (line = help; !found && (line = strstr(line, commands[i]));
             line++) {
            char next = line[strlen(commands[i])];
            found = next == ' ' || next == '\n' || next == ',';
        }
        ck_assert_msg(found, "help does not mention %s", commands[i]);
    }
    free(help);
}
END_TEST

START_TEST(room_hears_the_new_user_join)
{
    bob = h_join_as(h, "bob");
    carol = h_join_as(h, "carol");
    h_peer *p;
    char notice[64];

    h_send(carol, "/join pizza\n");
    h_clear_all(h);
    p = h_join(h);
    snprintf(notice, sizeof notice, "%s joined main\n", h_name(p));
    expect_lines(bob, notice);
    expect_nothing(carol);
}
END_TEST

START_TEST(greeting_includes_history_before_joined)
{
    bob = h_join_as(h, "bob");
    h_peer *p;
    char *help = h_help_text();
    char you[64];

    h_send(bob, "first\n");
    h_send(bob, "/me second\n");
    p = h_join(h);
    snprintf(you, sizeof you, "You are %s\n", h_name(p));
    expect_prefix(p, help);
    expect_lines(p, you, "bob: first\n", "* bob second\n",
                 "You joined main\n");
    free(help);
}
END_TEST

START_TEST(help_command_repeats_the_help_text)
{
    bob = h_join_as(h, "bob");
    alice = h_join_as(h, "alice");
    char *help = h_help_text();

    h_send(alice, "/help\n");
    expect_lines(alice, help);
    h_send(alice, "/HeLp\n");
    expect_lines(alice, help);
    expect_nothing(bob);
    free(help);
}
END_TEST

/* ---- default room -------------------------------------------------------- */

START_TEST(default_room_can_be_changed)
{
    h_peer *p, *q;
    char notice[64];

    ck_assert_int_eq(chat_broker_set_default_room(h->b, "Lobby"), CHAT_OK);
    p = h_join(h);
    ck_assert_str_eq(h_room(p), "Lobby");
    ck_assert_msg(h_has_line(p, "You joined Lobby"), "no 'You joined Lobby'");
    h_clear(p);
    q = h_join(h);
    snprintf(notice, sizeof notice, "%s joined Lobby\n", h_name(q));
    expect_lines(p, notice);
    h_send(p, "/rooms\n");
    expect_lines(p, "Rooms - Lobby (2)\n");
}
END_TEST

static const char *const bad_rooms[] = {
    "", "a", "two words", "abcdefghijklmnopqrstuvwxy", "ro.om", "r\xc3\xb6om",
    "#main",
};

START_TEST(default_room_must_be_a_valid_room_name)
{
    h_peer *p;

    ck_assert_int_eq(chat_broker_set_default_room(h->b, bad_rooms[_i]),
                     CHAT_ERR_INVALID);
    p = h_join(h);
    ck_assert_str_eq(h_room(p), "main");
}
END_TEST

/* ---- chat ----------------------------------------------------------------- */

START_TEST(chat_reaches_every_member_of_the_room_sender_included)
{
    alice = h_join_as(h, "alice");
    bob = h_join_as(h, "bob");
    carol = h_join_as(h, "carol");
    h_peer *dave = h_join_as(h, "dave");

    h_send(dave, "/join pizza\n");
    h_clear_all(h);
    h_send(alice, "hello room\n");
    expect_lines(alice, "alice: hello room\n");
    expect_lines(bob, "alice: hello room\n");
    expect_lines(carol, "alice: hello room\n");
    expect_nothing(dave);
    h_send(dave, "pizza time\n");
    expect_lines(dave, "dave: pizza time\n");
    expect_nothing(alice);
    expect_nothing(bob);
    expect_nothing(carol);
}
END_TEST

START_TEST(chat_from_a_random_named_user_uses_that_name)
{
    bob = h_join_as(h, "bob");
    h_peer *p = h_join(h);
    char line[64];

    h_clear_all(h);
    h_send(p, "hi\n");
    snprintf(line, sizeof line, "%s: hi\n", h_name(p));
    expect_lines(bob, line);
    expect_lines(p, line);
}
END_TEST

START_TEST(chat_text_may_contain_a_slash_after_the_start)
{
    alice = h_join_as(h, "alice");

    h_send(alice, "either/or /not a command\n");
    expect_lines(alice, "alice: either/or /not a command\n");
}
END_TEST

START_TEST(messages_from_one_sender_arrive_in_order)
{
    alice = h_join_as(h, "alice");
    bob = h_join_as(h, "bob");
    char line[64];

    h_opt(h, CHAT_OPT_RATE, 0);
    /* All in one feed, and again one line per feed. */
    for (int round = 0; round < 2; round++) {
        char all[200 * 16] = "";
        for (int i = 0; i < 200; i++) {
            snprintf(line, sizeof line, "m%d\n", i);
            if (round == 0)
                strcat(all, line);
            else
                h_send(alice, line);
        }
        if (round == 0)
            h_send(alice, all);
        for (int i = 0; i < 200; i++) {
            char *got = h_take_line(bob);
            snprintf(line, sizeof line, "alice: m%d", i);
            ck_assert_ptr_nonnull(got);
            ck_assert_str_eq(got, line);
            free(got);
        }
        expect_nothing(bob);
    }
}
END_TEST

START_TEST(two_senders_interleaved_keep_their_own_order)
{
    alice = h_join_as(h, "alice");
    bob = h_join_as(h, "bob");
    carol = h_join_as(h, "carol");
    int next_a = 0, next_b = 0;
    char line[64];

    h_opt(h, CHAT_OPT_RATE, 0);
    for (int i = 0; i < 100; i++) {
        snprintf(line, sizeof line, "a%d\n", i);
        h_send(alice, line);
        snprintf(line, sizeof line, "b%d\n", i);
        /* bob's lines arrive a byte at a time. */
        h_send_bytewise(bob, line, strlen(line));
    }
    for (char *got; (got = h_take_line(carol)) != NULL; free(got)) {
        int k;
        if (sscanf(got, "alice: a%d", &k) == 1)
            ck_assert_int_eq(k, next_a++);
        else if (sscanf(got, "bob: b%d", &k) == 1)
            ck_assert_int_eq(k, next_b++);
        else
            ck_abort_msg("unexpected line '%s'", got);
    }
    ck_assert_int_eq(next_a, 100);
    ck_assert_int_eq(next_b, 100);
}
END_TEST

static Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = h_tcase(s, "greeting", h_setup);
    tcase_add_test(tc, new_user_gets_help_then_name_then_joined);
    tcase_add_test(tc, help_text_has_one_line_per_command);
    tcase_add_test(tc, room_hears_the_new_user_join);
    tcase_add_test(tc, greeting_includes_history_before_joined);
    tcase_add_test(tc, help_command_repeats_the_help_text);
    tcase_add_test(tc, default_room_can_be_changed);
    tcase_add_loop_test(tc, default_room_must_be_a_valid_room_name, 0,
                        (int)(sizeof bad_rooms / sizeof *bad_rooms));

    tc = h_tcase(s, "chat", h_setup);
    tcase_add_test(tc, chat_reaches_every_member_of_the_room_sender_included);
    tcase_add_test(tc, chat_from_a_random_named_user_uses_that_name);
    tcase_add_test(tc, chat_text_may_contain_a_slash_after_the_start);
    tcase_add_test(tc, messages_from_one_sender_arrive_in_order);
    tcase_add_test(tc, two_senders_interleaved_keep_their_own_order);
    return s;
}

int main(void)
{
    return h_run_suite(session_suite());
}
