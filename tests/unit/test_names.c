/*
 * doc/protocol.md "Names and rooms": valid names, case-insensitive uniqueness,
 * spelling, /name and /nick; random default names (unique, walking every
 * combination before repeating, numbered when all are taken); login mode.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Login mode, with bob logged in. */
static void setup_login(void)
{
    h_setup();
    h_opt(h, CHAT_OPT_LOGIN_MODE, 1);
    bob = h_join_as(h, "bob");
}

/* ---- /name --------------------------------------------------------------- */

static const char *const valid_names[] = {
    "ab", "Zz", "99", "__", "--", "A_b-9", "abcdefghijklmnopqrstuvwx",
    "ZenMammoth", "under_score", "dash-dash", "MiXeD-12_x",
};

START_TEST(valid_name_is_taken_and_announced_to_the_room)
{
    const char *name = valid_names[_i];
    char cmd[64], notice[80];

    snprintf(cmd, sizeof cmd, "/name %s\n", name);
    snprintf(notice, sizeof notice, "alice is now %s\n", name);
    h_send(alice, cmd);
    expect_lines(alice, notice);
    expect_lines(bob, notice);
    ck_assert_str_eq(h_name(alice), name);
}
END_TEST

static const char *const invalid_names[] = {
    "a", "Z", "abcdefghijklmnopqrstuvwxy", /* 1 and 25 characters */
    "al!ce", "al.ce", "al/ce", "al:ce", "al@ce", "al+ce", "al\\ce",
    "al'ce", "al\"ce", "al*ce", "al#ce", "caf\xc3\xa9", "\xc3\xa9\xc3\xa9",
};

START_TEST(invalid_name_gets_the_name_error)
{
    char cmd[64];

    snprintf(cmd, sizeof cmd, "/name %s\n", invalid_names[_i]);
    h_send(alice, cmd);
    expect_lines(alice, H_NAME_ERR);
    expect_nothing(bob);
    ck_assert_str_eq(h_name(alice), "alice");
}
END_TEST

START_TEST(name_without_argument_gets_usage)
{
    h_send(alice, "/name\n");
    expect_lines(alice, "Usage: /name NAME\n");
    expect_nothing(bob);
}
END_TEST

START_TEST(nick_without_argument_gets_usage)
{
    char *line;

    h_send(alice, "/nick\n");
    line = h_take_line(alice);
    ck_assert_ptr_nonnull(line);
    ck_assert_msg(strcmp(line, "Usage: /nick NAME") == 0 ||
                      strcmp(line, "Usage: /name NAME") == 0,
                  "got '%s'", line);
    free(line);
    expect_nothing(alice);
}
END_TEST

START_TEST(name_in_use_is_already_taken)
{
    h_send(bob, "/name alice\n");
    expect_lines(bob, "alice is already taken\n");
    expect_nothing(alice);
    ck_assert_str_eq(h_name(bob), "bob");
}
END_TEST

START_TEST(names_compare_case_insensitively)
{
    h_send(bob, "/name ALICE\n");
    expect_lines(bob, "ALICE is already taken\n");
    h_send(bob, "/name aLiCe\n");
    expect_lines(bob, "aLiCe is already taken\n");
    expect_nothing(alice);
}
END_TEST

START_TEST(user_keeps_the_spelling_they_chose)
{
    h_send(alice, "/name AlIcE_X\n");
    expect_lines(bob, "alice is now AlIcE_X\n");
    h_send(alice, "hi\n");
    expect_lines(bob, "AlIcE_X: hi\n");
    h_send(bob, "/users\n");
    expect_lines(bob, "Users - AlIcE_X, bob\n");
}
END_TEST

START_TEST(rename_to_own_name_in_other_case_is_allowed)
{
    h_send(alice, "/name ALICE\n");
    expect_lines(alice, "alice is now ALICE\n");
    expect_lines(bob, "alice is now ALICE\n");
    ck_assert_str_eq(h_name(alice), "ALICE");
}
END_TEST

START_TEST(old_name_is_free_after_a_rename)
{
    h_send(alice, "/name alicia\n");
    h_clear_all(h);
    h_send(bob, "/name Alice\n");
    expect_lines(bob, "bob is now Alice\n");
    expect_lines(alice, "bob is now Alice\n");
}
END_TEST

START_TEST(rename_is_announced_only_in_the_renamers_room)
{
    carol = h_join_as(h, "carol");
    h_send(carol, "/join elsewhere\n");
    h_clear_all(h);
    h_send(alice, "/name ally\n");
    expect_nothing(carol);
    expect_lines(bob, "alice is now ally\n");
}
END_TEST

static const char *const rename_words[] = {"/nick", "/NICK", "/Name", "/NAME",
                                           "/nIcK"};

START_TEST(nick_and_any_case_of_the_command_word_rename)
{
    char cmd[32];

    snprintf(cmd, sizeof cmd, "%s ally\n", rename_words[_i]);
    h_send(alice, cmd);
    expect_lines(alice, "alice is now ally\n");
    expect_lines(bob, "alice is now ally\n");
}
END_TEST

START_TEST(renamed_user_gets_direct_messages_by_new_name)
{
    h_send(alice, "/name ally\n");
    h_clear_all(h);
    h_send(bob, "/msg ALLY psst\n");
    expect_lines(alice, "from bob: psst\n");
    expect_lines(bob, "to ALLY: psst\n");
    h_send(bob, "/msg alice psst\n");
    ck_assert_msg(h_has_line(bob, "No such user: alice"), "old name reached");
    expect_nothing(alice);
}
END_TEST

/* ---- random names -------------------------------------------------------- */

/* An adjective and an animal: letters only, each part capitalised. */
static void check_random_name(const char *name)
{
    size_t n = strlen(name), upper = 0;

    ck_assert_msg(n >= 2 && n <= 24, "bad length: '%s'", name);
    ck_assert_msg(isupper((unsigned char)name[0]), "not capitalised: '%s'",
                  name);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isalpha((unsigned char)name[i]), "not letters: '%s'",
                      name);
        upper += isupper((unsigned char)name[i]) != 0;
    }
    ck_assert_msg(upper >= 2, "not adjective+animal: '%s'", name);
}

static int cmp_ci(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Sort names and fail on the first two that are equal ignoring case. */
static void check_all_distinct(char **names, size_t n)
{
    qsort(names, n, sizeof *names, cmp_ci);
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(strcasecmp(names[i - 1], names[i]) != 0,
                      "name '%s' handed out twice", names[i]);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

START_TEST(new_user_gets_a_random_adjective_animal_name)
{
    h_harness *hh = h_new();
    h_peer *p = h_join(hh);
    char *line, *you = NULL;

    while ((line = h_take_line(p)) != NULL) {
        if (strncmp(line, "You are ", 8) == 0) {
            you = line;
            break;
        }
        free(line);
    }
    ck_assert_msg(you != NULL, "no 'You are' line");
    ck_assert_str_eq(you + 8, h_name(p));
    check_random_name(h_name(p));
    free(you);
    h_free(hh);
}
END_TEST

/*
 * Join n peers, each moving on to a room of its own so no room grows and
 * the test stays linear. Returns their names (the caller frees them).
 */
static char **join_many(h_harness *hh, size_t n)
{
    char **names = calloc(n, sizeof *names);
    char cmd[40];

    ck_assert_ptr_nonnull(names);
    for (size_t i = 0; i < n; i++) {
        h_peer *p = h_join(hh);
        names[i] = strdup(h_name(p));
        ck_assert_ptr_nonnull(names[i]);
        snprintf(cmd, sizeof cmd, "/join r%zu\n", i);
        h_send(p, cmd);
        h_clear(p);
    }
    return names;
}

START_TEST(random_names_are_unique_among_10000_live_users)
{
    h_harness *hh = h_new();
    size_t n = 10000;
    char **names;

    h_opt(hh, CHAT_OPT_RATE, 0);
    names = join_many(hh, n);
    for (size_t i = 0; i < n; i++)
        check_random_name(names[i]);
    check_all_distinct(names, n);
    free_names(names, n);
    h_free(hh);
}
END_TEST

START_TEST(random_names_do_not_repeat_before_10000_were_given)
{
    h_harness *hh = h_new();
    size_t n = 10000;
    char **names = calloc(n, sizeof *names);

    /* Each user leaves before the next comes: nothing is in use, yet the
     * generator must still walk on to a fresh combination. */
    ck_assert_ptr_nonnull(names);
    for (size_t i = 0; i < n; i++) {
        h_peer *p = h_join(hh);
        names[i] = strdup(h_name(p));
        ck_assert_ptr_nonnull(names[i]);
        h_release(p);
    }
    check_all_distinct(names, n);
    free_names(names, n);
    h_free(hh);
}
END_TEST

START_TEST(when_all_combinations_are_in_use_a_number_is_appended)
{
    h_harness *hh = h_new();
    size_t cap = 200000, n = 0, numbered = 0;
    char **names = calloc(cap, sizeof *names);
    char cmd[40];

    ck_assert_ptr_nonnull(names);
    h_opt(hh, CHAT_OPT_RATE, 0);
    /* Keep joining until names come numbered, then a few hundred more. */
    while (n < cap && numbered < 500) {
        h_peer *p = h_join(hh);
        const char *name = h_name(p);
        size_t len = strlen(name), k = len;

        ck_assert_msg(len >= 2 && len <= 24, "bad length: '%s'", name);
        while (k > 0 && isdigit((unsigned char)name[k - 1]))
            k--;
        if (k < len) {
            numbered++;
            ck_assert_msg(name[k] != '0', "number with leading 0: '%s'", name);
        }
        for (size_t i = 0; i < k; i++)
            ck_assert_msg(isalpha((unsigned char)name[i]), "bad name '%s'",
                          name);
        ck_assert_msg(numbered == 0 || k < len,
                      "plain name '%s' after numbered ones", name);
        names[n++] = strdup(name);
        ck_assert_ptr_nonnull(names[n - 1]);
        snprintf(cmd, sizeof cmd, "/join r%zu\n", n);
        h_send(p, cmd);
        h_clear(p);
    }
    ck_assert_msg(numbered > 0, "no numbered name after %zu users", n);
    ck_assert_msg(n - numbered >= 10000,
                  "only %zu plain combinations before numbers",
                  n - numbered);
    check_all_distinct(names, n);
    free_names(names, n);
    h_free(hh);
}
END_TEST

START_TEST(random_name_skips_a_name_a_user_picked)
{
    /* Same seed, same order: the second broker's user takes the name the
     * generator would hand out next, in another case. */
    h_harness *h1 = h_new(), *h2 = h_new();
    h_peer *p1 = h_join(h1), *p2 = h_join(h1);
    h_peer *q1 = h_join(h2), *q2;
    char next[32], cmd[48];

    ck_assert_str_eq(h_name(q1), h_name(p1));
    snprintf(next, sizeof next, "%s", h_name(p2));
    for (char *c = next; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    snprintf(cmd, sizeof cmd, "/name %s\n", next);
    h_send(q1, cmd);
    ck_assert_str_eq(h_name(q1), next);
    q2 = h_join(h2);
    ck_assert_msg(strcasecmp(h_name(q2), next) != 0,
                  "handed out '%s', which is in use as '%s'", h_name(q2),
                  next);
    check_random_name(h_name(q2));
    h_free(h1);
    h_free(h2);
}
END_TEST

START_TEST(random_name_of_a_user_who_left_is_free)
{
    h_peer *p = h_join(h);
    char name[32], cmd[48];

    snprintf(name, sizeof name, "%s", h_name(p));
    h_send(p, "/quit\n");
    snprintf(cmd, sizeof cmd, "/name %s\n", name);
    h_clear_all(h);
    h_send(alice, cmd);
    ck_assert_str_eq(h_name(alice), name);
}
END_TEST

/* ---- login mode ------------------------------------------------------------ */

START_TEST(login_mode_waits_for_a_name_in_silence)
{
    h_peer *p = h_join(h);

    expect_nothing(p);
    expect_nothing(bob);
    ck_assert_ptr_null(chat_peer_name(p->p));
    ck_assert_ptr_null(chat_peer_room(p->p));
    h_send(bob, "anyone?\n");
    expect_nothing(p);
    h_send(bob, "/users\n");
    expect_lines(bob, "bob: anyone?\n", "Users - bob\n");
}
END_TEST

START_TEST(login_first_line_is_the_name_then_the_greeting)
{
    h_peer *p = h_join(h);
    char *help = h_help_text();

    h_send(p, "Alice\n");
    expect_prefix(p, help);
    expect_lines(p, "You are Alice\n", "You joined main\n");
    expect_lines(bob, "Alice joined main\n");
    ck_assert_str_eq(h_name(p), "Alice");
    ck_assert_str_eq(h_room(p), "main");
    free(help);
}
END_TEST

START_TEST(login_invalid_name_gets_error_and_server_waits)
{
    h_peer *p = h_join(h);

    h_send(p, "a\n");
    expect_lines(p, H_NAME_ERR);
    h_send(p, "no spaces\n");
    expect_lines(p, H_NAME_ERR);
    expect_nothing(bob);
    ck_assert_int_eq(h_reason(p), CHAT_CLOSE_NONE);
    h_send(p, "alice\n");
    ck_assert_str_eq(h_name(p), "alice");
    expect_lines(bob, "alice joined main\n");
}
END_TEST

START_TEST(login_taken_name_gets_error_and_server_waits)
{
    h_peer *p = h_join(h);

    h_send(p, "BOB\n");
    expect_lines(p, "BOB is already taken\n");
    expect_nothing(bob);
    h_send(p, "bobby\n");
    ck_assert_str_eq(h_name(p), "bobby");
}
END_TEST

static const char *const not_a_name[] = {
    "/help\n", "/quit\n", "/name alice\n", "/join pizza\n", "/users\n",
    "hello world\n", "/me waves\n", "/msg bob hi\n",
};

START_TEST(login_accepts_nothing_but_a_name)
{
    h_peer *p = h_join(h);

    h_send(p, not_a_name[_i]);
    expect_lines(p, H_NAME_ERR);
    expect_nothing(bob);
    ck_assert_int_eq(h_reason(p), CHAT_CLOSE_NONE);
    ck_assert_ptr_null(chat_peer_name(p->p));
}
END_TEST

START_TEST(login_empty_line_is_ignored)
{
    h_peer *p = h_join(h);

    h_send(p, "\n  \r\n");
    expect_nothing(p);
}
END_TEST

START_TEST(login_too_long_and_bad_utf8_lines_get_their_errors)
{
    h_peer *p = h_join(h);
    char *line = h_repeat('n', 401);

    h_send(p, line);
    h_send(p, "\n");
    expect_lines(p, H_TOO_LONG);
    h_send(p, "\xc0\xaf\n");
    expect_lines(p, H_BAD_UTF8);
    free(line);
}
END_TEST

START_TEST(login_timeout_closes_a_nameless_connection)
{
    h_peer *p;

    h_opt(h, CHAT_OPT_IDLE_TIMEOUT_MS, 0);
    p = h_join(h);
    h_advance(h, 10000);
    h_send(p, "x\n"); /* an invalid name does not restart the clock */
    h_advance(h, 19999);
    ck_assert_int_eq(h_reason(p), CHAT_CLOSE_NONE);
    h_advance(h, 2);
    ck_assert_int_eq(h_reason(p), CHAT_CLOSE_LOGIN_TIMEOUT);
    ck_assert_int_ne(chat_close_reason_flushes(CHAT_CLOSE_LOGIN_TIMEOUT), 0);
    expect_nothing(bob);
    ck_assert_int_eq(h_reason(bob), CHAT_CLOSE_NONE);
}
END_TEST

START_TEST(login_timeout_is_configurable_and_0_turns_it_off)
{
    h_peer *p, *q;

    h_opt(h, CHAT_OPT_IDLE_TIMEOUT_MS, 0);
    h_opt(h, CHAT_OPT_LOGIN_TIMEOUT_MS, 5000);
    p = h_join(h);
    h_advance(h, 5001);
    ck_assert_int_eq(h_reason(p), CHAT_CLOSE_LOGIN_TIMEOUT);
    h_opt(h, CHAT_OPT_LOGIN_TIMEOUT_MS, 0);
    q = h_join(h);
    h_advance(h, 10 * 1000 * 1000);
    ck_assert_int_eq(h_reason(q), CHAT_CLOSE_NONE);
}
END_TEST

START_TEST(login_timeout_does_not_apply_after_a_valid_name)
{
    h_peer *p = h_join(h);

    h_advance(h, 1000);
    h_send(p, "alice\n");
    h_advance(h, 60000);
    ck_assert_int_eq(h_reason(p), CHAT_CLOSE_NONE);
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = h_tcase(s, "rename", h_setup_ab);
    tcase_add_loop_test(tc, valid_name_is_taken_and_announced_to_the_room, 0,
                        (int)(sizeof valid_names / sizeof *valid_names));
    tcase_add_loop_test(tc, invalid_name_gets_the_name_error, 0,
                        (int)(sizeof invalid_names / sizeof *invalid_names));
    tcase_add_test(tc, name_without_argument_gets_usage);
    tcase_add_test(tc, nick_without_argument_gets_usage);
    tcase_add_test(tc, name_in_use_is_already_taken);
    tcase_add_test(tc, names_compare_case_insensitively);
    tcase_add_test(tc, user_keeps_the_spelling_they_chose);
    tcase_add_test(tc, rename_to_own_name_in_other_case_is_allowed);
    tcase_add_test(tc, old_name_is_free_after_a_rename);
    tcase_add_test(tc, rename_is_announced_only_in_the_renamers_room);
    tcase_add_loop_test(tc, nick_and_any_case_of_the_command_word_rename, 0,
                        (int)(sizeof rename_words / sizeof *rename_words));
    tcase_add_test(tc, renamed_user_gets_direct_messages_by_new_name);

    tc = h_tcase(s, "random", h_setup_ab);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, new_user_gets_a_random_adjective_animal_name);
    tcase_add_test(tc, random_names_are_unique_among_10000_live_users);
    tcase_add_test(tc, random_names_do_not_repeat_before_10000_were_given);
    tcase_add_test(tc, when_all_combinations_are_in_use_a_number_is_appended);
    tcase_add_test(tc, random_name_skips_a_name_a_user_picked);
    tcase_add_test(tc, random_name_of_a_user_who_left_is_free);

    tc = h_tcase(s, "login", setup_login);
    tcase_add_test(tc, login_mode_waits_for_a_name_in_silence);
    tcase_add_test(tc, login_first_line_is_the_name_then_the_greeting);
    tcase_add_test(tc, login_invalid_name_gets_error_and_server_waits);
    tcase_add_test(tc, login_taken_name_gets_error_and_server_waits);
    tcase_add_loop_test(tc, login_accepts_nothing_but_a_name, 0,
                        (int)(sizeof not_a_name / sizeof *not_a_name));
    tcase_add_test(tc, login_empty_line_is_ignored);
    tcase_add_test(tc, login_too_long_and_bad_utf8_lines_get_their_errors);
    tcase_add_test(tc, login_timeout_closes_a_nameless_connection);
    tcase_add_test(tc, login_timeout_is_configurable_and_0_turns_it_off);
    tcase_add_test(tc, login_timeout_does_not_apply_after_a_valid_name);
    return s;
}

int main(void)
{
    return h_run_suite(names_suite());
}
