/*
 * The framer API on its own (include/libchat/framer.h): lines, CR LF, the
 * line limit, telnet IAC handling, finish, stopping a feed, allocation
 * failure.
 *
 * Events are recorded as a compact trace so a test reads like the stream:
 * L(text) a line, T a too-long line, I a telnet interrupt, N out of memory.
 * Bytes outside printable ASCII appear as \xNN.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct trace {
    char s[8192];
    size_t len;
    int events;
    int stop_after; /* stop the feed after this many events; 0 = never */
    size_t max_buffered;
    chat_framer *f;
} trace;

static void tr_put(trace *t, const char *s)
{
    size_t n = strlen(s);

    ck_assert_msg(t->len + n < sizeof t->s, "trace overflow");
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

static int on_event(void *ctx, chat_frame_event ev, const char *line,
                    size_t len)
{
    trace *t = ctx;
    char esc[8];

    switch (ev) {
    case CHAT_FRAME_LINE:
        if (len > 0)
            ck_assert_ptr_nonnull(line);
        tr_put(t, "L(");
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)line[i];
            ck_assert_msg(c != '\n', "a line holds a newline");
            if (c >= 0x20 && c < 0x7f && c != '\\') {
                esc[0] = (char)c;
                esc[1] = '\0';
            } else {
                snprintf(esc, sizeof esc, "\\x%02x", c);
            }
            tr_put(t, esc);
        }
        tr_put(t, ")");
        break;
    case CHAT_FRAME_TOO_LONG:
        tr_put(t, "T");
        break;
    case CHAT_FRAME_INTERRUPT:
        tr_put(t, "I");
        break;
    case CHAT_FRAME_NOMEM:
        tr_put(t, "N");
        break;
    default:
        ck_abort_msg("unknown framer event %d", (int)ev);
    }
    t->events++;
    return t->stop_after && t->events >= t->stop_after;
}

static chat_framer *new_framer(size_t max, unsigned flags)
{
    chat_framer *f = NULL;

    ck_assert_int_eq(chat_framer_new(&f, max, flags, NULL), CHAT_OK);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* Feed all of s in one call and return the trace. */
static void feed(chat_framer *f, trace *t, const char *s, size_t n)
{
    size_t used = chat_framer_feed(f, s, n, on_event, t);

    if (!t->stop_after)
        ck_assert_uint_eq(used, n);
    if (chat_framer_buffered(f) > t->max_buffered)
        t->max_buffered = chat_framer_buffered(f);
}

static void feed_bytewise(chat_framer *f, trace *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feed(f, t, s + i, 1);
}

#define FEED(f, t, lit) feed((f), (t), (lit), sizeof(lit) - 1)

START_TEST(lines_end_in_newline)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};

    FEED(f, &t, "hello\nworld\n");
    ck_assert_str_eq(t.s, "L(hello)L(world)");
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
    chat_framer_free(f);
}
END_TEST

START_TEST(cr_before_newline_is_dropped_other_crs_kept)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};

    FEED(f, &t, "a\r\nb\rc\r\nd\r\r\n\r\n");
    ck_assert_str_eq(t.s, "L(a)L(b\\x0dc)L(d\\x0d)L()");
    chat_framer_free(f);
}
END_TEST

START_TEST(empty_line_is_still_a_line)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};

    FEED(f, &t, "\n\n");
    ck_assert_str_eq(t.s, "L()L()");
    chat_framer_free(f);
}
END_TEST

START_TEST(partial_line_waits_for_its_newline)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};

    FEED(f, &t, "hel");
    ck_assert_str_eq(t.s, "");
    ck_assert_uint_eq(chat_framer_buffered(f), 3);
    FEED(f, &t, "lo\nwo");
    ck_assert_str_eq(t.s, "L(hello)");
    FEED(f, &t, "rld\r");
    FEED(f, &t, "\n");
    ck_assert_str_eq(t.s, "L(hello)L(world)");
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
    chat_framer_free(f);
}
END_TEST

START_TEST(byte_at_a_time_gives_the_same_lines)
{
    static const char in[] = "one\r\ntwo\n\nthree\r\n";
    chat_framer *f = new_framer(400, 0);
    trace t = {0};

    feed_bytewise(f, &t, in, sizeof in - 1);
    ck_assert_str_eq(t.s, "L(one)L(two)L()L(three)");
    chat_framer_free(f);
}
END_TEST

START_TEST(line_of_exactly_max_is_delivered)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};
    char *line = h_repeat('x', 400);
    char want[420];

    feed(f, &t, line, 400);
    FEED(f, &t, "\n");
    snprintf(want, sizeof want, "L(%s)", line);
    ck_assert_str_eq(t.s, want);
    free(line);
    chat_framer_free(f);
}
END_TEST

START_TEST(line_of_max_plus_cr_lf_is_delivered)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};
    char *line = h_repeat('x', 400);
    char want[420];

    /* The \r is the 401st byte until the \n shows it was a terminator. */
    feed(f, &t, line, 400);
    FEED(f, &t, "\r");
    FEED(f, &t, "\n");
    snprintf(want, sizeof want, "L(%s)", line);
    ck_assert_str_eq(t.s, want);
    ck_assert_uint_le(t.max_buffered, 401);
    free(line);
    chat_framer_free(f);
}
END_TEST

START_TEST(line_of_max_plus_one_is_too_long)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};
    char *line = h_repeat('x', 401);

    feed(f, &t, line, 401);
    FEED(f, &t, "\nok\n");
    ck_assert_str_eq(t.s, "TL(ok)");
    free(line);
    chat_framer_free(f);
}
END_TEST

START_TEST(a_cr_not_before_newline_counts_toward_the_limit)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};
    char *line = h_repeat('x', 400);

    feed(f, &t, line, 400);
    FEED(f, &t, "\rx\r\n");
    ck_assert_str_eq(t.s, "T");
    free(line);
    chat_framer_free(f);
}
END_TEST

START_TEST(huge_line_is_one_error_and_never_buffered_past_limit)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};
    char *line = h_repeat('y', 10 * 1024);

    /* In chunks, as a socket would deliver it. */
    for (size_t off = 0; off < 10 * 1024; off += 100)
        feed(f, &t, line + off, 10 * 1024 - off < 100 ? 10 * 1024 - off : 100);
    FEED(f, &t, "\r\nafter\n");
    ck_assert_str_eq(t.s, "TL(after)");
    ck_assert_uint_le(t.max_buffered, 401);
    free(line);
    chat_framer_free(f);
}
END_TEST

START_TEST(huge_line_in_one_feed_is_one_error)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};
    size_t n = 10 * 1024;
    char *line = h_repeat('y', n + 1);

    line[n] = '\n';
    feed(f, &t, line, n + 1);
    ck_assert_str_eq(t.s, "T");
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
    free(line);
    chat_framer_free(f);
}
END_TEST

START_TEST(small_limit_is_honoured)
{
    chat_framer *f = new_framer(3, 0);
    trace t = {0};

    FEED(f, &t, "abc\nabcd\nab\r\n");
    ck_assert_str_eq(t.s, "L(abc)TL(ab)");
    chat_framer_free(f);
}
END_TEST

START_TEST(new_rejects_bad_limits_and_leaves_out_untouched)
{
    chat_framer *f = (chat_framer *)&f;

    ck_assert_int_eq(chat_framer_new(&f, 0, 0, NULL), CHAT_ERR_INVALID);
    ck_assert_ptr_eq(f, (chat_framer *)&f);
    ck_assert_int_eq(chat_framer_new(&f, 65535, 0, NULL), CHAT_ERR_INVALID);
    ck_assert_ptr_eq(f, (chat_framer *)&f);
    ck_assert_int_eq(chat_framer_new(&f, 65534, 0, NULL), CHAT_OK);
    chat_framer_free(f);
    ck_assert_int_eq(chat_framer_new(&f, 1, CHAT_FRAMER_TELNET, NULL),
                     CHAT_OK);
    chat_framer_free(f);
    chat_framer_free(NULL);
}
END_TEST

/* ---- telnet ------------------------------------------------------------ */

/* WILL, WONT, DO, DONT each take one option byte. */
static const unsigned char negotiation_cmds[] = {251, 252, 253, 254};

START_TEST(telnet_negotiation_is_consumed)
{
    chat_framer *f = new_framer(400, CHAT_FRAMER_TELNET);
    trace t = {0};
    char in[16];

    /* The option byte is consumed even when it looks like text or \n. */
    snprintf(in, sizeof in, "h\xff%c\x01i\n", negotiation_cmds[_i]);
    feed(f, &t, in, strlen(in));
    in[0] = 'a';
    in[3] = '\n';
    in[4] = 'b';
    feed(f, &t, in, 6);
    in[3] = 'Z';
    feed(f, &t, in, 6);
    ck_assert_str_eq(t.s, "L(hi)L(ab)L(ab)");
    chat_framer_free(f);
}
END_TEST

START_TEST(telnet_two_byte_commands_are_consumed)
{
    /* NOP, DM, AYT, AO, EC, EL, GA, SE out of place, EOR: no option byte. */
    static const unsigned char cmds[] = {241, 242, 246, 245, 247, 248, 249,
                                         240, 239};
    chat_framer *f = new_framer(400, CHAT_FRAMER_TELNET);
    trace t = {0};

    for (size_t i = 0; i < sizeof cmds; i++) {
        char in[8] = {'a', (char)0xff, (char)cmds[i], 'b', '\n'};
        feed(f, &t, in, 5);
    }
    ck_assert_str_eq(t.s, "L(ab)L(ab)L(ab)L(ab)L(ab)L(ab)L(ab)L(ab)L(ab)");
    chat_framer_free(f);
}
END_TEST

START_TEST(telnet_subnegotiation_is_consumed_whole)
{
    chat_framer *f = new_framer(400, CHAT_FRAMER_TELNET);
    trace t = {0};

    /* Terminal type "xterm", and one holding a newline byte. */
    FEED(f, &t, "a\xff\xfa\x18\x00xterm\xff\xf0" "b\n");
    FEED(f, &t, "\xff\xfa\x1f\x00\x50\x0a\x18\xff\xf0" "c\n");
    ck_assert_str_eq(t.s, "L(ab)L(c)");
    chat_framer_free(f);
}
END_TEST

START_TEST(telnet_sequences_split_byte_by_byte)
{
    static const char in[] = "h\xff\xfb\x01i\xff\xfa\x18\x01\xff\xf0!\xff\xf1"
                             "\xff\xfd\x03\r\n";
    chat_framer *f = new_framer(400, CHAT_FRAMER_TELNET);
    trace t = {0};

    feed_bytewise(f, &t, in, sizeof in - 1);
    ck_assert_str_eq(t.s, "L(hi!)");
    chat_framer_free(f);
}
END_TEST

START_TEST(telnet_interrupts_are_reported)
{
    chat_framer *f = new_framer(400, CHAT_FRAMER_TELNET);
    trace t = {0};

    FEED(f, &t, "a\xff\xf4");      /* IP */
    FEED(f, &t, "\xff\xf3");       /* BRK */
    FEED(f, &t, "\xff");           /* ABORT, split */
    FEED(f, &t, "\xee" "b\n");
    ck_assert_str_eq(t.s, "IIIL(ab)");
    chat_framer_free(f);
}
END_TEST

START_TEST(without_telnet_flag_iac_bytes_are_data)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};

    FEED(f, &t, "a\xff\xfb\x01" "b\xff\xf4\n");
    ck_assert_str_eq(t.s, "L(a\\xff\\xfb\\x01b\\xff\\xf4)");
    chat_framer_free(f);
}
END_TEST

/* ---- finish, stop ------------------------------------------------------- */

START_TEST(finish_delivers_a_last_line_without_newline)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};

    FEED(f, &t, "a\nlast");
    chat_framer_finish(f, on_event, &t);
    ck_assert_str_eq(t.s, "L(a)L(last)");
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
    /* Reset: the framer works again afterwards. */
    FEED(f, &t, "more\n");
    chat_framer_finish(f, on_event, &t);
    ck_assert_str_eq(t.s, "L(a)L(last)L(more)");
    chat_framer_free(f);
}
END_TEST

START_TEST(finish_after_too_long_pending_gives_nothing_more)
{
    chat_framer *f = new_framer(10, 0);
    trace t = {0};

    FEED(f, &t, "0123456789abcdef");
    chat_framer_finish(f, on_event, &t);
    ck_assert_msg(strcmp(t.s, "T") == 0 || strcmp(t.s, "") == 0,
                  "trace '%s'", t.s);
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
    chat_framer_free(f);
}
END_TEST

START_TEST(callback_can_stop_the_feed)
{
    chat_framer *f = new_framer(400, 0);
    trace t = {0};
    size_t used;

    t.stop_after = 1;
    used = chat_framer_feed(f, "ab\ncd\nef\n", 9, on_event, &t);
    ck_assert_uint_eq(used, 3);
    ck_assert_str_eq(t.s, "L(ab)");
    t.stop_after = 0;
    used = chat_framer_feed(f, "cd\nef\n", 6, on_event, &t);
    ck_assert_uint_eq(used, 6);
    ck_assert_str_eq(t.s, "L(ab)L(cd)L(ef)");
    chat_framer_free(f);
}
END_TEST

/* ---- allocation -------------------------------------------------------- */

typedef struct fail_alloc {
    int fail;  /* non-zero: every allocation fails */
    long live; /* blocks allocated and not freed */
} fail_alloc;

static void *fa_malloc(void *ctx, size_t n)
{
    fail_alloc *a = ctx;
    void *p;

    if (a->fail)
        return NULL;
    p = malloc(n ? n : 1);
    if (p)
        a->live++;
    return p;
}

static void *fa_realloc(void *ctx, void *old, size_t n)
{
    fail_alloc *a = ctx;
    void *p;

    if (a->fail)
        return NULL;
    p = realloc(old, n ? n : 1);
    if (p && old == NULL)
        a->live++;
    return p;
}

static void fa_free(void *ctx, void *p)
{
    fail_alloc *a = ctx;

    if (p) {
        a->live--;
        free(p);
    }
}

START_TEST(new_fails_cleanly_without_memory)
{
    fail_alloc fa = {1, 0};
    chat_allocator al = {fa_malloc, fa_realloc, fa_free, &fa};
    chat_framer *f = (chat_framer *)&fa;

    ck_assert_int_eq(chat_framer_new(&f, 400, 0, &al), CHAT_ERR_NOMEM);
    ck_assert_ptr_eq(f, (chat_framer *)&fa);
    ck_assert_int_eq(fa.live, 0);
}
END_TEST

START_TEST(partial_line_without_memory_is_reported_and_discarded)
{
    fail_alloc fa = {0, 0};
    chat_allocator al = {fa_malloc, fa_realloc, fa_free, &fa};
    chat_framer *f = NULL;
    trace t = {0};

    ck_assert_int_eq(chat_framer_new(&f, 400, 0, &al), CHAT_OK);
    fa.fail = 1;
    FEED(f, &t, "par");
    FEED(f, &t, "tial\n");
    ck_assert_str_eq(t.s, "N");
    fa.fail = 0;
    FEED(f, &t, "ok\n");
    ck_assert_str_eq(t.s, "NL(ok)");
    chat_framer_free(f);
    ck_assert_int_eq(fa.live, 0);
}
END_TEST

START_TEST(framer_frees_everything_it_allocates)
{
    fail_alloc fa = {0, 0};
    chat_allocator al = {fa_malloc, NULL, fa_free, &fa};
    chat_framer *f = NULL;
    trace t = {0};

    ck_assert_int_eq(chat_framer_new(&f, 400, CHAT_FRAMER_TELNET, &al),
                     CHAT_OK);
    FEED(f, &t, "a partial line that stays pending \xff\xfa");
    chat_framer_free(f);
    ck_assert_int_eq(fa.live, 0);
}
END_TEST

static Suite *framer_suite(void)
{
    Suite *s = suite_create("framer");
    TCase *tc = tcase_create("lines");

    tcase_add_test(tc, lines_end_in_newline);
    tcase_add_test(tc, cr_before_newline_is_dropped_other_crs_kept);
    tcase_add_test(tc, empty_line_is_still_a_line);
    tcase_add_test(tc, partial_line_waits_for_its_newline);
    tcase_add_test(tc, byte_at_a_time_gives_the_same_lines);
    suite_add_tcase(s, tc);

    tc = tcase_create("limit");
    tcase_add_test(tc, line_of_exactly_max_is_delivered);
    tcase_add_test(tc, line_of_max_plus_cr_lf_is_delivered);
    tcase_add_test(tc, line_of_max_plus_one_is_too_long);
    tcase_add_test(tc, a_cr_not_before_newline_counts_toward_the_limit);
    tcase_add_test(tc, huge_line_is_one_error_and_never_buffered_past_limit);
    tcase_add_test(tc, huge_line_in_one_feed_is_one_error);
    tcase_add_test(tc, small_limit_is_honoured);
    tcase_add_test(tc, new_rejects_bad_limits_and_leaves_out_untouched);
    suite_add_tcase(s, tc);

    tc = tcase_create("telnet");
    tcase_add_loop_test(tc, telnet_negotiation_is_consumed, 0,
                        (int)sizeof negotiation_cmds);
    tcase_add_test(tc, telnet_two_byte_commands_are_consumed);
    tcase_add_test(tc, telnet_subnegotiation_is_consumed_whole);
    tcase_add_test(tc, telnet_sequences_split_byte_by_byte);
    tcase_add_test(tc, telnet_interrupts_are_reported);
    tcase_add_test(tc, without_telnet_flag_iac_bytes_are_data);
    suite_add_tcase(s, tc);

    tc = tcase_create("finish");
    tcase_add_test(tc, finish_delivers_a_last_line_without_newline);
    tcase_add_test(tc, finish_after_too_long_pending_gives_nothing_more);
    tcase_add_test(tc, callback_can_stop_the_feed);
    suite_add_tcase(s, tc);

    tc = tcase_create("memory");
    tcase_add_test(tc, new_fails_cleanly_without_memory);
    tcase_add_test(tc, partial_line_without_memory_is_reported_and_discarded);
    tcase_add_test(tc, framer_frees_everything_it_allocates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return h_run_suite(framer_suite());
}
