/*
 * Message filters (broker.h): allow, drop and rewrite, chain order, what a
 * filter sees, re-sanitizing rewritten text, adding and removing filters,
 * and how filtered messages reach history.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A scripted filter: what it returns and what it saw last. */
typedef struct fctx {
    chat_filter_verdict verdict;
    const char *rewrite;   /* for REWRITE: the new text (may hold any bytes) */
    size_t rewrite_len;    /* 0: strlen(rewrite) */
    const char *append;    /* for REWRITE with rewrite NULL: add this */
    int calls;
    chat_msg_kind kind;
    char sender[32];
    char room[32];
    int room_null;
    char text[CHAT_MAX_LINE + 1];
} fctx;

static chat_filter_verdict filter(void *ctx, const chat_filter_msg *m,
                                  char *buf, size_t *len)
{
    fctx *f = ctx;

    f->calls++;
    f->kind = m->kind;
    snprintf(f->sender, sizeof f->sender, "%s", m->sender);
    f->room_null = m->room == NULL;
    snprintf(f->room, sizeof f->room, "%s", m->room ? m->room : "");
    ck_assert_uint_ge(m->len, 1);
    ck_assert_uint_le(m->len, CHAT_MAX_LINE);
    memcpy(f->text, m->text, m->len);
    f->text[m->len] = '\0';
    if (f->verdict != CHAT_FILTER_REWRITE)
        return f->verdict;
    if (f->rewrite) {
        size_t n = f->rewrite_len ? f->rewrite_len : strlen(f->rewrite);
        memcpy(buf, f->rewrite, n);
        *len = n;
    } else {
        size_t n = strlen(f->append);
        ck_assert_uint_le(m->len + n, CHAT_MAX_LINE);
        memcpy(buf, m->text, m->len);
        memcpy(buf + m->len, f->append, n);
        *len = m->len + n;
    }
    return CHAT_FILTER_REWRITE;
}

static void add(fctx *f)
{
    ck_assert_int_eq(chat_broker_add_filter(h->b, filter, f), CHAT_OK);
}

START_TEST(allowed_message_is_relayed_unchanged)
{
    fctx f = {.verdict = CHAT_FILTER_ALLOW};

    add(&f);
    h_send(alice, "hello\n");
    expect_lines(alice, "alice: hello\n");
    expect_lines(bob, "alice: hello\n");
    ck_assert_int_eq(f.calls, 1);
    ck_assert_int_eq(f.kind, CHAT_KIND_CHAT);
    ck_assert_str_eq(f.sender, "alice");
    ck_assert_str_eq(f.room, "main");
    ck_assert_str_eq(f.text, "hello");
}
END_TEST

START_TEST(dropped_message_reaches_no_one_and_sender_is_not_told)
{
    fctx f = {.verdict = CHAT_FILTER_DROP};

    add(&f);
    h_send(alice, "spam\n");
    expect_nothing(alice);
    expect_nothing(bob);
    h_send(alice, "/me spams\n");
    expect_nothing(alice);
    expect_nothing(bob);
    h_send(alice, "/msg bob spam\n");
    expect_nothing(bob);
    ck_assert_int_eq(f.calls, 3);
}
END_TEST

START_TEST(rewritten_message_is_relayed_instead)
{
    fctx f = {.verdict = CHAT_FILTER_REWRITE, .rewrite = "[censored]"};

    add(&f);
    h_send(alice, "darn\n");
    expect_lines(alice, "alice: [censored]\n");
    expect_lines(bob, "alice: [censored]\n");
}
END_TEST

START_TEST(filters_run_in_the_order_added)
{
    fctx f1 = {.verdict = CHAT_FILTER_REWRITE, .append = "1"};
    fctx f2 = {.verdict = CHAT_FILTER_REWRITE, .append = "2"};

    add(&f1);
    add(&f2);
    h_send(alice, "hi\n");
    expect_lines(bob, "alice: hi12\n");
    ck_assert_str_eq(f1.text, "hi");
    ck_assert_str_eq(f2.text, "hi1");
}
END_TEST

START_TEST(a_drop_after_a_rewrite_wins)
{
    fctx f1 = {.verdict = CHAT_FILTER_REWRITE, .append = "!"};
    fctx f2 = {.verdict = CHAT_FILTER_DROP};

    add(&f1);
    add(&f2);
    h_send(alice, "hi\n");
    expect_nothing(bob);
    ck_assert_str_eq(f2.text, "hi!");
}
END_TEST

START_TEST(filter_sees_sanitized_text)
{
    fctx f = {.verdict = CHAT_FILTER_ALLOW};

    add(&f);
    h_send(alice, "  a\x1b[0mb\x07  \r\n");
    ck_assert_str_eq(f.text, "a[0mb");
}
END_TEST

static const struct {
    const char *rewrite;
    const char *relayed; /* NULL: the message is dropped */
} resanitize_cases[] = {
    {"  \x1b[1mbold\x07  ", "alice: [1mbold\n"},
    {"\xc2\x9b" "31m red", "alice: 31m red\n"},
    {"tab\tok", "alice: tab\tok\n"},
    {"two\nlines", "alice: twolines\n"},
    {"   ", NULL},
    {"\x1b\x1b", NULL},
    {"\xc0\xaf", NULL},
    {"ok\xed\xa0\x80", NULL},
};

START_TEST(rewritten_text_is_sanitized_again)
{
    fctx f = {.verdict = CHAT_FILTER_REWRITE,
              .rewrite = resanitize_cases[_i].rewrite};

    add(&f);
    h_send(alice, "original\n");
    if (resanitize_cases[_i].relayed) {
        expect_lines(bob, resanitize_cases[_i].relayed);
    } else {
        expect_nothing(bob);
        expect_nothing(alice);
    }
}
END_TEST

START_TEST(rewrite_with_a_nul_byte_removes_it)
{
    fctx f = {.verdict = CHAT_FILTER_REWRITE, .rewrite = "a\0b",
              .rewrite_len = 3};

    add(&f);
    h_send(alice, "x\n");
    expect_lines(bob, "alice: ab\n");
}
END_TEST

START_TEST(rewrite_may_fill_the_whole_line)
{
    char *big = h_repeat('B', CHAT_MAX_LINE);
    char want[CHAT_MAX_LINE + 16];
    fctx f = {.verdict = CHAT_FILTER_REWRITE, .rewrite = big};

    add(&f);
    h_send(alice, "x\n");
    snprintf(want, sizeof want, "alice: %s\n", big);
    expect_lines(bob, want);
    free(big);
}
END_TEST

START_TEST(me_and_direct_messages_are_filtered_with_their_kind)
{
    fctx f = {.verdict = CHAT_FILTER_REWRITE, .append = "!"};

    add(&f);
    h_send(alice, "/me waves\n");
    ck_assert_int_eq(f.kind, CHAT_KIND_ME);
    ck_assert_str_eq(f.text, "waves");
    ck_assert_str_eq(f.room, "main");
    expect_lines(bob, "* alice waves!\n");
    h_send(alice, "/msg bob psst\n");
    ck_assert_int_eq(f.kind, CHAT_KIND_DIRECT);
    ck_assert_str_eq(f.text, "psst");
    ck_assert_str_eq(f.sender, "alice");
    ck_assert(f.room_null);
    expect_lines(bob, "from alice: psst!\n");
}
END_TEST

START_TEST(commands_and_notices_are_not_filtered)
{
    fctx f = {.verdict = CHAT_FILTER_DROP};

    add(&f);
    h_send(alice, "/users\n");
    h_send(alice, "/rooms\n");
    h_send(alice, "/help\n");
    h_send(alice, "/name alicia\n");
    h_send(alice, "/join pizza\n");
    h_send(alice, "/nosuch\n");
    carol = h_join(h);
    h_send(carol, "/quit\n");
    ck_assert_int_eq(f.calls, 0);
    ck_assert(h_has_line(bob, "alice is now alicia"));
    ck_assert(h_has_line(bob, "alicia left main"));
}
END_TEST

START_TEST(removed_filter_no_longer_runs)
{
    fctx f = {.verdict = CHAT_FILTER_DROP};
    fctx other = {.verdict = CHAT_FILTER_DROP};

    add(&f);
    ck_assert_int_eq(chat_broker_remove_filter(h->b, filter, &other),
                     CHAT_ERR_NOT_FOUND);
    ck_assert_int_eq(chat_broker_remove_filter(h->b, filter, &f), CHAT_OK);
    ck_assert_int_eq(chat_broker_remove_filter(h->b, filter, &f),
                     CHAT_ERR_NOT_FOUND);
    h_send(alice, "free again\n");
    expect_lines(bob, "alice: free again\n");
    ck_assert_int_eq(f.calls, 0);
}
END_TEST

START_TEST(remove_takes_the_first_of_two_identical_filters)
{
    fctx f = {.verdict = CHAT_FILTER_REWRITE, .append = "+"};

    add(&f);
    add(&f);
    h_send(alice, "x\n");
    expect_lines(bob, "alice: x++\n");
    ck_assert_int_eq(chat_broker_remove_filter(h->b, filter, &f), CHAT_OK);
    h_send(alice, "y\n");
    expect_lines(bob, "alice: y+\n");
}
END_TEST

START_TEST(adding_a_null_filter_is_invalid)
{
    ck_assert_int_eq(chat_broker_add_filter(h->b, NULL, NULL),
                     CHAT_ERR_INVALID);
}
END_TEST

START_TEST(history_keeps_the_filtered_version)
{
    fctx f = {.verdict = CHAT_FILTER_REWRITE, .rewrite = "nice words"};
    fctx d = {.verdict = CHAT_FILTER_DROP};

    add(&f);
    h_send(alice, "rude words\n");
    ck_assert_int_eq(chat_broker_remove_filter(h->b, filter, &f), CHAT_OK);
    add(&d);
    h_send(alice, "dropped words\n");
    ck_assert_int_eq(chat_broker_remove_filter(h->b, filter, &d), CHAT_OK);
    carol = h_join(h);
    ck_assert(h_has_line(carol, "alice: nice words"));
    ck_assert(!h_has_line(carol, "alice: rude words"));
    ck_assert(!h_has_line(carol, "alice: dropped words"));
}
END_TEST

static Suite *filters_suite(void)
{
    Suite *s = suite_create("filters");
    TCase *tc = h_tcase(s, "filters", h_setup_ab);
    tcase_add_test(tc, allowed_message_is_relayed_unchanged);
    tcase_add_test(tc, dropped_message_reaches_no_one_and_sender_is_not_told);
    tcase_add_test(tc, rewritten_message_is_relayed_instead);
    tcase_add_test(tc, filters_run_in_the_order_added);
    tcase_add_test(tc, a_drop_after_a_rewrite_wins);
    tcase_add_test(tc, filter_sees_sanitized_text);
    tcase_add_loop_test(tc, rewritten_text_is_sanitized_again, 0,
                        (int)(sizeof resanitize_cases /
                              sizeof *resanitize_cases));
    tcase_add_test(tc, rewrite_with_a_nul_byte_removes_it);
    tcase_add_test(tc, rewrite_may_fill_the_whole_line);
    tcase_add_test(tc, me_and_direct_messages_are_filtered_with_their_kind);
    tcase_add_test(tc, commands_and_notices_are_not_filtered);
    tcase_add_test(tc, removed_filter_no_longer_runs);
    tcase_add_test(tc, remove_takes_the_first_of_two_identical_filters);
    tcase_add_test(tc, adding_a_null_filter_is_invalid);
    tcase_add_test(tc, history_keeps_the_filtered_version);
    return s;
}

int main(void)
{
    return h_run_suite(filters_suite());
}
