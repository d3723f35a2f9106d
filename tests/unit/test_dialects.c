/*
 * Dialects and per-connection options (doc/protocol.md "Dialects"): an
 * a-chat user, a telex user and chat users share one broker; each sees
 * every line in its own dialect, history replays in the joiner's, and a
 * line rendered for one dialect is shared by all its readers. Also the
 * line-at-a-time feed a WebSocket front-end uses.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a-chat: the async-std book's client ------------------------------ */

START_TEST(a_chat_login_is_the_first_line_and_silent)
{
    h_peer *ann = h_join_dialect(h, CHAT_DIALECT_A_CHAT, NULL);
    h_join_abc(1);
    h_send(ann, "  ann  \n"); /* the book's server trims the login */
    ck_assert_str_eq(h_name(ann), "ann");
    expect_nothing(ann);                  /* no greeting, no "You are" */
    expect_lines(alice, "ann joined main\n"); /* others see her arrive */
}
END_TEST

START_TEST(a_chat_taken_login_is_refused_and_another_awaited)
{
    h_join_abc(1);
    h_peer *ann = h_join_dialect(h, CHAT_DIALECT_A_CHAT, NULL);
    h_send(ann, "Alice\n");
    expect_lines(ann, "Alice is already taken\n");
    ck_assert_str_eq(h_name(ann), "");
    h_send(ann, "no spaces allowed\n");
    expect_lines(ann, H_NAME_ERR);
    h_send(ann, "ann\n");
    ck_assert_str_eq(h_name(ann), "ann");
}
END_TEST

START_TEST(a_chat_and_chat_users_reach_each_other_directly)
{
    h_join_abc(2);
    h_peer *ann = h_join_dialect(h, CHAT_DIALECT_A_CHAT, "ann");
    h_send(ann, "bob: hello\n");
    expect_lines(bob, "from ann: hello\n");
    expect_nothing(alice);
    expect_nothing(ann); /* the book has no echo */
    h_send(bob, "/msg ann hi there\n");
    expect_lines(ann, "from bob: hi there\n");
    expect_lines(bob, "to ann: hi there\n");
}
END_TEST

START_TEST(a_chat_addresses_several_skips_unknown_ignores_the_rest)
{
    h_join_abc(3);
    h_peer *ann = h_join_dialect(h, CHAT_DIALECT_A_CHAT, "ann");
    h_send(ann, " bob ,carol, nobody ,BOB: see you: at noon\n");
    expect_lines(bob, "from ann: see you: at noon\n");
    expect_lines(carol, "from ann: see you: at noon\n");
    expect_nothing(ann); /* unknown names are skipped quietly */
    h_send(ann, "no colon here\n");
    h_send(ann, "bob:   \n"); /* nothing to say */
    expect_nothing(bob);
    expect_nothing(alice);
}
END_TEST

START_TEST(a_chat_sees_no_room_traffic_but_answers_to_commands)
{
    h_join_abc(2);
    h_peer *ann = h_join_dialect(h, CHAT_DIALECT_A_CHAT, "ann");
    h_send(alice, "hello room\n");
    h_send(bob, "/me waves\n");
    h_send(bob, "/nick robert\n");
    expect_nothing(ann);
    h_send(ann, "/users\n");
    expect_lines(ann, "Users - alice, ann, robert\n");
}
END_TEST

/* ---- telex ------------------------------------------------------------ */

START_TEST(telex_login_then_a_short_greeting)
{
    h_peer *tom = h_join_dialect(h, CHAT_DIALECT_TELEX, NULL);
    expect_nothing(tom);
    h_send(tom, "tom\n");
    expect_lines(tom, "You are tom\n", "You joined main\n");
}
END_TEST

START_TEST(telex_lines_read_name_in_angle_brackets_without_echo)
{
    h_join_abc(1);
    h_peer *tom = h_join_dialect(h, CHAT_DIALECT_TELEX, "tom");
    h_send(alice, "hi tom\n");
    expect_lines(tom, "<alice> hi tom\n");
    expect_lines(alice, "alice: hi tom\n");
    h_send(tom, "hi alice\n");
    expect_lines(alice, "tom: hi alice\n");
    expect_nothing(tom);
    h_send(tom, "/me waves\n");
    expect_lines(alice, "* tom waves\n");
    expect_nothing(tom);
}
END_TEST

START_TEST(telex_notices_start_with_a_star)
{
    char want[64];
    h_join_abc(1);
    h_peer *tom = h_join_dialect(h, CHAT_DIALECT_TELEX, "tom");
    h_peer *x = h_join(h); /* a random name; buffers not cleared */
    snprintf(want, sizeof want, "* %s joined main\n", h_name(x));
    expect_lines(tom, want);
    h_clear_all(h);
    h_send(alice, "/name alicia\n");
    expect_lines(tom, "* alice is now alicia\n");
    h_send(alice, "/msg tom psst\n");
    expect_lines(tom, "*alicia* psst\n");
    h_send(tom, "/msg alicia ok\n");
    expect_lines(tom, "-> alicia: ok\n");
    expect_lines(alice, "alice is now alicia\n", "to tom: psst\n",
                 "from tom: ok\n");
    h_send(alice, "/join side\n");
    expect_lines(tom, "* alicia left main\n");
}
END_TEST

/* ---- mixed rooms and history ------------------------------------------ */

START_TEST(history_replays_in_the_joiners_dialect)
{
    h_join_abc(2);
    h_send(alice, "first\n");
    h_send(bob, "/me second\n");
    h_peer *tom = h_join_dialect(h, CHAT_DIALECT_TELEX, NULL);
    h_send(tom, "tom\n");
    expect_lines(tom, "You are tom\n", "<alice> first\n", "* bob second\n",
                 "You joined main\n");
    h_peer *ann = h_join_dialect(h, CHAT_DIALECT_A_CHAT, NULL);
    h_send(ann, "ann\n");
    expect_nothing(ann);
    h_send(carol = h_join(h), "/name carol\n");
    ck_assert(h_has_line(carol, "alice: first"));
    ck_assert(h_has_line(carol, "* bob second"));
}
END_TEST

/* Two readers of one dialect read the very same bytes; another dialect
 * reads its own rendering. */
START_TEST(a_line_is_rendered_once_per_dialect_present)
{
    h_join_abc(3);
    h_peer *tom = h_join_dialect(h, CHAT_DIALECT_TELEX, "tom");
    h_peer *tim = h_join_dialect(h, CHAT_DIALECT_TELEX, "tim");
    h_hold(bob, 1);
    h_hold(carol, 1);
    h_hold(tom, 1);
    h_hold(tim, 1);
    h_send(alice, "shared\n");
    ck_assert_ptr_eq(h_first_piece(bob), h_first_piece(carol));
    ck_assert_ptr_eq(h_first_piece(tom), h_first_piece(tim));
    ck_assert_ptr_ne(h_first_piece(bob), h_first_piece(tom));
    h_drain(bob);
    h_drain(tom);
    expect_lines(bob, "alice: shared\n");
    expect_lines(tom, "<alice> shared\n");
}
END_TEST

/* ---- per-connection options --------------------------------------------- */

START_TEST(options_are_checked)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    chat_peer *p = NULL;
    struct {
        chat_peer_options o;
        char newer[8];
    } big;

    o.dialect = CHAT_DIALECT_COUNT;
    ck_assert_int_eq(chat_broker_join_opts(h->b, NULL, &o, h->now, &p),
                     CHAT_ERR_INVALID);
    o.dialect = CHAT_DIALECT_CHAT;
    o.size = sizeof(size_t);
    ck_assert_int_eq(chat_broker_join_opts(h->b, NULL, &o, h->now, &p),
                     CHAT_ERR_INVALID);
    ck_assert_ptr_null(p);
    /* A newer caller's struct: fine while its extra fields are zero. */
    memset(&big, 0, sizeof big);
    big.o = (chat_peer_options)CHAT_PEER_OPTIONS_INIT;
    big.o.size = sizeof big;
    big.newer[3] = 1;
    ck_assert_int_eq(chat_broker_join_opts(h->b, NULL, &big.o, h->now, &p),
                     CHAT_ERR_INVALID);
    big.newer[3] = 0;
    ck_assert_int_eq(chat_broker_join_opts(h->b, NULL, &big.o, h->now, &p),
                     CHAT_OK);
    ck_assert_int_eq(chat_peer_dialect(p), CHAT_DIALECT_CHAT);
    chat_peer_release(h->b, p, h->now);
}
END_TEST

START_TEST(login_is_per_connection)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    o.login = 1;
    h_peer *c = h_join_opts(h, &o);
    expect_nothing(c);
    h_send(c, "carl\n");
    expect_prefix(c, "Server commands\n");
    o.dialect = CHAT_DIALECT_A_CHAT;
    o.login = 0; /* an a-chat user with a random name */
    h_peer *a = h_join_opts(h, &o);
    ck_assert_str_ne(h_name(a), "");
}
END_TEST

START_TEST(dialect_names_round_trip)
{
    for (int d = 0; d < CHAT_DIALECT_COUNT; d++) {
        chat_dialect got;
        ck_assert_int_eq(chat_dialect_parse(chat_dialect_name((chat_dialect)d),
                                            &got), CHAT_OK);
        ck_assert_int_eq(got, d);
    }
    ck_assert_int_eq(chat_dialect_parse("irc", NULL), CHAT_ERR_INVALID);
    ck_assert_ptr_null(chat_dialect_name(CHAT_DIALECT_COUNT));
}
END_TEST

/* ---- the line-at-a-time feed -------------------------------------------- */

static h_peer *line_peer(const char *name)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    o.lines = 1;
    h_peer *w = h_join_opts(h, &o);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "/name %s", name);
    ck_assert_int_eq(h_send_line(w, cmd), CHAT_OK);
    h_clear_all(h);
    return w;
}

START_TEST(a_line_peer_chats_with_a_byte_peer)
{
    h_join_abc(1);
    h_peer *w = line_peer("webby");
    h_send_line(w, "hello from a browser");
    expect_lines(alice, "webby: hello from a browser\n");
    expect_lines(w, "webby: hello from a browser\n");
    h_send_line(w, "two\nlines\r"); /* one frame is one line */
    expect_lines(alice, "webby: twolines\n");
    ck_assert_int_eq(h_send(w, "bytes\n"), CHAT_ERR_INVALID);
    /* A message cut off before its last piece is not a message. */
    chat_peer_feed_line(h->b, w->p, "cut o", 5, 1, h->now);
    h_eof(w);
    expect_lines(alice, "webby left main\n");
    ck_assert_int_eq(chat_peer_feed_line(h->b, alice->p, "x", 1, 0, h->now),
                     CHAT_ERR_INVALID);
}
END_TEST

START_TEST(a_line_in_pieces_is_one_line_and_bounded)
{
    h_join_abc(1);
    h_peer *w = line_peer("webby");
    chat_broker *b = h->b;
    ck_assert_int_eq(chat_peer_feed_line(b, w->p, "frag", 4, 1, h->now), 0);
    ck_assert_int_eq(chat_peer_feed_line(b, w->p, "mented", 6, 0, h->now), 0);
    h_pump(h);
    expect_lines(alice, "webby: fragmented\n");
    expect_lines(w, "webby: fragmented\n");
    /* 2 MiB in 1 KiB pieces: the broker never holds more than the limit,
     * answers once, and the connection stays. */
    char piece[1024];
    memset(piece, 'x', sizeof piece);
    for (int i = 0; i < 2048; i++)
        chat_peer_feed_line(b, w->p, piece, sizeof piece, 1, h->now);
    chat_peer_feed_line(b, w->p, "", 0, 0, h->now);
    h_pump(h);
    expect_lines(w, H_TOO_LONG);
    expect_nothing(alice);
    char *max = h_repeat('y', CHAT_MAX_LINE);
    h_send_line(w, max);
    ck_assert_uint_eq(h_count_lines(alice), 1);
    free(max);
}
END_TEST

START_TEST(a_line_peer_has_no_telnet_and_the_same_rules)
{
    h_join_abc(1);
    h_peer *w = line_peer("webby");
    h_send_line(w, "\xff\xf4"); /* IAC IP on a byte stream; here bad UTF-8 */
    expect_lines(w, H_BAD_UTF8);
    ck_assert_int_eq(h_reason(w), CHAT_CLOSE_NONE);
    h_opt(h, CHAT_OPT_RATE, 1);
    h_opt(h, CHAT_OPT_BURST, 1);
    h_advance(h, 5000);
    h_clear_all(h);
    h_send_line(w, "one");
    h_send_line(w, "two");
    expect_lines(w, "webby: one\n", H_TOO_FAST);
}
END_TEST

static Suite *dialects_suite(void)
{
    Suite *s = suite_create("dialects");
    TCase *tc = h_tcase(s, "dialects", h_setup);

    tcase_add_test(tc, a_chat_login_is_the_first_line_and_silent);
    tcase_add_test(tc, a_chat_taken_login_is_refused_and_another_awaited);
    tcase_add_test(tc, a_chat_and_chat_users_reach_each_other_directly);
    tcase_add_test(tc, a_chat_addresses_several_skips_unknown_ignores_the_rest);
    tcase_add_test(tc, a_chat_sees_no_room_traffic_but_answers_to_commands);
    tcase_add_test(tc, telex_login_then_a_short_greeting);
    tcase_add_test(tc, telex_lines_read_name_in_angle_brackets_without_echo);
    tcase_add_test(tc, telex_notices_start_with_a_star);
    tcase_add_test(tc, history_replays_in_the_joiners_dialect);
    tcase_add_test(tc, a_line_is_rendered_once_per_dialect_present);
    tcase_add_test(tc, options_are_checked);
    tcase_add_test(tc, login_is_per_connection);
    tcase_add_test(tc, dialect_names_round_trip);
    tcase_add_test(tc, a_line_peer_chats_with_a_byte_peer);
    tcase_add_test(tc, a_line_in_pieces_is_one_line_and_bounded);
    tcase_add_test(tc, a_line_peer_has_no_telnet_and_the_same_rules);
    return s;
}

int main(void) { return h_run_suite(dialects_suite()); }
