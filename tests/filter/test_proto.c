/*
 * The --filter-exec protocol on its own (common/filterproto.h, json.h):
 * requests and answers written, read back, and every way an answer line
 * can be garbage. doc/filter.md is the specification.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "filterproto.h"
#include "json.h"

#define BUF (CHATP_FILTER_LINE_MAX + 1)

/* ---- requests ------------------------------------------------------------ */

static const char *write_request(chat_msg_kind kind, const char *room,
                                 const char *text, size_t len)
{
    static char line[BUF + 1];
    chatp_filter_request r = {17, kind, "alice", room, text, len};
    size_t n = chatp_filter_write_request(&r, line, BUF);

    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(line[n - 1], '\n');
    ck_assert_ptr_null(memchr(line, '\n', n - 1));
    line[n] = '\0';
    return line;
}

START_TEST(requests_as_documented)
{
    ck_assert_str_eq(write_request(CHAT_KIND_CHAT, "main", "hello", 5),
                     "{\"id\":17,\"kind\":\"chat\",\"sender\":\"alice\","
                     "\"room\":\"main\",\"text\":\"hello\"}\n");
    ck_assert_str_eq(write_request(CHAT_KIND_ME, "main", "waves", 5),
                     "{\"id\":17,\"kind\":\"me\",\"sender\":\"alice\","
                     "\"room\":\"main\",\"text\":\"waves\"}\n");
    ck_assert_str_eq(write_request(CHAT_KIND_DIRECT, NULL, "psst", 4),
                     "{\"id\":17,\"kind\":\"direct\",\"sender\":\"alice\","
                     "\"room\":null,\"text\":\"psst\"}\n");
}
END_TEST

START_TEST(request_text_is_escaped)
{
    const char text[] = "say \"hi\" \\o/ \t\x01\x1f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80";

    ck_assert_str_eq(write_request(CHAT_KIND_CHAT, "main", text,
                                   sizeof text - 1),
                     "{\"id\":17,\"kind\":\"chat\",\"sender\":\"alice\","
                     "\"room\":\"main\",\"text\":\"say \\\"hi\\\" \\\\o/ "
                     "\\t\\u0001\\u001f\\u007f caf\xc3\xa9 \xf0\x9f\x98\x80\"}\n");
}
END_TEST

/* The longest text, all escapes, fits the line limit with room to spare. */
START_TEST(the_longest_request_fits)
{
    char text[CHAT_MAX_LINE], line[BUF];
    chatp_filter_request r = {UINT64_MAX, CHAT_KIND_DIRECT,
                              "abcdefghijklmnopqrstuvwx", NULL, text,
                              sizeof text};

    memset(text, 0x01, sizeof text);
    ck_assert_uint_lt(chatp_filter_write_request(&r, line, sizeof line),
                      CHATP_FILTER_LINE_MAX);
    ck_assert_uint_eq(chatp_filter_write_request(&r, line, 100), 0);
}
END_TEST

START_TEST(requests_read_back)
{
    static const chat_msg_kind kinds[] = {CHAT_KIND_CHAT, CHAT_KIND_ME,
                                          CHAT_KIND_DIRECT};
    const char text[] = "a \"b\" \\ \x02\xc3\xa9";
    char buf[BUF];

    for (size_t i = 0; i < 3; i++) {
        const char *room = kinds[i] == CHAT_KIND_DIRECT ? NULL : "lobby";
        const char *line = write_request(kinds[i], room, text, sizeof text - 1);
        chatp_filter_request r;
        ck_assert_int_eq(chatp_filter_read_request(line, strlen(line) - 1, &r,
                                                   buf, strlen(line)),
                         0);
        ck_assert_uint_eq(r.id, 17);
        ck_assert_int_eq(r.kind, kinds[i]);
        ck_assert_str_eq(r.sender, "alice");
        if (room)
            ck_assert_str_eq(r.room, room);
        else
            ck_assert_ptr_null(r.room);
        ck_assert_uint_eq(r.len, sizeof text - 1);
        ck_assert_mem_eq(r.text, text, r.len);
    }
}
END_TEST

/* A room with a direct message, none with a chat line: not a request. */
START_TEST(requests_are_read_strictly)
{
    static const char *const bad[] = {
        "{\"id\":1,\"kind\":\"direct\",\"sender\":\"a\",\"room\":\"r\","
        "\"text\":\"t\"}",
        "{\"id\":1,\"kind\":\"chat\",\"sender\":\"a\",\"room\":null,"
        "\"text\":\"t\"}",
        "{\"id\":1,\"kind\":\"shout\",\"sender\":\"a\",\"room\":\"r\","
        "\"text\":\"t\"}",
        "{\"id\":1,\"kind\":\"chat\",\"sender\":\"a\",\"room\":\"r\"}",
    };
    char buf[BUF];
    chatp_filter_request r;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(chatp_filter_read_request(bad[i], strlen(bad[i]), &r,
                                                   buf, sizeof buf),
                         -1);
}
END_TEST

/* ---- answers ------------------------------------------------------------- */

static const struct {
    const char *line;
    uint64_t id;
    chat_filter_verdict verdict;
    const char *text; /* NULL: none */
} good[] = {
    {"{\"id\":17,\"verdict\":\"allow\"}", 17, CHAT_FILTER_ALLOW, NULL},
    {"{\"id\":0,\"verdict\":\"drop\"}", 0, CHAT_FILTER_DROP, NULL},
    {"{\"id\":3,\"verdict\":\"rewrite\",\"text\":\"h*llo\"}", 3,
     CHAT_FILTER_REWRITE, "h*llo"},
    /* members in any order, JSON whitespace (Python's json.dumps) */
    {" { \"verdict\" : \"allow\" ,\t\"id\" : 5 } \r", 5, CHAT_FILTER_ALLOW,
     NULL},
    {"{\"text\":\"\",\"verdict\":\"rewrite\",\"id\":9}", 9, CHAT_FILTER_REWRITE,
     ""},
    {"{\"id\":18446744073709551615,\"verdict\":\"allow\"}", UINT64_MAX,
     CHAT_FILTER_ALLOW, NULL},
    /* every escape, \u as 2, 3 and 4 bytes of UTF-8, raw UTF-8 */
    {"{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t"
     "\\u00e9\\u20AC\\ud83d\\ude00 \xc3\xa9\"}",
     1, CHAT_FILTER_REWRITE,
     "\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9"},
};

START_TEST(answers_read)
{
    char buf[BUF];
    chatp_filter_answer a;
    const char *line = good[_i].line;

    ck_assert_msg(chatp_filter_read_answer(line, strlen(line), &a, buf,
                                           strlen(line) + 1) == 0,
                  "refused: %s", line);
    ck_assert_uint_eq(a.id, good[_i].id);
    ck_assert_int_eq(a.verdict, good[_i].verdict);
    if (!good[_i].text) {
        ck_assert_ptr_null(a.text);
        return;
    }
    ck_assert_uint_eq(a.len, strlen(good[_i].text));
    ck_assert_mem_eq(a.text, good[_i].text, a.len);
}
END_TEST

static const char *const garbage[] = {
    "",
    "   ",
    "allow",
    "{}",
    "[]",
    "null",
    "{\"id\":1}",
    "{\"verdict\":\"allow\"}",
    "{\"id\":1,\"verdict\":\"ALLOW\"}",
    "{\"id\":1,\"verdict\":\"yes\"}",
    "{\"id\":1,\"verdict\":\"allow\",\"text\":\"x\"}", /* text without rewrite */
    "{\"id\":1,\"verdict\":\"rewrite\"}",              /* rewrite without text */
    "{\"id\":1,\"verdict\":\"allow\",\"why\":\"x\"}",  /* unknown member */
    "{\"id\":1,\"id\":2,\"verdict\":\"allow\"}",      /* twice */
    "{\"id\":-1,\"verdict\":\"allow\"}",
    "{\"id\":+1,\"verdict\":\"allow\"}",
    "{\"id\":01,\"verdict\":\"allow\"}",
    "{\"id\":1.0,\"verdict\":\"allow\"}",
    "{\"id\":1e3,\"verdict\":\"allow\"}",
    "{\"id\":18446744073709551616,\"verdict\":\"allow\"}", /* overflows */
    "{\"id\":\"1\",\"verdict\":\"allow\"}",
    "{\"id\":null,\"verdict\":\"allow\"}",
    "{\"id\":true,\"verdict\":\"allow\"}",
    "{\"id\":1,\"verdict\":{\"a\":1}}",
    "{\"id\":1,\"verdict\":[\"allow\"]}",
    "{\"id\":1,\"verdict\":\"allow\"",               /* unclosed */
    "{\"id\":1,\"verdict\":\"allow}",
    "{\"id\":1,\"verdict\":\"allow\",}",
    "{\"id\":1 \"verdict\":\"allow\"}",
    "{\"id\":1,\"verdict\":\"allow\"}x",
    "{\"id\":1,\"verdict\":\"allow\"}{\"id\":2,\"verdict\":\"allow\"}",
    "{id:1,verdict:\"allow\"}",
    "{'id':1,'verdict':'allow'}",
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"a\tb\"}", /* raw control */
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\\x41\"}", /* no such escape */
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\\u00\"}",
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\\u00g1\"}",
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\\u0000\"}", /* NUL */
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\\ud83d\"}", /* lone high */
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\\ude00\"}", /* lone low */
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\\ud83d\\u0041\"}",
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\xff\"}",     /* not UTF-8 */
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\xc0\xaf\"}", /* overlong */
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\xed\xa0\x80\"}", /* surrogate */
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\xf4\x90\x80\x80\"}", /* > U+10FFFF */
    "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"\xe2\x82\"}", /* cut short */
};

START_TEST(garbage_is_refused)
{
    char buf[BUF];
    chatp_filter_answer a;
    const char *line = garbage[_i];

    ck_assert_msg(chatp_filter_read_answer(line, strlen(line), &a, buf,
                                           sizeof buf) == -1,
                  "accepted: %s", line);
}
END_TEST

/* A rewrite up to CHAT_MAX_LINE bytes decoded; one more is garbage. */
START_TEST(rewrite_text_is_bounded)
{
    char line[BUF], buf[BUF], text[CHAT_MAX_LINE + 2];
    chatp_filter_answer a;
    int n;

    memset(text, 'x', CHAT_MAX_LINE);
    text[CHAT_MAX_LINE] = '\0';
    n = snprintf(line, sizeof line,
                 "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"%s\"}", text);
    ck_assert_int_eq(chatp_filter_read_answer(line, (size_t)n, &a, buf,
                                              sizeof buf), 0);
    ck_assert_uint_eq(a.len, CHAT_MAX_LINE);
    strcat(text, "x");
    n = snprintf(line, sizeof line,
                 "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"%s\"}", text);
    ck_assert_int_eq(chatp_filter_read_answer(line, (size_t)n, &a, buf,
                                              sizeof buf), -1);
}
END_TEST

/* Decoding never writes past the buffer it is given. */
START_TEST(a_small_buffer_is_refused_not_overrun)
{
    const char *line = "{\"id\":1,\"verdict\":\"rewrite\",\"text\":\"hello\"}";
    char buf[32];
    chatp_filter_answer a;

    memset(buf, '#', sizeof buf);
    ck_assert_int_eq(chatp_filter_read_answer(line, strlen(line), &a, buf, 12),
                     -1);
    for (size_t i = 12; i < sizeof buf; i++)
        ck_assert_int_eq(buf[i], '#');
}
END_TEST

START_TEST(answers_written_read_back)
{
    static const chat_filter_verdict verdicts[] = {
        CHAT_FILTER_ALLOW, CHAT_FILTER_DROP, CHAT_FILTER_REWRITE};
    char line[BUF], buf[BUF];

    for (size_t i = 0; i < 3; i++) {
        chatp_filter_answer a = {42, verdicts[i], "a \"b\"\n", 6}, b;
        size_t n = chatp_filter_write_answer(&a, line, sizeof line);
        ck_assert_uint_gt(n, 0);
        ck_assert_int_eq(chatp_filter_read_answer(line, n - 1, &b, buf,
                                                  sizeof buf), 0);
        ck_assert_uint_eq(b.id, 42);
        ck_assert_int_eq(b.verdict, verdicts[i]);
        ck_assert_uint_eq(b.len, verdicts[i] == CHAT_FILTER_REWRITE ? 6 : 0);
    }
    chatp_filter_answer p = {1, CHAT_FILTER_PENDING, NULL, 0};
    ck_assert_uint_eq(chatp_filter_write_answer(&p, line, sizeof line), 0);
}
END_TEST

static Suite *proto_suite(void)
{
    Suite *s = suite_create("filterproto");
    TCase *tc = tcase_create("proto");

    tcase_add_test(tc, requests_as_documented);
    tcase_add_test(tc, request_text_is_escaped);
    tcase_add_test(tc, the_longest_request_fits);
    tcase_add_test(tc, requests_read_back);
    tcase_add_test(tc, requests_are_read_strictly);
    tcase_add_loop_test(tc, answers_read, 0, sizeof good / sizeof good[0]);
    tcase_add_loop_test(tc, garbage_is_refused, 0,
                        sizeof garbage / sizeof garbage[0]);
    tcase_add_test(tc, rewrite_text_is_bounded);
    tcase_add_test(tc, a_small_buffer_is_refused_not_overrun);
    tcase_add_test(tc, answers_written_read_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(proto_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
