/*
 * Filters that can wait (chat_broker_filter_resume): a moderation service
 * answers later. A waiting message holds back its sender's later lines,
 * in order, and no one else's; the wait is bounded in lines and in time;
 * a sender who leaves takes its message along; a broker freed with
 * messages waiting frees them.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <string.h>

#define MAXQ 64

/* A moderation service: every message waits for an answer. */
typedef struct moderator {
    int on;                 /* 0: allow at once */
    uint64_t token[MAXQ];   /* questions not answered yet, oldest first */
    char text[MAXQ][CHAT_MAX_LINE + 1];
    int asked, answered;
} moderator;

static moderator mod;

static chat_filter_verdict ask(void *ctx, const chat_filter_msg *m, char *buf,
                               size_t *len)
{
    moderator *md = ctx;
    (void)buf;
    (void)len;
    if (!md->on)
        return CHAT_FILTER_ALLOW;
    ck_assert_int_lt(md->asked, MAXQ);
    md->token[md->asked] = m->token;
    memcpy(md->text[md->asked], m->text, m->len);
    md->text[md->asked][m->len] = '\0';
    md->asked++;
    return CHAT_FILTER_PENDING;
}

/* A filter after it in the chain: shouts. */
static chat_filter_verdict shout(void *ctx, const chat_filter_msg *m, char *buf,
                                 size_t *len)
{
    (void)ctx;
    for (size_t i = 0; i < m->len; i++)
        buf[i] = (m->text[i] >= 'a' && m->text[i] <= 'z')
                     ? (char)(m->text[i] - 32) : m->text[i];
    *len = m->len;
    return CHAT_FILTER_REWRITE;
}

static void setup(void)
{
    memset(&mod, 0, sizeof mod);
    mod.on = 1;
    h_setup_abc();
    ck_assert_int_eq(chat_broker_add_filter(h->b, ask, &mod), CHAT_OK);
}

/* Answer the oldest unanswered question. */
static int answer(chat_filter_verdict v, const char *text)
{
    ck_assert_int_lt(mod.answered, mod.asked);
    int rc = chat_broker_filter_resume(h->b, mod.token[mod.answered++], v,
                                       text, text ? strlen(text) : 0, h->now);
    h_pump(h);
    return rc;
}

START_TEST(a_message_waits_for_its_answer)
{
    h_send(alice, "is this ok?\n");
    ck_assert_int_eq(mod.asked, 1);
    ck_assert_str_eq(mod.text[0], "is this ok?");
    expect_nothing(bob);
    expect_nothing(alice);
    ck_assert_int_eq(answer(CHAT_FILTER_ALLOW, NULL), CHAT_OK);
    expect_lines(bob, "alice: is this ok?\n");
    expect_lines(alice, "alice: is this ok?\n");
}
END_TEST

START_TEST(answers_drop_or_rewrite)
{
    chat_stats st;
    h_send(alice, "bad word\n");
    h_send(bob, "kind word\n");
    answer(CHAT_FILTER_DROP, NULL);
    answer(CHAT_FILTER_REWRITE, "  kind\x01 words  ");
    expect_lines(carol, "bob: kind words\n");
    chat_broker_stats(h->b, &st, sizeof st);
    ck_assert_uint_eq(st.filtered, 1);
    ck_assert_int_eq(chat_broker_filter_resume(h->b, 12345, CHAT_FILTER_ALLOW,
                                               NULL, 0, h->now),
                     CHAT_ERR_NOT_FOUND);
    ck_assert_int_eq(chat_broker_filter_resume(h->b, 1, CHAT_FILTER_PENDING,
                                               NULL, 0, h->now),
                     CHAT_ERR_INVALID);
}
END_TEST

START_TEST(a_senders_later_lines_wait_behind_in_order)
{
    h_send(alice, "one\n");
    h_send(alice, "/me two\n/join side\nthree\n");
    h_send(bob, "bob is not slowed\n");
    ck_assert_int_eq(mod.asked, 2); /* alice's one, bob's line */
    answer(CHAT_FILTER_ALLOW, NULL); /* one */
    expect_lines(carol, "alice: one\n");
    ck_assert_int_eq(mod.asked, 3); /* /me two now asks in turn */
    answer(CHAT_FILTER_ALLOW, NULL); /* bob's */
    expect_lines(carol, "bob: bob is not slowed\n");
    answer(CHAT_FILTER_ALLOW, NULL); /* two; /join runs; three asks */
    expect_lines(carol, "* alice two\n", "alice left main\n");
    ck_assert_str_eq(h_room(alice), "side");
    answer(CHAT_FILTER_ALLOW, NULL);
    expect_lines(alice, "alice: one\n", "bob: bob is not slowed\n",
                 "* alice two\n", "You joined side\n", "alice: three\n");
}
END_TEST

START_TEST(the_chain_goes_on_after_the_filter_that_waited)
{
    ck_assert_int_eq(chat_broker_add_filter(h->b, shout, NULL), CHAT_OK);
    h_send(alice, "/msg bob,nobody quiet please\n");
    expect_nothing(bob);
    answer(CHAT_FILTER_ALLOW, NULL);
    expect_lines(bob, "from alice: QUIET PLEASE\n");
    expect_lines(alice, "No such user: nobody\n", "to bob: QUIET PLEASE\n");
}
END_TEST

START_TEST(a_late_answer_drops_the_message_and_says_so)
{
    h_opt(h, CHAT_OPT_FILTER_TIMEOUT_MS, 2000);
    uint64_t t0 = h->now;
    h_send(alice, "slow\n");
    h_advance(h, 500);
    h_send(alice, "after\n"); /* held */
    ck_assert_uint_eq(chat_broker_next_deadline(h->b), t0 + 2000);
    h_at(h, t0 + 2000);
    expect_lines(alice, "Your message was not sent: the filter did not "
                        "answer in time\n");
    ck_assert_int_eq(mod.asked, 2); /* the held line asked in turn */
    ck_assert_int_eq(chat_broker_filter_resume(h->b, mod.token[0],
                                               CHAT_FILTER_ALLOW, NULL, 0,
                                               h->now),
                     CHAT_ERR_NOT_FOUND);
    mod.answered = 1;
    answer(CHAT_FILTER_ALLOW, NULL);
    expect_lines(bob, "alice: after\n");
}
END_TEST

START_TEST(the_held_backlog_is_bounded)
{
    h_opt(h, CHAT_OPT_FILTER_BACKLOG, 2);
    h_send(alice, "first\nsecond\nthird\nfourth\n");
    expect_lines(alice, H_TOO_FAST);
    mod.on = 0;
    answer(CHAT_FILTER_ALLOW, NULL);
    expect_lines(bob, "alice: first\n", "alice: second\n", "alice: third\n");
}
END_TEST

START_TEST(a_sender_who_leaves_takes_its_message_along)
{
    h_opt(h, CHAT_OPT_IDLE_TIMEOUT_MS, 0); /* the wait's is the only deadline */
    h_send(alice, "bye all\nand more\n");
    h_release(alice);
    expect_lines(bob, "alice left main\n");
    ck_assert_int_eq(answer(CHAT_FILTER_ALLOW, NULL), CHAT_ERR_NOT_FOUND);
    expect_nothing(bob);
    ck_assert_uint_eq(chat_broker_next_deadline(h->b), CHAT_NO_DEADLINE);
}
END_TEST

START_TEST(input_that_ends_waits_for_the_answer_then_closes)
{
    h_send(alice, "last words\n/me leaves");
    h_eof(alice);
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_NONE);
    mod.on = 0;
    answer(CHAT_FILTER_ALLOW, NULL);
    expect_lines(bob, "alice: last words\n", "* alice leaves\n",
                 "alice left main\n");
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_EOF);
}
END_TEST

START_TEST(a_broker_freed_with_messages_waiting)
{
    h_send(alice, "pending\nheld\n");
    h_send(bob, "pending too\n");
    /* teardown frees the broker: ASan and valgrind see no leak */
}
END_TEST

START_TEST(login_lines_and_commands_do_not_wait)
{
    h_send(alice, "/users\n");
    expect_lines(alice, "Users - alice, bob, carol\n");
    ck_assert_int_eq(mod.asked, 0);
}
END_TEST

static Suite *waiting_suite(void)
{
    Suite *s = suite_create("waiting");
    TCase *tc = h_tcase(s, "waiting", setup);

    tcase_add_test(tc, a_message_waits_for_its_answer);
    tcase_add_test(tc, answers_drop_or_rewrite);
    tcase_add_test(tc, a_senders_later_lines_wait_behind_in_order);
    tcase_add_test(tc, the_chain_goes_on_after_the_filter_that_waited);
    tcase_add_test(tc, a_late_answer_drops_the_message_and_says_so);
    tcase_add_test(tc, the_held_backlog_is_bounded);
    tcase_add_test(tc, a_sender_who_leaves_takes_its_message_along);
    tcase_add_test(tc, input_that_ends_waits_for_the_answer_then_closes);
    tcase_add_test(tc, a_broker_freed_with_messages_waiting);
    tcase_add_test(tc, login_lines_and_commands_do_not_wait);
    return s;
}

int main(void) { return h_run_suite(waiting_suite()); }
