/*
 * doc/protocol.md "Lines", through the broker: line endings, the 400-byte
 * limit, UTF-8 validation, control characters and trimming, empty lines,
 * telnet IAC sequences, telnet interrupts and the Ctrl-D line.
 *
 * Every test has alice and bob in room main; alice sends, and both see
 * what the room sees.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdlib.h>
#include <string.h>

/* alice's line reached the room as exactly "alice: {text}". */
static void expect_relayed(const char *text)
{
    size_t n = strlen(text);
    char *line = malloc(n + 9);

    ck_assert_ptr_nonnull(line);
    memcpy(line, "alice: ", 7);
    memcpy(line + 7, text, n);
    memcpy(line + 7 + n, "\n", 2);
    expect_lines(alice, line);
    expect_lines(bob, line);
    free(line);
}

static void expect_still_open(h_peer *p)
{
    ck_assert_int_eq(h_reason(p), CHAT_CLOSE_NONE);
}

/* ---- line endings --------------------------------------------------------- */

START_TEST(line_ending_in_newline_is_relayed)
{
    h_send(alice, "hi\n");
    expect_relayed("hi");
}
END_TEST

START_TEST(cr_lf_line_is_relayed_without_the_cr)
{
    h_send(alice, "hi\r\n");
    expect_relayed("hi");
}
END_TEST

START_TEST(line_split_across_feeds_is_relayed_once_complete)
{
    h_send(alice, "h");
    expect_nothing(bob);
    h_send(alice, "i\r");
    expect_nothing(bob);
    h_send(alice, "\n");
    expect_relayed("hi");
}
END_TEST

START_TEST(several_lines_in_one_feed_are_relayed_in_order)
{
    h_send(alice, "one\ntwo\r\nthree\n");
    expect_lines(bob, "alice: one\n", "alice: two\n", "alice: three\n");
}
END_TEST

START_TEST(byte_at_a_time_input_is_relayed)
{
    static const char in[] = "hello there\r\n/me waves\n";

    h_send_bytewise(alice, in, sizeof in - 1);
    expect_lines(bob, "alice: hello there\n", "* alice waves\n");
}
END_TEST

/* ---- the 400-byte limit --------------------------------------------------- */

START_TEST(line_of_exactly_400_bytes_is_relayed)
{
    char *text = h_repeat('a', 400);
    char *in = malloc(402);

    ck_assert_ptr_nonnull(in);
    memcpy(in, text, 400);
    memcpy(in + 400, "\n", 2);
    h_send(alice, in);
    expect_relayed(text);
    free(text);
    free(in);
}
END_TEST

START_TEST(line_of_400_bytes_with_cr_lf_is_relayed)
{
    char *text = h_repeat('a', 400);

    h_send(alice, text);
    h_send(alice, "\r\n");
    expect_relayed(text);
    free(text);
}
END_TEST

START_TEST(line_of_401_bytes_is_rejected_and_connection_stays)
{
    char *text = h_repeat('a', 401);

    h_send(alice, text);
    h_send(alice, "\n");
    expect_lines(alice, H_TOO_LONG);
    expect_nothing(bob);
    expect_still_open(alice);
    h_send(alice, "still here\n");
    expect_relayed("still here");
    free(text);
}
END_TEST

START_TEST(limit_counts_bytes_not_characters)
{
    /* 200 two-byte characters are 400 bytes; one more byte is too many. */
    char in[420];

    for (int i = 0; i < 200; i++)
        memcpy(in + 2 * i, "\xc3\xa9", 2);
    in[400] = '\0';
    h_send(alice, in);
    h_send(alice, "\n");
    expect_relayed(in);
    memcpy(in + 400, "e\n", 3);
    h_send(alice, in);
    expect_lines(alice, H_TOO_LONG);
    expect_nothing(bob);
}
END_TEST

START_TEST(ten_kilobyte_line_gets_one_error)
{
    size_t n = 10 * 1024;
    char *text = h_repeat('z', n);

    /* Once in one feed, once in small pieces. */
    h_send(alice, text);
    h_send(alice, "\n");
    expect_lines(alice, H_TOO_LONG);
    for (size_t off = 0; off < n; off += 64)
        h_sendn(alice, text + off, 64);
    h_send(alice, "\r\nok\n");
    expect_lines(alice, H_TOO_LONG, "alice: ok\n");
    expect_lines(bob, "alice: ok\n");
    expect_still_open(alice);
    free(text);
}
END_TEST

START_TEST(over_long_command_is_rejected_too)
{
    char *text = h_repeat('m', 420);

    h_send(alice, "/me ");
    h_send(alice, text);
    h_send(alice, "\n");
    expect_lines(alice, H_TOO_LONG);
    expect_nothing(bob);
    free(text);
}
END_TEST

/* ---- UTF-8 ------------------------------------------------------------------ */

static const char *const invalid_utf8[] = {
    "\xc0\xaf",             /* overlong "/" */
    "\xc1\xbf",             /* overlong, 2 bytes */
    "\xe0\x80\xaf",         /* overlong, 3 bytes */
    "\xe0\x9f\xbf",         /* overlong U+07FF */
    "\xf0\x80\x80\xaf",     /* overlong, 4 bytes */
    "\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
    "\xed\xa0\x80",         /* surrogate U+D800 */
    "\xed\xbf\xbf",         /* surrogate U+DFFF */
    "\xed\xa0\xbd\xed\xb8\x80", /* a CESU-8 surrogate pair */
    "\xf4\x90\x80\x80",     /* past U+10FFFF */
    "\xf5\x80\x80\x80",     /* lead byte F5 */
    "\xf8\x88\x80\x80\x80", /* 5-byte form */
    "\xfe",                 /* (0xFF alone is telnet IAC, not text) */
    "\x80",                 /* lone continuation byte */
    ("ab\xbf" "cd"),        /* continuation in the middle */
    "\xc3",                 /* truncated at the end of the line */
    "\xe2\x82",             /* truncated 3-byte */
    "\xf0\x9f\x98",         /* truncated 4-byte */
    "\xe2\x82x",            /* truncated, then ASCII */
    "\xc3\xc3\xa9",         /* lead byte then a new character */
    "caf\xe9",              /* Latin-1, not UTF-8 */
};

START_TEST(invalid_utf8_is_rejected_and_connection_stays)
{
    const char *bad = invalid_utf8[_i];
    size_t n = strlen(bad);
    char in[32] = "x";

    memcpy(in + 1, bad, n);
    memcpy(in + 1 + n, "y\n", 3);
    h_send(alice, in);
    expect_lines(alice, H_BAD_UTF8);
    expect_nothing(bob);
    expect_still_open(alice);
    h_send(alice, "ok\n");
    expect_relayed("ok");
}
END_TEST

static const char *const valid_utf8[] = {
    "caf\xc3\xa9",         /* é */
    "\xe2\x82\xac",        /* € */
    "\xf0\x9f\x98\x80",    /* 😀 */
    "\xed\x9f\xbf",        /* U+D7FF, just below the surrogates */
    "\xee\x80\x80",        /* U+E000, just above them */
    "\xef\xbf\xbd",        /* U+FFFD */
    "\xf4\x8f\xbf\xbf",    /* U+10FFFF, the last code point */
    "\xc2\xa0nbsp",        /* U+00A0 is not a control character */
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
};

START_TEST(valid_utf8_is_relayed_unchanged)
{
    char in[64];

    strcpy(in, valid_utf8[_i]);
    strcat(in, "\n");
    h_send(alice, in);
    expect_relayed(valid_utf8[_i]);
}
END_TEST

START_TEST(invalid_utf8_in_a_command_is_rejected)
{
    h_send(alice, "/me \xc0\xaf\n");
    expect_lines(alice, H_BAD_UTF8);
    h_send(alice, "/msg bob \xed\xa0\x80\n");
    expect_lines(alice, H_BAD_UTF8);
    expect_nothing(bob);
}
END_TEST

/* ---- control characters and trimming ---------------------------------------- */

static const struct {
    const char *in;  /* what alice types, without "\n" */
    const char *out; /* the text the room sees */
} sanitize_cases[] = {
    {"red \x1b[31mtext", "red [31mtext"},      /* ESC removed */
    {"bell\x07!", "bell!"},
    {"a\x01\x02\x03\x04\x05\x06\x08\x0b\x0c\x0e\x0f" "b", "ab"},
    {"a\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f" "b",
     "ab"},
    {"del\x7f" "ete", "delete"},
    {"c1 \xc2\x9b" "2J", "c1 2J"},              /* U+009B CSI */
    {"\xc2\x80" "x\xc2\x85" "y\xc2\x9f", "xy"}, /* U+0080, U+0085, U+009F */
    {"tab\tkept", "tab\tkept"},
    {"  padded  ", "padded"},
    {"\t\ttabs\t ", "tabs"},
    {"inner   spaces", "inner   spaces"},
    {"\x01 lead", "lead"},                      /* trim after removal */
    {"trail \x1b", "trail"},
    {"cr\rinside", "crinside"},
    {"two crs\r\r", "two crs"},
    {"\xc2\xa0" "nbsp\xc2\xa0", "\xc2\xa0" "nbsp\xc2\xa0"}, /* not trimmed */
};

START_TEST(control_characters_are_removed_and_text_trimmed)
{
    char in[128];
    size_t n = strlen(sanitize_cases[_i].in);

    memcpy(in, sanitize_cases[_i].in, n);
    memcpy(in + n, "\n", 2);
    h_send(alice, in);
    expect_relayed(sanitize_cases[_i].out);
}
END_TEST

START_TEST(nul_byte_is_removed)
{
    h_sendn(alice, "a\0b\n", 4);
    expect_relayed("ab");
}
END_TEST

START_TEST(control_characters_are_removed_from_me_and_msg)
{
    h_send(alice, "/me \x1b[2Jdances\x07\n");
    expect_lines(alice, "* alice [2Jdances\n");
    expect_lines(bob, "* alice [2Jdances\n");
    h_send(alice, "/msg bob a\x1b" "b\xc2\x9b\n");
    expect_lines(alice, "to bob: ab\n");
    expect_lines(bob, "from alice: ab\n");
}
END_TEST

static const char *const empty_lines[] = {
    "\n", "\r\n", "   \n", "\t \t\r\n", "\x1b\n", "\x01\x02 \x7f\n",
    "\xc2\x9b\n",
};

START_TEST(line_empty_after_cleaning_is_ignored_without_reply)
{
    h_send(alice, empty_lines[_i]);
    expect_nothing(alice);
    expect_nothing(bob);
    expect_still_open(alice);
}
END_TEST

/* ---- telnet ------------------------------------------------------------------- */

static const unsigned char negotiation_cmds[] = {251, 252, 253, 254};

START_TEST(telnet_negotiation_is_never_relayed)
{
    char in[16] = {'h', (char)0xff, (char)negotiation_cmds[_i], 1, 'i', '\n'};

    h_sendn(alice, in, 6);
    expect_relayed("hi");
    /* At the start of a session, as a telnet client sends it. */
    in[0] = (char)0xff;
    in[1] = (char)negotiation_cmds[_i];
    in[2] = 0x22;
    in[3] = 'o';
    in[4] = 'k';
    h_sendn(alice, in, 6);
    expect_relayed("ok");
}
END_TEST

START_TEST(telnet_subnegotiation_is_never_relayed)
{
    static const char in[] = "a\xff\xfa\x18\x00xterm-256color\xff\xf0" "b\n";

    h_sendn(alice, in, sizeof in - 1);
    expect_relayed("ab");
}
END_TEST

START_TEST(telnet_sequences_split_across_feeds)
{
    static const char in[] = "\xff\xfd\x01\xff\xfb\x1fhe\xff\xfa\x1f\x00\x50"
                             "\x00\x18\xff\xf0llo\xff\xf1\r\n";

    h_send_bytewise(alice, in, sizeof in - 1);
    expect_relayed("hello");
}
END_TEST

static const unsigned char interrupts[] = {244, 243, 238}; /* IP, BRK, ABORT */

START_TEST(telnet_interrupt_closes_like_quit)
{
    char in[2] = {(char)0xff, (char)interrupts[_i]};

    h_sendn(alice, in, 2);
    expect_lines(alice, H_BYE);
    expect_lines(bob, "alice left main\n");
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_QUIT);
}
END_TEST

START_TEST(telnet_interrupt_mid_line_discards_the_rest)
{
    static const char in[] = "half a li\xff\xf4ne\n";

    h_sendn(alice, in, sizeof in - 1);
    expect_lines(alice, H_BYE);
    expect_lines(bob, "alice left main\n");
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_QUIT);
}
END_TEST

static const char *const ctrl_d_lines[] = {"\x04\n", "\x04\r\n"};

START_TEST(ctrl_d_line_closes_like_quit)
{
    h_send(alice, ctrl_d_lines[_i]);
    expect_lines(alice, H_BYE);
    expect_lines(bob, "alice left main\n");
    ck_assert_int_eq(h_reason(alice), CHAT_CLOSE_QUIT);
}
END_TEST

START_TEST(ctrl_d_inside_text_is_just_removed)
{
    h_send(alice, "bye\x04\n");
    expect_relayed("bye");
    expect_still_open(alice);
}
END_TEST

START_TEST(input_after_quit_is_ignored)
{
    ck_assert_int_eq(h_send(alice, "/quit\nlate line\n"), CHAT_OK);
    expect_lines(alice, H_BYE);
    expect_lines(bob, "alice left main\n");
    ck_assert_int_eq(h_send(alice, "later\n"), CHAT_ERR_STATE);
    expect_nothing(alice);
    expect_nothing(bob);
}
END_TEST

static Suite *framing_suite(void)
{
    Suite *s = suite_create("framing");
    TCase *tc = h_tcase(s, "line endings", h_setup_ab);
    tcase_add_test(tc, line_ending_in_newline_is_relayed);
    tcase_add_test(tc, cr_lf_line_is_relayed_without_the_cr);
    tcase_add_test(tc, line_split_across_feeds_is_relayed_once_complete);
    tcase_add_test(tc, several_lines_in_one_feed_are_relayed_in_order);
    tcase_add_test(tc, byte_at_a_time_input_is_relayed);

    tc = h_tcase(s, "length limit", h_setup_ab);
    tcase_add_test(tc, line_of_exactly_400_bytes_is_relayed);
    tcase_add_test(tc, line_of_400_bytes_with_cr_lf_is_relayed);
    tcase_add_test(tc, line_of_401_bytes_is_rejected_and_connection_stays);
    tcase_add_test(tc, limit_counts_bytes_not_characters);
    tcase_add_test(tc, ten_kilobyte_line_gets_one_error);
    tcase_add_test(tc, over_long_command_is_rejected_too);

    tc = h_tcase(s, "utf-8", h_setup_ab);
    tcase_add_loop_test(tc, invalid_utf8_is_rejected_and_connection_stays, 0,
                        (int)(sizeof invalid_utf8 / sizeof *invalid_utf8));
    tcase_add_loop_test(tc, valid_utf8_is_relayed_unchanged, 0,
                        (int)(sizeof valid_utf8 / sizeof *valid_utf8));
    tcase_add_test(tc, invalid_utf8_in_a_command_is_rejected);

    tc = h_tcase(s, "control characters", h_setup_ab);
    tcase_add_loop_test(tc, control_characters_are_removed_and_text_trimmed, 0,
                        (int)(sizeof sanitize_cases / sizeof *sanitize_cases));
    tcase_add_test(tc, nul_byte_is_removed);
    tcase_add_test(tc, control_characters_are_removed_from_me_and_msg);
    tcase_add_loop_test(tc, line_empty_after_cleaning_is_ignored_without_reply,
                        0, (int)(sizeof empty_lines / sizeof *empty_lines));

    tc = h_tcase(s, "telnet", h_setup_ab);
    tcase_add_loop_test(tc, telnet_negotiation_is_never_relayed, 0,
                        (int)sizeof negotiation_cmds);
    tcase_add_test(tc, telnet_subnegotiation_is_never_relayed);
    tcase_add_test(tc, telnet_sequences_split_across_feeds);
    tcase_add_loop_test(tc, telnet_interrupt_closes_like_quit, 0,
                        (int)sizeof interrupts);
    tcase_add_test(tc, telnet_interrupt_mid_line_discards_the_rest);
    tcase_add_loop_test(tc, ctrl_d_line_closes_like_quit, 0,
                        (int)(sizeof ctrl_d_lines / sizeof *ctrl_d_lines));
    tcase_add_test(tc, ctrl_d_inside_text_is_just_removed);
    tcase_add_test(tc, input_after_quit_is_ignored);
    return s;
}

int main(void)
{
    return h_run_suite(framing_suite());
}
