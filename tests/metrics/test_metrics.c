/*
 * chatd's metrics (server/metrics.c): the registry's arithmetic and the
 * exact text of the Prometheus exposition format 0.0.4 - HELP and TYPE
 * lines, label quoting, cumulative histogram buckets ending in +Inf - and
 * the process metrics read from /proc against what the kernel says.
 */
#define _GNU_SOURCE /* prctl's PR_SET_NAME */

#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "metrics.h"
#include "sample.h"

/* ---- helpers ------------------------------------------------------------ */

static struct evbuffer *new_buf(void)
{
    struct evbuffer *buf = evbuffer_new();

    ck_assert_ptr_nonnull(buf);
    return buf;
}

/* buf's text as a NUL-terminated string the caller frees; buf is freed. */
static char *take_text(struct evbuffer *buf)
{
    size_t len = evbuffer_get_length(buf);
    char *s = malloc(len + 1);

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(evbuffer_copyout(buf, s, len), (ssize_t)len);
    s[len] = '\0';
    evbuffer_free(buf);
    return s;
}

static char *render_chatd(const struct chatd_metrics *m, const chat_stats *st)
{
    struct evbuffer *buf = new_buf();

    ck_assert_int_eq(chatd_metrics_render_chatd(m, st, buf), 0);
    return take_text(buf);
}

/* The chatd_* text of sample.c's registry. */
static char *render_sample(void)
{
    struct chatd_metrics m;
    chat_stats st;

    metrics_sample(&m, &st);
    return render_chatd(&m, &st);
}

static char *render_process(void)
{
    struct evbuffer *buf = new_buf();

    ck_assert_int_eq(chatd_metrics_render_process(buf), 0);
    return take_text(buf);
}

/* text holds line (given without its "\n") as a whole line. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

/* The whole text goes to stderr, not into Check's message (its messages
 * are short). */
static int has_line_or_print(const char *text, const char *line)
{
    if (has_line(text, line))
        return 1;
    fprintf(stderr, "---- rendered:\n%s----\n", text);
    return 0;
}

#define ck_line(text, line)                                                    \
    ck_assert_msg(has_line_or_print(text, line), "no line \"%s\"", line)

/* The value of series (name and labels, as written), or NAN if absent. */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; (p = strstr(p, series)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return NAN;
}

/* ---- the exact text ------------------------------------------------------ */

START_TEST(test_family_blocks)
{
    char *t = render_sample();

    /* A family is HELP, TYPE, then its samples, in that order, at once. */
    ck_assert_ptr_nonnull(strstr(t,
        "# HELP chatd_users Users: connections holding a name.\n"
        "# TYPE chatd_users gauge\n"
        "chatd_users 3\n"
        "# HELP chatd_rooms "));
    ck_assert_ptr_nonnull(strstr(t,
        "# TYPE chatd_connections_open gauge\n"
        "chatd_connections_open{transport=\"tcp\"} 2\n"
        "chatd_connections_open{transport=\"tls\"} 0\n"
        "chatd_connections_open{transport=\"ws\"} 1\n"
        "chatd_connections_open{transport=\"wss\"} 0\n"
        "chatd_connections_open{transport=\"http\"} 0\n"
        "chatd_connections_open{transport=\"https\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "# TYPE chatd_lines_dropped_total counter\n"
        "chatd_lines_dropped_total{reason=\"slow_consumer\"} 5\n"
        "chatd_lines_dropped_total{reason=\"rate_limit\"} 6\n"
        "chatd_lines_dropped_total{reason=\"filter\"} 7\n"
        "chatd_lines_dropped_total{reason=\"too_long\"} 8\n"
        "chatd_lines_dropped_total{reason=\"bad_utf8\"} 9\n"));
    ck_assert(t[0] == '#' && t[strlen(t) - 1] == '\n');
    free(t);
}
END_TEST

START_TEST(test_values)
{
    char *t = render_sample();

    ck_line(t, "chatd_connections_accepted_total{transport=\"tcp\"} 3");
    ck_line(t, "chatd_connections_accepted_total{transport=\"http\"} 2");
    ck_line(t, "chatd_connections_accepted_total{transport=\"ws\"} 1");
    ck_line(t, "chatd_connections_rejected_total{reason=\"fds\"} 1");
    ck_line(t, "chatd_connections_rejected_total{reason=\"full\"} 0");
    ck_line(t, "chatd_disconnects_total{reason=\"quit\"} 1");
    ck_line(t, "chatd_disconnects_total{reason=\"served\"} 1");
    ck_line(t, "chatd_disconnects_total{reason=\"login-timeout\"} 0");
    ck_line(t, "chatd_rooms 2");
    ck_line(t, "chatd_messages_received_total 10");
    ck_line(t, "chatd_deliveries_total 25");
    ck_line(t, "chatd_received_bytes_total 1234");
    ck_line(t, "chatd_sent_bytes_total 56789");
    ck_line(t, "chatd_output_queued_bytes 640");
    free(t);
}
END_TEST

/* Does name end in suffix? */
static int ends_with(const char *name, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    return len >= n && memcmp(name + len - n, suffix, n) == 0;
}

/* A sample's name belongs to the family last declared. */
static int of_family(const char *name, size_t len, const char *family,
                     const char *type)
{
    size_t f = strlen(family);

    if (len == f)
        return memcmp(name, family, f) == 0;
    if (strcmp(type, "histogram") != 0 || len < f ||
        memcmp(name, family, f) != 0)
        return 0;
    return ends_with(name, len, "_bucket") || ends_with(name, len, "_sum") ||
           ends_with(name, len, "_count");
}

/* Labels {k="v",...}: names [a-z_], values quoted, from our tables'
 * alphabet (plus the I of le="+Inf"), so none needs escaping. Returns the
 * end, or NULL. */
static const char *labels_end(const char *p)
{
    if (*p != '{')
        return p;
    do {
        p++;
        p += strspn(p, "abcdefghijklmnopqrstuvwxyz_");
        if (p[0] != '=' || p[1] != '"')
            return NULL;
        p += 2;
        p += strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_.+-I");
        if (*p++ != '"')
            return NULL;
    } while (*p == ',');
    return *p == '}' ? p + 1 : NULL;
}

/* One sample line: NAME[{labels}] VALUE, NAME of the current family. */
static void check_sample(const char *line, size_t len, const char *family,
                         const char *type)
{
    size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyz_");
    const char *p = labels_end(line + n);
    char *end;

    ck_assert_msg(of_family(line, n, family, type), "%.*s not in %s",
                  (int)len, line, family);
    ck_assert_msg(p && *p == ' ', "bad labels: %.*s", (int)len, line);
    (void)strtod(p + 1, &end);
    ck_assert_msg(end == line + len && end > p + 1, "bad value: %.*s",
                  (int)len, line);
}

/* "# HELP name text" then "# TYPE name type" on the next line; counters
 * end in _total, others do not. Fills family and type. */
static const char *check_header(const char *line, char *family, char *type)
{
    const char *next = strchr(line, '\n') + 1;
    char want[160];

    ck_assert_int_eq(sscanf(line, "# HELP %99s ", family), 1);
    ck_assert_int_eq(sscanf(next, "# TYPE %*s %15s", type), 1);
    snprintf(want, sizeof want, "# TYPE %s %s\n", family, type);
    ck_assert_int_eq(strncmp(next, want, strlen(want)), 0);
    ck_assert_int_eq(ends_with(family, strlen(family), "_total"),
                     strcmp(type, "counter") == 0);
    return strchr(next, '\n') + 1;
}

START_TEST(test_grammar)
{
    char family[100] = "", type[16] = "", *p;
    char *t = render_sample(), *seen = calloc(1, 1);

    ck_assert_ptr_nonnull(seen);
    for (p = t; *p;) {
        size_t len = strcspn(p, "\n");
        if (strncmp(p, "# ", 2) == 0) {
            p = (char *)check_header(p, family, type);
            /* No family twice: a second HELP would be a new family. */
            ck_assert_msg(!strstr(seen, family), "%s twice", family);
            seen = realloc(seen, strlen(seen) + strlen(family) + 3);
            ck_assert_ptr_nonnull(seen);
            strcat(strcat(strcat(seen, " "), family), " ");
            continue;
        }
        ck_assert_msg(family[0], "a sample before any family");
        check_sample(p, len, family, type);
        p += len + 1;
    }
    free(seen);
    free(t);
}
END_TEST

/* ---- the histogram ------------------------------------------------------- */

START_TEST(test_histogram)
{
    static const char *const cumulative[] = {
        "{le=\"0.00005\"} 1", "{le=\"0.0001\"} 2", "{le=\"0.00025\"} 2",
        "{le=\"0.0005\"} 2",  "{le=\"0.001\"} 2",  "{le=\"0.0025\"} 2",
        "{le=\"0.005\"} 3",   "{le=\"0.01\"} 3",   "{le=\"0.025\"} 3",
        "{le=\"0.05\"} 3",    "{le=\"0.1\"} 3",    "{le=\"0.25\"} 3",
        "{le=\"0.5\"} 3",     "{le=\"1\"} 3",      "{le=\"+Inf\"} 4",
    };
    struct chatd_metrics m;
    chat_stats st;
    char block[2048] = "# TYPE chatd_loop_pass_duration_seconds histogram\n";
    char *t;

    chatd_metrics_init(&m);
    memset(&st, 0, sizeof st);
    /* Powers of two, so the sum is exact: 2^-15 (first bucket), 2^-14
     * (second), 2^-8 (le 0.005), 2 (past every bound); a bound itself is
     * inside its bucket (le: less or equal). */
    chatd_metrics_observe_pass(&m, 0x1p-15);
    chatd_metrics_observe_pass(&m, 0x1p-14);
    chatd_metrics_observe_pass(&m, 0x1p-8);
    chatd_metrics_observe_pass(&m, 2.0);
    chatd_metrics_observe_pass(&m, -1.0); /* ignored */
    chatd_metrics_observe_pass(&m, NAN);  /* ignored */
    chatd_metrics_observe_pass(&m, INFINITY); /* ignored */
    for (size_t i = 0; i < sizeof cumulative / sizeof cumulative[0]; i++) {
        strcat(block, "chatd_loop_pass_duration_seconds_bucket");
        strcat(strcat(block, cumulative[i]), "\n");
    }
    strcat(block, "chatd_loop_pass_duration_seconds_sum 2.003997802734375\n"
                  "chatd_loop_pass_duration_seconds_count 4\n");
    t = render_chatd(&m, &st);
    if (!strstr(t, block))
        fprintf(stderr, "---- want:\n%s---- rendered:\n%s----\n", block, t);
    ck_assert_msg(strstr(t, block), "no histogram block as expected");
    free(t);
}
END_TEST

START_TEST(test_histogram_bound_inclusive)
{
    struct chatd_metrics m;
    chat_stats st;
    char *t;

    chatd_metrics_init(&m);
    memset(&st, 0, sizeof st);
    chatd_metrics_observe_pass(&m, 0.001);
    chatd_metrics_observe_pass(&m, 1.0);
    chatd_metrics_observe_pass(&m, 0.1);
    t = render_chatd(&m, &st);
    ck_line(t, "chatd_loop_pass_duration_seconds_bucket{le=\"0.0005\"} 0");
    ck_line(t, "chatd_loop_pass_duration_seconds_bucket{le=\"0.001\"} 1");
    ck_line(t, "chatd_loop_pass_duration_seconds_bucket{le=\"0.1\"} 2");
    ck_line(t, "chatd_loop_pass_duration_seconds_bucket{le=\"1\"} 3");
    ck_line(t, "chatd_loop_pass_duration_seconds_bucket{le=\"+Inf\"} 3");
    ck_line(t, "chatd_loop_pass_duration_seconds_sum 1.101");
    free(t);
}
END_TEST

START_TEST(test_clock)
{
    double a = chatd_metrics_clock(), b = chatd_metrics_clock();

    ck_assert(isfinite(a) && a > 0 && b >= a);
}
END_TEST

/* ---- the registry -------------------------------------------------------- */

START_TEST(test_gauges)
{
    struct chatd_metrics m;

    chatd_metrics_init(&m);
    chatd_metrics_conn_opened(&m, CHATD_TRANSPORT_TLS);
    chatd_metrics_conn_closed(&m, CHATD_TRANSPORT_TLS, CHATD_DISC_EOF);
    /* A close without its open keeps the gauge at 0, and still counts. */
    chatd_metrics_conn_closed(&m, CHATD_TRANSPORT_TLS, CHATD_DISC_EOF);
    ck_assert_uint_eq(m.open[CHATD_TRANSPORT_TLS], 0);
    ck_assert_uint_eq(m.disconnects[CHATD_DISC_EOF], 2);
    chatd_metrics_conn_opened(&m, CHATD_TRANSPORT_HTTPS);
    chatd_metrics_conn_upgraded(&m, CHATD_TRANSPORT_HTTPS,
                                CHATD_TRANSPORT_WSS);
    ck_assert_uint_eq(m.open[CHATD_TRANSPORT_HTTPS], 0);
    ck_assert_uint_eq(m.open[CHATD_TRANSPORT_WSS], 1);
    ck_assert_uint_eq(m.accepted[CHATD_TRANSPORT_HTTPS], 1);
    ck_assert_uint_eq(m.accepted[CHATD_TRANSPORT_WSS], 1);
}
END_TEST

START_TEST(test_out_of_range_ignored)
{
    struct chatd_metrics m, zero;

    chatd_metrics_init(&m);
    chatd_metrics_init(&zero);
    chatd_metrics_conn_opened(&m, CHATD_TRANSPORTS);
    chatd_metrics_conn_upgraded(&m, CHATD_TRANSPORT_TCP, CHATD_TRANSPORTS);
    chatd_metrics_conn_closed(&m, CHATD_TRANSPORTS, CHATD_DISCONNECTS);
    chatd_metrics_rejected(&m, CHATD_REJECTS);
    ck_assert_int_eq(memcmp(&m, &zero, sizeof m), 0);
}
END_TEST

/* Every reason the broker has (chat_close_reason_str knows it) maps to
 * a label that is the broker's word: a new reason in libchat fails here
 * until chatd_disconnect has it. */
START_TEST(test_broker_reasons)
{
    struct chatd_metrics m;
    chat_stats st;
    char line[128], *t;
    int r;

    chatd_metrics_init(&m);
    memset(&st, 0, sizeof st);
    for (r = CHAT_CLOSE_QUIT;
         strcmp(chat_close_reason_str((chat_close_reason)r), "unknown") != 0;
         r++)
        chatd_metrics_conn_closed(&m, CHATD_TRANSPORT_TCP,
                                  chatd_metrics_reason((chat_close_reason)r));
    ck_assert_int_eq(r, CHATD_DISC_ERROR + 1); /* 1: CHAT_CLOSE_NONE */
    t = render_chatd(&m, &st);
    for (r = CHAT_CLOSE_QUIT; r < CHATD_DISC_ERROR + 1; r++) {
        snprintf(line, sizeof line, "chatd_disconnects_total{reason=\"%s\"} 1",
                 chat_close_reason_str((chat_close_reason)r));
        ck_line(t, line);
    }
    ck_line(t, "chatd_disconnects_total{reason=\"error\"} 0");
    ck_line(t, "chatd_disconnects_total{reason=\"handshake\"} 0");
    ck_assert_int_eq(chatd_metrics_reason(CHAT_CLOSE_NONE), CHATD_DISC_ERROR);
    free(t);
}
END_TEST

/* ---- rendering with a broker, and failing -------------------------------- */

START_TEST(test_render_broker)
{
    struct chatd_metrics m;
    chat_broker *b;
    chat_peer *p, *q;
    struct evbuffer *buf = new_buf();
    char *t;

    ck_assert_int_eq(chat_broker_new(&b, NULL), CHAT_OK);
    ck_assert_int_eq(chat_broker_join(b, NULL, 0, &p), CHAT_OK);
    ck_assert_int_eq(chat_broker_join(b, NULL, 0, &q), CHAT_OK);
    ck_assert_int_eq(chat_peer_feed(b, p, "hello\n", 6, 1), CHAT_OK);
    chatd_metrics_init(&m);
    ck_assert_int_eq(chatd_metrics_render(&m, b, buf), 0);
    t = take_text(buf);
    ck_line(t, "chatd_users 2");
    ck_line(t, "chatd_rooms 1");
    ck_line(t, "chatd_messages_received_total 1");
    ck_assert_double_gt(value_of(t, "chatd_output_queued_bytes"), 0);
    ck_assert_ptr_nonnull(strstr(t, "\n# TYPE process_open_fds gauge\n"));
    free(t);
    chat_broker_free(b);
}
END_TEST

/* An evbuffer that refuses to grow (frozen at its end) fails a render. */
START_TEST(test_render_fails)
{
    struct chatd_metrics m;
    chat_stats st;
    struct evbuffer *buf = new_buf();

    metrics_sample(&m, &st);
    ck_assert_int_eq(evbuffer_freeze(buf, 0), 0);
    ck_assert_int_eq(chatd_metrics_render_chatd(&m, &st, buf), -1);
    ck_assert_int_eq(chatd_metrics_render_process(buf), -1);
    evbuffer_free(buf);
}
END_TEST

/* ---- process metrics ----------------------------------------------------- */

/* Open descriptors counted the slow way: every number below the limit. */
static double count_fds(rlim_t limit)
{
    double n = 0;

    for (rlim_t fd = 0; fd < limit && fd < 1 << 20; fd++)
        if (fcntl((int)fd, F_GETFD) != -1)
            n++;
    return n;
}

START_TEST(test_process_values)
{
    struct rlimit rl;
    char *t = render_process();
    double start = value_of(t, "process_start_time_seconds");
    double rss = value_of(t, "process_resident_memory_bytes");

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_double_eq(value_of(t, "process_max_fds"), (double)rl.rlim_cur);
    ck_assert_double_gt(rss, 0);
    ck_assert_double_ge(value_of(t, "process_virtual_memory_bytes"), rss);
    ck_assert_double_ge(value_of(t, "process_cpu_seconds_total"), 0);
    ck_assert_double_eq(value_of(t, "process_open_fds"),
                        count_fds(rl.rlim_cur));
    /* btime is whole seconds: allow for its rounding. */
    ck_assert_double_le(start, (double)time(NULL) + 2);
    ck_assert_double_gt(start, (double)time(NULL) - 600);
    ck_line(t, "# TYPE process_cpu_seconds_total counter");
    free(t);
}
END_TEST

/* One more open descriptor is one more in process_open_fds. */
START_TEST(test_process_open_fds)
{
    char *t = render_process();
    double before = value_of(t, "process_open_fds");
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    ck_assert_int_ge(fd, 0);
    free(t);
    t = render_process();
    ck_assert_double_eq(value_of(t, "process_open_fds"), before + 1);
    close(fd);
    free(t);
}
END_TEST

/* A command name with ") " in it must not shift /proc/self/stat's fields:
 * the start time, which never changes, must read the same. */
START_TEST(test_process_odd_name)
{
    char *t = render_process();
    double start = value_of(t, "process_start_time_seconds");

    free(t);
    ck_assert_int_eq(prctl(PR_SET_NAME, "a) 1 2 (b", 0, 0, 0), 0);
    t = render_process();
    ck_assert_double_eq(value_of(t, "process_start_time_seconds"), start);
    ck_assert_double_gt(value_of(t, "process_resident_memory_bytes"), 0);
    free(t);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *text = tcase_create("text");
    TCase *reg = tcase_create("registry");
    TCase *proc = tcase_create("process");

    tcase_add_test(text, test_family_blocks);
    tcase_add_test(text, test_values);
    tcase_add_test(text, test_grammar);
    tcase_add_test(text, test_histogram);
    tcase_add_test(text, test_histogram_bound_inclusive);
    tcase_add_test(text, test_render_broker);
    tcase_add_test(text, test_render_fails);
    tcase_add_test(reg, test_clock);
    tcase_add_test(reg, test_gauges);
    tcase_add_test(reg, test_out_of_range_ignored);
    tcase_add_test(reg, test_broker_reasons);
    tcase_add_test(proc, test_process_values);
    tcase_add_test(proc, test_process_open_fds);
    tcase_add_test(proc, test_process_odd_name);
    suite_add_tcase(s, text);
    suite_add_tcase(s, reg);
    suite_add_tcase(s, proc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
