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

static void tr_put(trace *tr, const char *s)
{
    size_t n = strlen(s);

    ck_assert_msg(tr->len + n < sizeof tr->s, "trace overflow");
    memcpy(tr->s + tr->len, s, n + 1);
    tr->len += n;
}

static int on_event(void *ctx, chat_frame_event ev, const char *line,
                    size_t len)
{
    trace *tr = ctx;
    char esc[8];

    switch (ev) {
    case CHAT_FRAME_LINE:
        if (len > 0)
            ck_assert_ptr_nonnull(line);
        tr_put(tr, "L(");
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)line[i];
            ck_assert_msg(c != '\n', "a line holds a newline");
            if (c >= 0x20 && c < 0x7f && c != '\\') {
                esc[0] = (char)c;
                esc[1] = '\0';
            } else {
                snprintf(esc, sizeof esc, "\\x%02x", c);
            }
            tr_put(tr, esc);
        }
        tr_put(tr, ")");
        break;
    case CHAT_FRAME_TOO_LONG:
        tr_put(tr, "T");
        break;
    case CHAT_FRAME_INTERRUPT:
        tr_put(tr, "I");
        break;
    case CHAT_FRAME_NOMEM:
        tr_put(tr, "N");
        break;
    default:
        ck_abort_msg("unknown framer event %d", (int)ev);
    }
    tr->events++;
    return tr->stop_after && tr->events >= tr->stop_after;
}

static chat_framer *new_framer(size_t max, unsigned flags)
{
    chat_framer *fr = NULL;

    ck_assert_int_eq(chat_framer_new(&fr, max, flags, NULL), CHAT_OK);
    ck_assert_ptr_nonnull(fr);
    return fr;
}

/* Feed all of s in one call and return the trace. */
static void feed(chat_framer *fr, trace *tr, const char *s, size_t n)
{
    size_t used = chat_framer_feed(fr, s, n, on_event, tr);

    if (!tr->stop_after)
        ck_assert_uint_eq(used, n);
    if (chat_framer_buffered(fr) > tr->max_buffered)
        tr->max_buffered = chat_framer_buffered(fr);
}

static void feed_bytewise(chat_framer *fr, trace *tr, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feed(fr, tr, s + i, 1);
}

#define FEED(f, t, lit) feed((f), (t), (lit), sizeof(lit) - 1)

/* Each test's framer (400-byte lines, no telnet, unless it asks for
 * another with reframe) and the trace of what it reported. */
static chat_framer *f;
static trace t;

static void setup(void)
{
    memset(&t, 0, sizeof t);
    f = new_framer(400, 0);
}

static void teardown(void)
{
    chat_framer_free(f);
    f = NULL;
}

/* Replace the test's framer with one of this limit, flags and allocator. */
static void reframe(size_t max, unsigned flags, const chat_allocator *al)
{
    chat_framer_free(f);
    f = NULL;
    ck_assert_int_eq(chat_framer_new(&f, max, flags, al), CHAT_OK);
}

/* The telnet tests' framer. */
static void setup_telnet(void)
{
    setup();
    reframe(400, CHAT_FRAMER_TELNET, NULL);
}

START_TEST(lines_end_in_newline)
{
    FEED(f, &t, "hello\nworld\n");
    ck_assert_str_eq(t.s, "L(hello)L(world)");
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
}
END_TEST

START_TEST(cr_before_newline_is_dropped_other_crs_kept)
{
    FEED(f, &t, "a\r\nb\rc\r\nd\r\r\n\r\n");
    ck_assert_str_eq(t.s, "L(a)L(b\\x0dc)L(d\\x0d)L()");
}
END_TEST

START_TEST(empty_line_is_still_a_line)
{
    FEED(f, &t, "\n\n");
    ck_assert_str_eq(t.s, "L()L()");
}
END_TEST

START_TEST(partial_line_waits_for_its_newline)
{
    FEED(f, &t, "hel");
    ck_assert_str_eq(t.s, "");
    ck_assert_uint_eq(chat_framer_buffered(f), 3);
    FEED(f, &t, "lo\nwo");
    ck_assert_str_eq(t.s, "L(hello)");
    FEED(f, &t, "rld\r");
    FEED(f, &t, "\n");
    ck_assert_str_eq(t.s, "L(hello)L(world)");
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
}
END_TEST

START_TEST(byte_at_a_time_gives_the_same_lines)
{
    static const char in[] = "one\r\ntwo\n\nthree\r\n";

    feed_bytewise(f, &t, in, sizeof in - 1);
    ck_assert_str_eq(t.s, "L(one)L(two)L()L(three)");
}
END_TEST

START_TEST(line_of_exactly_max_is_delivered)
{
    char *line = h_repeat('x', 400);
    char want[420];

    feed(f, &t, line, 400);
    FEED(f, &t, "\n");
    snprintf(want, sizeof want, "L(%s)", line);
    ck_assert_str_eq(t.s, want);
    free(line);
}
END_TEST

START_TEST(line_of_max_plus_cr_lf_is_delivered)
{
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
}
END_TEST

START_TEST(line_of_max_plus_one_is_too_long)
{
    char *line = h_repeat('x', 401);

    feed(f, &t, line, 401);
    FEED(f, &t, "\nok\n");
    ck_assert_str_eq(t.s, "TL(ok)");
    free(line);
}
END_TEST

START_TEST(a_cr_not_before_newline_counts_toward_the_limit)
{
    char *line = h_repeat('x', 400);

    feed(f, &t, line, 400);
    FEED(f, &t, "\rx\r\n");
    ck_assert_str_eq(t.s, "T");
    free(line);
}
END_TEST

START_TEST(huge_line_is_one_error_and_never_buffered_past_limit)
{
    char *line = h_repeat('y', 10 * 1024);

    /* In chunks, as a socket would deliver it. */
    for (size_t off = 0; off < 10 * 1024; off += 100)
        feed(f, &t, line + off, 10 * 1024 - off < 100 ? 10 * 1024 - off : 100);
    FEED(f, &t, "\r\nafter\n");
    ck_assert_str_eq(t.s, "TL(after)");
    ck_assert_uint_le(t.max_buffered, 401);
    free(line);
}
END_TEST

START_TEST(huge_line_in_one_feed_is_one_error)
{
    size_t n = 10 * 1024;
    char *line = h_repeat('y', n + 1);

    line[n] = '\n';
    feed(f, &t, line, n + 1);
    ck_assert_str_eq(t.s, "T");
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
    free(line);
}
END_TEST

START_TEST(small_limit_is_honoured)
{
    reframe(3, 0, NULL);
    FEED(f, &t, "abc\nabcd\nab\r\n");
    ck_assert_str_eq(t.s, "L(abc)TL(ab)");
}
END_TEST

START_TEST(new_rejects_bad_limits_and_leaves_out_untouched)
{
    chat_framer *out = (chat_framer *)&out;

    ck_assert_int_eq(chat_framer_new(&out, 0, 0, NULL), CHAT_ERR_INVALID);
    ck_assert_ptr_eq(out, (chat_framer *)&out);
    ck_assert_int_eq(chat_framer_new(&out, 65535, 0, NULL), CHAT_ERR_INVALID);
    ck_assert_ptr_eq(out, (chat_framer *)&out);
    ck_assert_int_eq(chat_framer_new(&out, 65534, 0, NULL), CHAT_OK);
    chat_framer_free(out);
    ck_assert_int_eq(chat_framer_new(&out, 1, CHAT_FRAMER_TELNET, NULL),
                     CHAT_OK);
    chat_framer_free(out);
    chat_framer_free(NULL);
}
END_TEST

/* ---- telnet ------------------------------------------------------------ */

/* WILL, WONT, DO, DONT each take one option byte. */
static const unsigned char negotiation_cmds[] = {251, 252, 253, 254};

START_TEST(telnet_negotiation_is_consumed)
{
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
}
END_TEST

START_TEST(telnet_two_byte_commands_are_consumed)
{
    /* NOP, DM, AYT, AO, EC, EL, GA, SE out of place, EOR: no option byte. */
    static const unsigned char cmds[] = {241, 242, 246, 245, 247, 248, 249,
                                         240, 239};
    for (size_t i = 0; i < sizeof cmds; i++) {
        char in[8] = {'a', (char)0xff, (char)cmds[i], 'b', '\n'};
        feed(f, &t, in, 5);
    }
    ck_assert_str_eq(t.s, "L(ab)L(ab)L(ab)L(ab)L(ab)L(ab)L(ab)L(ab)L(ab)");
}
END_TEST

START_TEST(telnet_subnegotiation_is_consumed_whole)
{
    /* Terminal type "xterm", and one holding a newline byte. */
    FEED(f, &t, "a\xff\xfa\x18\x00xterm\xff\xf0" "b\n");
    FEED(f, &t, "\xff\xfa\x1f\x00\x50\x0a\x18\xff\xf0" "c\n");
    ck_assert_str_eq(t.s, "L(ab)L(c)");
}
END_TEST

START_TEST(telnet_sequences_split_byte_by_byte)
{
    static const char in[] = "h\xff\xfb\x01i\xff\xfa\x18\x01\xff\xf0!\xff\xf1"
                             "\xff\xfd\x03\r\n";
    feed_bytewise(f, &t, in, sizeof in - 1);
    ck_assert_str_eq(t.s, "L(hi!)");
}
END_TEST

START_TEST(telnet_interrupts_are_reported)
{
    FEED(f, &t, "a\xff\xf4");      /* IP */
    FEED(f, &t, "\xff\xf3");       /* BRK */
    FEED(f, &t, "\xff");           /* ABORT, split */
    FEED(f, &t, "\xee" "b\n");
    ck_assert_str_eq(t.s, "IIIL(ab)");
}
END_TEST

START_TEST(without_telnet_flag_iac_bytes_are_data)
{
    reframe(400, 0, NULL);
    FEED(f, &t, "a\xff\xfb\x01" "b\xff\xf4\n");
    ck_assert_str_eq(t.s, "L(a\\xff\\xfb\\x01b\\xff\\xf4)");
}
END_TEST

/* ---- finish, stop ------------------------------------------------------- */

START_TEST(finish_delivers_a_last_line_without_newline)
{
    FEED(f, &t, "a\nlast");
    chat_framer_finish(f, on_event, &t);
    ck_assert_str_eq(t.s, "L(a)L(last)");
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
    /* Reset: the framer works again afterwards. */
    FEED(f, &t, "more\n");
    chat_framer_finish(f, on_event, &t);
    ck_assert_str_eq(t.s, "L(a)L(last)L(more)");
}
END_TEST

START_TEST(finish_after_too_long_pending_gives_nothing_more)
{
    reframe(10, 0, NULL);
    FEED(f, &t, "0123456789abcdef");
    chat_framer_finish(f, on_event, &t);
    ck_assert_msg(strcmp(t.s, "T") == 0 || strcmp(t.s, "") == 0,
                  "trace '%s'", t.s);
    ck_assert_uint_eq(chat_framer_buffered(f), 0);
}
END_TEST

START_TEST(callback_can_stop_the_feed)
{
    size_t used;

    t.stop_after = 1;
    used = chat_framer_feed(f, "ab\ncd\nef\n", 9, on_event, &t);
    ck_assert_uint_eq(used, 3);
    ck_assert_str_eq(t.s, "L(ab)");
    t.stop_after = 0;
    used = chat_framer_feed(f, "cd\nef\n", 6, on_event, &t);
    ck_assert_uint_eq(used, 6);
    ck_assert_str_eq(t.s, "L(ab)L(cd)L(ef)");
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
    chat_framer *out = (chat_framer *)&fa;

    ck_assert_int_eq(chat_framer_new(&out, 400, 0, &al), CHAT_ERR_NOMEM);
    ck_assert_ptr_eq(out, (chat_framer *)&fa);
    ck_assert_int_eq(fa.live, 0);
}
END_TEST

START_TEST(partial_line_without_memory_is_reported_and_discarded)
{
    fail_alloc fa = {0, 0};
    chat_allocator al = {fa_malloc, fa_realloc, fa_free, &fa};

    reframe(400, 0, &al);
    fa.fail = 1;
    FEED(f, &t, "par");
    FEED(f, &t, "tial\n");
    ck_assert_str_eq(t.s, "N");
    fa.fail = 0;
    FEED(f, &t, "ok\n");
    ck_assert_str_eq(t.s, "NL(ok)");
    teardown(); /* now, to count what was freed */
    ck_assert_int_eq(fa.live, 0);
}
END_TEST

START_TEST(framer_frees_everything_it_allocates)
{
    fail_alloc fa = {0, 0};
    chat_allocator al = {fa_malloc, NULL, fa_free, &fa};

    reframe(400, CHAT_FRAMER_TELNET, &al);
    FEED(f, &t, "a partial line that stays pending \xff\xfa");
    teardown(); /* now, to count what was freed */
    ck_assert_int_eq(fa.live, 0);
}
END_TEST

/* A test case of s with a fresh framer per test (setup) and teardown. */
static TCase *framer_tcase(Suite *s, const char *name, void (*su)(void))
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, su, teardown);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *framer_suite(void)
{
    Suite *s = suite_create("framer");
    TCase *tc = framer_tcase(s, "lines", setup);
    tcase_add_test(tc, lines_end_in_newline);
    tcase_add_test(tc, cr_before_newline_is_dropped_other_crs_kept);
    tcase_add_test(tc, empty_line_is_still_a_line);
    tcase_add_test(tc, partial_line_waits_for_its_newline);
    tcase_add_test(tc, byte_at_a_time_gives_the_same_lines);

    tc = framer_tcase(s, "limit", setup);
    tcase_add_test(tc, line_of_exactly_max_is_delivered);
    tcase_add_test(tc, line_of_max_plus_cr_lf_is_delivered);
    tcase_add_test(tc, line_of_max_plus_one_is_too_long);
    tcase_add_test(tc, a_cr_not_before_newline_counts_toward_the_limit);
    tcase_add_test(tc, huge_line_is_one_error_and_never_buffered_past_limit);
    tcase_add_test(tc, huge_line_in_one_feed_is_one_error);
    tcase_add_test(tc, small_limit_is_honoured);
    tcase_add_test(tc, new_rejects_bad_limits_and_leaves_out_untouched);

    tc = framer_tcase(s, "telnet", setup_telnet);
    tcase_add_loop_test(tc, telnet_negotiation_is_consumed, 0,
                        (int)sizeof negotiation_cmds);
    tcase_add_test(tc, telnet_two_byte_commands_are_consumed);
    tcase_add_test(tc, telnet_subnegotiation_is_consumed_whole);
    tcase_add_test(tc, telnet_sequences_split_byte_by_byte);
    tcase_add_test(tc, telnet_interrupts_are_reported);
    tcase_add_test(tc, without_telnet_flag_iac_bytes_are_data);

    tc = framer_tcase(s, "finish", setup);
    tcase_add_test(tc, finish_delivers_a_last_line_without_newline);
    tcase_add_test(tc, finish_after_too_long_pending_gives_nothing_more);
    tcase_add_test(tc, callback_can_stop_the_feed);

    tc = framer_tcase(s, "memory", setup);
    tcase_add_test(tc, new_fails_cleanly_without_memory);
    tcase_add_test(tc, partial_line_without_memory_is_reported_and_discarded);
    tcase_add_test(tc, framer_frees_everything_it_allocates);
    return s;
}

int main(void)
{
    return h_run_suite(framer_suite());
}
