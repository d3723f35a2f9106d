/*
 * chat-bench's parts without I/O: the command line, the latency histogram,
 * the benchmark message, the per-sender order tracking and the RESP reader
 * of --target redis.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- the command line ---------------------------------------------------- */

struct parsed {
    struct bench_opts o;
    enum bench_args_result r;
    char out[4096], err[512];
};

/* Parse a NULL-terminated argument list (argv[0] added). */
static void parse(struct parsed *p, const char *const *args)
{
    static char copy[32][64];
    char *argv[33];
    int argc = 0;
    FILE *out, *err;

    memset(p, 0, sizeof *p);
    argv[argc++] = "chat-bench";
    for (; *args; args++, argc++) {
        snprintf(copy[argc], sizeof copy[argc], "%s", *args);
        argv[argc] = copy[argc];
    }
    argv[argc] = NULL;
    out = fmemopen(p->out, sizeof p->out - 1, "w");
    err = fmemopen(p->err, sizeof p->err - 1, "w");
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(err);
    p->r = bench_parse_args(&p->o, argc, argv, out, err);
    fclose(out);
    fclose(err);
}

START_TEST(test_args_defaults)
{
    struct parsed p;
    const char *args[] = {NULL};

    parse(&p, args);
    ck_assert_int_eq(p.r, BENCH_ARGS_RUN);
    ck_assert_str_eq(p.o.host, "127.0.0.1");
    ck_assert_str_eq(p.o.port, "4242");
    ck_assert_uint_eq(p.o.clients, 10);
    ck_assert_uint_eq(p.o.rooms, 1);
    ck_assert_uint_eq(p.o.senders, 1);
    ck_assert_uint_eq(p.o.messages, 1000);
    ck_assert_uint_eq(p.o.size, 64);
    ck_assert_uint_eq(p.o.window, 16);
    ck_assert(p.o.rate == 0 && p.o.duration == 0 && !p.o.json && !p.o.bots);
    ck_assert_int_eq(p.o.target, BENCH_TARGET_CHATD);
    ck_assert_int_eq(p.o.ack, BENCH_ACK_SERVER);
    ck_assert_int_eq(p.o.server_pid, 0);
    ck_assert(p.o.settle == 0.2);
}
END_TEST

START_TEST(test_args_redis)
{
    struct parsed p;
    const char *redis[] = {"--target", "redis", "--ack", "receivers",
                           "--server-pid", "4321", "--settle", "2", NULL};
    const char *port[] = {"-p", "7000", "--target", "redis", NULL};
    const char *chatd[] = {"--target", "chatd", "--ack", "server", NULL};

    parse(&p, redis);
    ck_assert_int_eq(p.r, BENCH_ARGS_RUN);
    ck_assert_int_eq(p.o.target, BENCH_TARGET_REDIS);
    ck_assert_str_eq(p.o.port, "6379"); /* redis's own default */
    ck_assert_int_eq(p.o.ack, BENCH_ACK_RECEIVERS);
    ck_assert_int_eq(p.o.server_pid, 4321);
    ck_assert(p.o.settle == 2);
    parse(&p, port);
    ck_assert_int_eq(p.r, BENCH_ARGS_RUN);
    ck_assert_str_eq(p.o.port, "7000");
    parse(&p, chatd);
    ck_assert_int_eq(p.r, BENCH_ARGS_RUN);
    ck_assert_int_eq(p.o.target, BENCH_TARGET_CHATD);
    ck_assert_str_eq(p.o.port, "4242");
}
END_TEST

START_TEST(test_args_all)
{
    struct parsed p;
    const char *args[] = {"-h", "[::1]", "-p", "5000", "--clients", "100",
                          "--rooms", "4", "--senders", "8", "--size", "400",
                          "--rate", "2.5", "--duration", "1.5", "--json",
                          "--drain-timeout", "2", "--concurrency", "7", NULL};

    parse(&p, args);
    ck_assert_int_eq(p.r, BENCH_ARGS_RUN);
    ck_assert_str_eq(p.o.host, "::1");
    ck_assert_str_eq(p.o.port, "5000");
    ck_assert_uint_eq(p.o.clients, 100);
    ck_assert_uint_eq(p.o.rooms, 4);
    ck_assert_uint_eq(p.o.senders, 8);
    ck_assert_uint_eq(p.o.size, 400);
    ck_assert(p.o.rate == 2.5 && p.o.duration == 1.5);
    ck_assert(p.o.drain_timeout == 2);
    ck_assert_uint_eq(p.o.concurrency, 7);
    /* --duration without --messages: send until the time is up */
    ck_assert_uint_eq(p.o.messages, 0);
    ck_assert(p.o.json);
}
END_TEST

START_TEST(test_args_bots)
{
    struct parsed p;
    const char *args[] = {"--bots", "--clients", "5", NULL};

    parse(&p, args);
    ck_assert_int_eq(p.r, BENCH_ARGS_RUN);
    ck_assert(p.o.bots);
    ck_assert_uint_eq(p.o.rooms, 3);
    ck_assert(p.o.rate == 0.5);
}
END_TEST

START_TEST(test_args_tls)
{
    struct parsed p;
    const char *tls[] = {"--tls", NULL};
    const char *cafile[] = {"--tls", "--cafile", "ca.pem", "--bots", NULL};

    parse(&p, tls);
    ck_assert_int_eq(p.r, BENCH_ARGS_RUN);
    ck_assert(p.o.tls && !p.o.cafile);
    parse(&p, cafile);
    ck_assert_int_eq(p.r, BENCH_ARGS_RUN);
    ck_assert(p.o.tls);
    ck_assert_str_eq(p.o.cafile, "ca.pem");
}
END_TEST

static const char *const bad_args[][5] = {
    {"--clients", "0", NULL},
    {"--clients", "x", NULL},
    {"--clients", "-3", NULL},
    {"--clients", "1000001", NULL},
    {"--size", "47", NULL},
    {"--size", "401", NULL},
    {"--rate", "0", NULL},
    {"--rate", "nan", NULL},
    {"--rate", "inf", NULL},
    {"--duration", "-1", NULL},
    {"--window", "0", NULL},
    {"--messages", "0", NULL},
    {"-p", "0", NULL},
    {"-p", "65536", NULL},
    {"-h", "", NULL},
    {"--rooms", "11", NULL},                 /* more rooms than clients */
    {"--senders", "11", NULL},               /* more senders than clients */
    {"--rate", "5", "--window", "4", NULL},  /* two pacings */
    {"--bots", "--senders", "2", NULL},
    {"--target", "irc", NULL},
    {"--ack", "all", NULL},
    {"--rate", "5", "--ack", "receivers", NULL}, /* no window to open */
    {"--bots", "--target", "redis", NULL},
    {"--bots", "--server-pid", "5", NULL},
    {"--server-pid", "0", NULL},
    {"--server-pid", "x", NULL},
    {"--settle", "0", NULL},
    {"--settle", "61", NULL},
    {"--frobnicate", NULL},
    {"--clients", NULL},                     /* missing value */
    {"stray", NULL},
    {"--cafile", "ca.pem", NULL},            /* without --tls */
    {"--tls", "--cafile", "", NULL},
};

START_TEST(test_args_bad)
{
    struct parsed p;
    const char *nl;

    parse(&p, bad_args[_i]);
    ck_assert_int_eq(p.r, BENCH_ARGS_USAGE);
    ck_assert_str_eq(p.out, "");
    /* one line, naming the program */
    ck_assert_msg(strncmp(p.err, "chat-bench: ", 12) == 0, "%s", p.err);
    nl = strchr(p.err, '\n');
    ck_assert_ptr_nonnull(nl);
    ck_assert_str_eq(nl + 1, "");
}
END_TEST

START_TEST(test_args_help_version)
{
    struct parsed p;
    const char *help[] = {"--help", NULL}, *version[] = {"-V", NULL};

    parse(&p, help);
    ck_assert_int_eq(p.r, BENCH_ARGS_DONE);
    ck_assert(strstr(p.out, "Usage: chat-bench") != NULL);
    ck_assert(strstr(p.out, "--rate 0") != NULL);
    ck_assert(strstr(p.out, "--tls") != NULL);
    parse(&p, version);
    ck_assert_int_eq(p.r, BENCH_ARGS_DONE);
    ck_assert(strncmp(p.out, "chat-bench ", 11) == 0);
}
END_TEST

/* ---- the histogram --------------------------------------------------------- */

static struct bench_hist h; /* big: not on the stack */

START_TEST(test_hist_small_exact)
{
    bench_hist_reset(&h);
    for (uint64_t v = 1; v <= 50; v++)
        bench_hist_add(&h, v);
    ck_assert_uint_eq(h.count, 50);
    ck_assert_uint_eq(bench_hist_quantile(&h, 0.5), 25);
    ck_assert_uint_eq(bench_hist_quantile(&h, 0.99), 50);
    ck_assert_uint_eq(bench_hist_quantile(&h, 1.0), 50);
    ck_assert_uint_eq(bench_hist_quantile(&h, 0.0), 1);
}
END_TEST

/* Every quantile is within 1/64 of the true value, over a wide range. */
START_TEST(test_hist_precision)
{
    static const uint64_t values[] = {
        64, 100, 1000, 4097, 123456, 999999, 1000000, 37000000,
        1234567890, 60000000000ull, (uint64_t)1 << 50,
    };

    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        uint64_t v = values[i], got;

        bench_hist_reset(&h);
        bench_hist_add(&h, v);
        bench_hist_add(&h, v * 2);
        got = bench_hist_quantile(&h, 0.5);
        ck_assert_msg(got <= v + v / 64 && got + v / 64 >= v,
                      "%llu reported as %llu", (unsigned long long)v,
                      (unsigned long long)got);
        ck_assert_uint_eq(bench_hist_quantile(&h, 1.0), v * 2);
    }
}
END_TEST

START_TEST(test_hist_quantiles)
{
    bench_hist_reset(&h);
    ck_assert_uint_eq(bench_hist_quantile(&h, 0.99), 0);
    /* 1000 samples: 990 at ~1 ms, 10 at ~50 ms */
    for (int i = 0; i < 990; i++)
        bench_hist_add(&h, 1000000);
    for (int i = 0; i < 10; i++)
        bench_hist_add(&h, 50000000);
    ck_assert_uint_le(bench_hist_quantile(&h, 0.99), 1000000 + 1000000 / 64);
    ck_assert_uint_ge(bench_hist_quantile(&h, 0.999), 50000000 - 50000000 / 64);
    ck_assert_uint_eq(h.max, 50000000);
    ck_assert_uint_eq(bench_hist_quantile(&h, 1.0), 50000000);
}
END_TEST

/* ---- the message -------------------------------------------------------------- */

START_TEST(test_payload_roundtrip)
{
    char buf[CHAT_MAX_LINE + 64];
    struct bench_msg m = {999999, 4294967295u, 18446744073709551615ull}, back;
    size_t n;

    n = bench_payload_write(buf, BENCH_MIN_SIZE, &m);
    ck_assert_uint_eq(n, BENCH_MIN_SIZE + 1);
    ck_assert_int_eq(buf[BENCH_MIN_SIZE], '\n');
    ck_assert(memchr(buf, ' ', BENCH_MIN_SIZE) == NULL); /* nothing to trim */
    /* As a receiver sees it: "{name}: {text}" */
    memmove(buf + 13, buf, n - 1);
    memcpy(buf, "ZenMammoth2: ", 13);
    ck_assert(bench_payload_parse(buf, 13 + n - 1, &back));
    ck_assert_uint_eq(back.sid, m.sid);
    ck_assert_uint_eq(back.seq, m.seq);
    ck_assert(back.t_ns == m.t_ns);
}
END_TEST

START_TEST(test_payload_size)
{
    char buf[CHAT_MAX_LINE + 2];
    struct bench_msg m = {3, 7, 123456789};

    ck_assert_uint_eq(bench_payload_write(buf, CHAT_MAX_LINE, &m),
                      CHAT_MAX_LINE + 1);
    ck_assert_int_eq(buf[CHAT_MAX_LINE - 1], 'x');
    ck_assert_uint_eq(bench_payload_write(buf, 10, &m), 0); /* too small */
}
END_TEST

static const char *const not_payloads[] = {
    "bob: hello",
    "You joined room1",
    "bob: @cb/1/2/3",          /* no closing '/' */
    "bob: @cb/1/2/x/",
    "bob: @cb//2/3/",
    "bob: @cb/4294967296/1/1/", /* sid out of range */
    "bob @cb/1/2/3/",
    ": @cb/1/2/3/",             /* no name */
    "* bob @cb/1/2/3/",         /* /me */
    "from bob: @cb/1/2/3/",     /* a direct message names "from bob" */
};

START_TEST(test_payload_rejects)
{
    struct bench_msg m;
    const char *s = not_payloads[_i];

    ck_assert_msg(!bench_payload_parse(s, strlen(s), &m), "%s", s);
}
END_TEST

/* The bare text, as a redis message carries it. */
START_TEST(test_payload_text)
{
    char buf[BENCH_MIN_SIZE + 1];
    struct bench_msg m = {12, 34, 56}, back;

    bench_payload_write(buf, BENCH_MIN_SIZE, &m);
    ck_assert(bench_payload_parse_text(buf, BENCH_MIN_SIZE, &back));
    ck_assert(back.sid == 12 && back.seq == 34 && back.t_ns == 56);
    ck_assert(!bench_payload_parse(buf, BENCH_MIN_SIZE, &back)); /* no name */
    ck_assert(!bench_payload_parse_text("bob: @cb/1/2/3/", 15, &back));
    ck_assert(!bench_payload_parse_text("@cb/1/2/", 8, &back));
    ck_assert(!bench_payload_parse_text("@cb", 3, &back));
}
END_TEST

START_TEST(test_put_u64)
{
    char buf[24];

    buf[bench_put_u64(buf, 0)] = '\0';
    ck_assert_str_eq(buf, "0");
    buf[bench_put_u64(buf, 18446744073709551615ull)] = '\0';
    ck_assert_str_eq(buf, "18446744073709551615");
}
END_TEST

/* ---- order tracking ------------------------------------------------------------ */

START_TEST(test_seq_in_order_and_gaps)
{
    struct bench_seq st = {0, 0};

    ck_assert_int_eq(bench_seq_track(&st, 1), BENCH_SEQ_IN_ORDER);
    ck_assert_int_eq(bench_seq_track(&st, 2), BENCH_SEQ_IN_ORDER);
    ck_assert_int_eq(bench_seq_track(&st, 5), BENCH_SEQ_IN_ORDER); /* gap */
    ck_assert_int_eq(bench_seq_track(&st, 5), BENCH_SEQ_DUPLICATE);
    ck_assert_int_eq(bench_seq_track(&st, 2), BENCH_SEQ_DUPLICATE);
    ck_assert_int_eq(bench_seq_track(&st, 4), BENCH_SEQ_LATE);
    ck_assert_int_eq(bench_seq_track(&st, 4), BENCH_SEQ_DUPLICATE);
    ck_assert_int_eq(bench_seq_track(&st, 3), BENCH_SEQ_LATE);
    ck_assert_int_eq(bench_seq_track(&st, 1), BENCH_SEQ_DUPLICATE);
    ck_assert_int_eq(bench_seq_track(&st, 6), BENCH_SEQ_IN_ORDER);
}
END_TEST

START_TEST(test_seq_window_edges)
{
    struct bench_seq st = {0, 0};

    ck_assert_int_eq(bench_seq_track(&st, 10), BENCH_SEQ_IN_ORDER);
    ck_assert_int_eq(bench_seq_track(&st, 42), BENCH_SEQ_IN_ORDER); /* +32 */
    ck_assert_int_eq(bench_seq_track(&st, 10), BENCH_SEQ_DUPLICATE);
    ck_assert_int_eq(bench_seq_track(&st, 11), BENCH_SEQ_LATE);
    ck_assert_int_eq(bench_seq_track(&st, 200), BENCH_SEQ_IN_ORDER);
    ck_assert_int_eq(bench_seq_track(&st, 100), BENCH_SEQ_LATE); /* too old to know */
}
END_TEST

/* ---- RESP, line by line ---------------------------------------------------- */

/* A reply as the framer hands it over (CRLF removed), and what each line
 * completes; data is the event's text, value its integer. */
struct resp_step {
    const char *line;
    enum bench_resp_kind kind;
    const char *data;
    long long value;
};

static const struct resp_step resp_script[] = {
    /* SUBSCRIBE's confirmation: ready once it names the channel */
    {"*3", BENCH_RESP_NONE, NULL, 0},
    {"$9", BENCH_RESP_NONE, NULL, 0},
    {"subscribe", BENCH_RESP_NONE, NULL, 0},
    {"$5", BENCH_RESP_NONE, NULL, 0},
    {"room1", BENCH_RESP_SUBSCRIBED, "room1", 0},
    {":1", BENCH_RESP_OTHER, NULL, 0},
    /* a published message: the payload is handed over in place */
    {"*3", BENCH_RESP_NONE, NULL, 0},
    {"$7", BENCH_RESP_NONE, NULL, 0},
    {"message", BENCH_RESP_NONE, NULL, 0},
    {"$5", BENCH_RESP_NONE, NULL, 0},
    {"room1", BENCH_RESP_OTHER, NULL, 0},
    {"$12", BENCH_RESP_NONE, NULL, 0},
    {"@cb/1/2/3/xx", BENCH_RESP_MESSAGE, "@cb/1/2/3/xx", 0},
    /* a sender's replies */
    {"+PONG", BENCH_RESP_STATUS, "PONG", 0},
    {":100", BENCH_RESP_INTEGER, "100", 100},
    {":-2", BENCH_RESP_INTEGER, "-2", -2},
    {"-ERR max number of clients reached", BENCH_RESP_ERROR,
     "ERR max number of clients reached", 0},
    /* replies chat-bench has no use for */
    {"$-1", BENCH_RESP_OTHER, NULL, 0},
    {"*0", BENCH_RESP_OTHER, NULL, 0},
    {"$0", BENCH_RESP_NONE, NULL, 0},
    {"", BENCH_RESP_OTHER, "", 0},
    {"*2", BENCH_RESP_NONE, NULL, 0},
    {"$4", BENCH_RESP_NONE, NULL, 0},
    {"pong", BENCH_RESP_NONE, NULL, 0},
    {"$-1", BENCH_RESP_OTHER, NULL, 0},
    /* and the reader is back at the top level */
    {"+OK", BENCH_RESP_STATUS, "OK", 0},
};

START_TEST(test_resp_script)
{
    struct bench_resp r;
    struct bench_resp_event ev;

    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < sizeof resp_script / sizeof *resp_script; i++) {
        const struct resp_step *st = &resp_script[i];
        enum bench_resp_kind k =
            bench_resp_line(&r, st->line, strlen(st->line), &ev);

        ck_assert_msg(k == st->kind, "line %zu '%s': kind %d, wanted %d", i,
                      st->line, (int)k, (int)st->kind);
        if (st->data) {
            ck_assert_uint_eq(ev.len, strlen(st->data));
            ck_assert(memcmp(ev.data, st->data, ev.len) == 0);
        }
        ck_assert(ev.value == st->value);
    }
}
END_TEST

/* Lines that are not RESP as chat-bench reads it, each after a prefix of
 * good lines. */
static const char *const resp_bad[][4] = {
    {"hello", NULL},
    {"", NULL},
    {":12x", NULL},
    {"$x", NULL},
    {"$-2", NULL},
    {"*2", "*1", NULL},                  /* nested arrays */
    {"$5", "abc", NULL},                 /* shorter: held a line break */
    {"$2", "abc", NULL},                 /* longer */
    {":99999999999999999999", NULL},     /* out of range */
};

START_TEST(test_resp_bad)
{
    struct bench_resp r;
    struct bench_resp_event ev;
    const char *const *line = resp_bad[_i];

    memset(&r, 0, sizeof r);
    for (; line[1]; line++)
        ck_assert_int_ne(bench_resp_line(&r, *line, strlen(*line), &ev),
                         BENCH_RESP_BAD);
    ck_assert_int_eq(bench_resp_line(&r, *line, strlen(*line), &ev),
                     BENCH_RESP_BAD);
}
END_TEST

static Suite *bench_suite(void)
{
    Suite *s = suite_create("chat-bench core");
    TCase *args = tcase_create("args");
    TCase *hist = tcase_create("hist");
    TCase *payload = tcase_create("payload");
    TCase *resp = tcase_create("resp");

    tcase_add_test(args, test_args_defaults);
    tcase_add_test(args, test_args_all);
    tcase_add_test(args, test_args_bots);
    tcase_add_test(args, test_args_tls);
    tcase_add_test(args, test_args_redis);
    tcase_add_loop_test(args, test_args_bad, 0,
                        sizeof bad_args / sizeof *bad_args);
    tcase_add_test(args, test_args_help_version);
    tcase_add_test(hist, test_hist_small_exact);
    tcase_add_test(hist, test_hist_precision);
    tcase_add_test(hist, test_hist_quantiles);
    tcase_add_test(payload, test_payload_roundtrip);
    tcase_add_test(payload, test_payload_size);
    tcase_add_loop_test(payload, test_payload_rejects, 0,
                        sizeof not_payloads / sizeof *not_payloads);
    tcase_add_test(payload, test_payload_text);
    tcase_add_test(payload, test_put_u64);
    tcase_add_test(payload, test_seq_in_order_and_gaps);
    tcase_add_test(payload, test_seq_window_edges);
    suite_add_tcase(s, args);
    suite_add_tcase(s, hist);
    suite_add_tcase(s, payload);
    tcase_add_test(resp, test_resp_script);
    tcase_add_loop_test(resp, test_resp_bad, 0,
                        sizeof resp_bad / sizeof *resp_bad);
    suite_add_tcase(s, resp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bench_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
