/*
 * chatd - metrics: the registry and the Prometheus text format. See
 * metrics.h; doc/metrics.md lists the metrics.
 *
 * The output goes into an evbuffer: a scrape is one HTTP response whose
 * size is not known in advance (it grows with nothing but the label sets,
 * a few KiB), and the http listener sends it with its headers from there.
 * Every label value written is a word of the tables below or of
 * chat_close_reason_str(), so none needs escaping; tests/metrics checks
 * that they stay in [a-z0-9_.+-] (and le="+Inf").
 */
#define _POSIX_C_SOURCE 200809L

#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

static const char *const transport_label[CHATD_TRANSPORTS] = {
    [CHATD_TRANSPORT_TCP] = "tcp",   [CHATD_TRANSPORT_TLS] = "tls",
    [CHATD_TRANSPORT_WS] = "ws",     [CHATD_TRANSPORT_WSS] = "wss",
    [CHATD_TRANSPORT_HTTP] = "http", [CHATD_TRANSPORT_HTTPS] = "https",
};

/* The broker's reasons in chatd_disconnect's order: their labels are the
 * broker's own words, so a log line and a metric say the same thing. */
static const chat_close_reason broker_reason[] = {
    CHAT_CLOSE_QUIT,     CHAT_CLOSE_EOF,  CHAT_CLOSE_IDLE,
    CHAT_CLOSE_LOGIN_TIMEOUT,             CHAT_CLOSE_FULL,
    CHAT_CLOSE_SHUTDOWN, CHAT_CLOSE_SLOW, CHAT_CLOSE_WRITE_TIMEOUT,
    CHAT_CLOSE_NOMEM,
};
#define BROKER_REASONS (sizeof broker_reason / sizeof broker_reason[0])

_Static_assert(BROKER_REASONS == CHATD_DISC_ERROR,
               "chatd_disconnect starts with the broker's reasons");

static const char *const own_reason[] = {
    [CHATD_DISC_ERROR - BROKER_REASONS] = "error",
    [CHATD_DISC_HANDSHAKE - BROKER_REASONS] = "handshake",
    [CHATD_DISC_SERVED - BROKER_REASONS] = "served",
};

static const char *const reject_label[CHATD_REJECTS] = {
    [CHATD_REJECT_FULL] = "full",
    [CHATD_REJECT_FDS] = "fds",
    [CHATD_REJECT_ERROR] = "error",
};

/* Bucket bounds: as numbers to compare, as text for the `le` label (the
 * shortest exact decimal, not printf's rounding of a binary fraction). */
static const struct {
    double le;
    const char *text;
} pass_bound[CHATD_PASS_BUCKETS] = {
    {0.00005, "0.00005"}, {0.0001, "0.0001"}, {0.00025, "0.00025"},
    {0.0005, "0.0005"},   {0.001, "0.001"},   {0.0025, "0.0025"},
    {0.005, "0.005"},     {0.01, "0.01"},     {0.025, "0.025"},
    {0.05, "0.05"},       {0.1, "0.1"},       {0.25, "0.25"},
    {0.5, "0.5"},         {1.0, "1"},
};

/* ---- the registry -------------------------------------------------------- */

void chatd_metrics_init(struct chatd_metrics *m)
{
    memset(m, 0, sizeof *m);
}

static int transport_ok(enum chatd_transport t)
{
    return (unsigned)t < CHATD_TRANSPORTS;
}

/* A gauge that would go below zero means a close without its open: keep
 * it at zero rather than show 2^64 connections on a dashboard. */
static void gauge_down(uint64_t *g)
{
    if (*g > 0)
        (*g)--;
}

void chatd_metrics_conn_opened(struct chatd_metrics *m, enum chatd_transport t)
{
    if (!transport_ok(t))
        return;
    m->accepted[t]++;
    m->open[t]++;
}

void chatd_metrics_conn_upgraded(struct chatd_metrics *m,
                                 enum chatd_transport from,
                                 enum chatd_transport to)
{
    if (!transport_ok(from) || !transport_ok(to))
        return;
    gauge_down(&m->open[from]);
    m->open[to]++;
    m->accepted[to]++;
}

void chatd_metrics_conn_closed(struct chatd_metrics *m, enum chatd_transport t,
                               enum chatd_disconnect why)
{
    if (transport_ok(t))
        gauge_down(&m->open[t]);
    if ((unsigned)why < CHATD_DISCONNECTS)
        m->disconnects[why]++;
}

void chatd_metrics_rejected(struct chatd_metrics *m, enum chatd_reject why)
{
    if ((unsigned)why < CHATD_REJECTS)
        m->rejected[why]++;
}

enum chatd_disconnect chatd_metrics_reason(chat_close_reason r)
{
    for (size_t i = 0; i < BROKER_REASONS; i++)
        if (broker_reason[i] == r)
            return (enum chatd_disconnect)i;
    /* CHAT_CLOSE_NONE: the socket failed while the peer was open. A reason
     * newer than this table lands here too; tests/metrics fails then. */
    return CHATD_DISC_ERROR;
}

void chatd_metrics_observe_pass(struct chatd_metrics *m, double seconds)
{
    if (!isfinite(seconds) || seconds < 0)
        return;
    for (size_t i = 0; i < CHATD_PASS_BUCKETS; i++) {
        if (seconds <= pass_bound[i].le) {
            m->pass_bucket[i]++;
            break;
        }
    }
    m->pass_count++;
    m->pass_sum += seconds;
}

double chatd_metrics_clock(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return NAN; /* observe_pass ignores it */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- writing the text format --------------------------------------------- */

/* The output and whether any write to it failed: the render functions
 * write on and check once at the end. */
struct out {
    struct evbuffer *buf;
    int failed;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;

    if (o->failed)
        return;
    va_start(ap, fmt);
    if (evbuffer_add_vprintf(o->buf, fmt, ap) < 0)
        o->failed = 1;
    va_end(ap);
}

/* The two comment lines that open a family. */
static void family(struct out *o, const char *name, const char *type,
                   const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct out *o, const char *name, uint64_t v)
{
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void sample_label(struct out *o, const char *name, const char *label,
                         const char *value, uint64_t v)
{
    put(o, "%s{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)v);
}

/*
 * A double as the shortest decimal that reads back as the same double
 * (0.1 is "0.1", not "0.10000000000000001"): Prometheus parses it with
 * Go's ParseFloat, and a person reads it too.
 */
static void format_double(char *buf, size_t size, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void sample_double(struct out *o, const char *name, double v)
{
    char num[32];

    format_double(num, sizeof num, v);
    put(o, "%s %s\n", name, num);
}

/* One family with a sample per label value, zeros included: a series that
 * exists from the start lets rate() see its first increment. */
static void labelled(struct out *o, const char *name, const char *type,
                     const char *help, const char *label,
                     const char *const *values, const uint64_t *v, size_t n)
{
    family(o, name, type, help);
    for (size_t i = 0; i < n; i++)
        sample_label(o, name, label, values[i], v[i]);
}

static void simple(struct out *o, const char *name, const char *type,
                   const char *help, uint64_t v)
{
    family(o, name, type, help);
    sample(o, name, v);
}

/* ---- chatd's metrics --------------------------------------------------- */

static void render_connections(struct out *o, const struct chatd_metrics *m)
{
    labelled(o, "chatd_connections_open", "gauge",
             "Connections open now, by transport (http: not upgraded to "
             "WebSocket).",
             "transport", transport_label, m->open, CHATD_TRANSPORTS);
    labelled(o, "chatd_connections_accepted_total", "counter",
             "Connections accepted, by transport (ws, wss: HTTP connections "
             "upgraded to WebSocket).",
             "transport", transport_label, m->accepted, CHATD_TRANSPORTS);
    labelled(o, "chatd_connections_rejected_total", "counter",
             "Connections turned away: server full, out of file descriptors, "
             "setup failed.",
             "reason", reject_label, m->rejected, CHATD_REJECTS);
}

static const char *disconnect_label(size_t i)
{
    if (i < BROKER_REASONS)
        return chat_close_reason_str(broker_reason[i]);
    return own_reason[i - BROKER_REASONS];
}

static void render_disconnects(struct out *o, const struct chatd_metrics *m)
{
    const char *name = "chatd_disconnects_total";

    family(o, name, "counter", "Connections ended, by reason.");
    for (size_t i = 0; i < CHATD_DISCONNECTS; i++)
        sample_label(o, name, "reason", disconnect_label(i),
                     m->disconnects[i]);
}

static void render_dropped(struct out *o, const chat_stats *st)
{
    static const char *const reason[] = {
        "slow_consumer", "rate_limit", "filter", "too_long", "bad_utf8",
    };
    const uint64_t v[] = {
        st->dropped, st->rate_limited, st->filtered, st->too_long,
        st->bad_utf8,
    };

    labelled(o, "chatd_lines_dropped_total", "counter",
             "Lines dropped: for slow consumers, sent too fast, by a filter, "
             "too long, invalid UTF-8.",
             "reason", reason, v, sizeof v / sizeof v[0]);
}

static void render_chat(struct out *o, const chat_stats *st)
{
    simple(o, "chatd_users", "gauge", "Users: connections holding a name.",
           st->named);
    simple(o, "chatd_rooms", "gauge", "Rooms that exist (each has a member).",
           st->rooms);
    simple(o, "chatd_messages_received_total", "counter",
           "Chat, /me and direct messages received and relayed.",
           st->messages);
    simple(o, "chatd_deliveries_total", "counter",
           "Lines queued to connections' output, all kinds.", st->deliveries);
    render_dropped(o, st);
}

static void render_bytes(struct out *o, const struct chatd_metrics *m,
                         const chat_stats *st)
{
    simple(o, "chatd_received_bytes_total", "counter",
           "Bytes read from client sockets.", m->bytes_received);
    simple(o, "chatd_sent_bytes_total", "counter",
           "Bytes written to client sockets.", m->bytes_sent);
    simple(o, "chatd_output_queued_bytes", "gauge",
           "Bytes waiting in connections' output queues.", st->bytes_queued);
}

static void render_pass(struct out *o, const struct chatd_metrics *m)
{
    const char *name = "chatd_loop_pass_duration_seconds";
    uint64_t below = 0;
    char sum[32];

    family(o, name, "histogram",
           "Time a loop pass took to write every ready connection.");
    for (size_t i = 0; i < CHATD_PASS_BUCKETS; i++) {
        below += m->pass_bucket[i];
        put(o, "%s_bucket{le=\"%s\"} %llu\n", name, pass_bound[i].text,
            (unsigned long long)below);
    }
    put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name,
        (unsigned long long)m->pass_count);
    format_double(sum, sizeof sum, m->pass_sum);
    put(o, "%s_sum %s\n", name, sum);
    put(o, "%s_count %llu\n", name, (unsigned long long)m->pass_count);
}

/* Cluster mode only: without --redis these series do not exist (a 0
 * would read as "the link is down"). */
static void render_cluster(struct out *o, const struct chatd_metrics *m,
                           const chat_stats *st)
{
    if (!m->cluster)
        return;
    simple(o, "chatd_cluster_up", "gauge",
           "1 while the link to Redis is up, else 0.", m->cluster_up);
    simple(o, "chatd_cluster_events_dropped_total", "counter",
           "Cluster events dropped: the queue toward Redis was full.",
           st->events_dropped);
    simple(o, "chatd_cluster_unsent_total", "counter",
           "Messages for other nodes not sent: the link to Redis was down.",
           st->cluster_unsent);
    simple(o, "chatd_cluster_messages_in_total", "counter",
           "Messages from other nodes applied.", st->remote_in);
    simple(o, "chatd_cluster_messages_invalid_total", "counter",
           "Messages from Redis refused as invalid.", st->remote_invalid);
    simple(o, "chatd_cluster_remote_users", "gauge",
           "Users on other nodes, as this node knows them.", st->remote_users);
    simple(o, "chatd_redis_reconnects_total", "counter",
           "Connections to Redis tried again after a failure or a loss.",
           m->redis_reconnects);
}

int chatd_metrics_render_chatd(const struct chatd_metrics *m,
                               const chat_stats *st, struct evbuffer *out)
{
    struct out o = {out, 0};

    render_connections(&o, m);
    render_disconnects(&o, m);
    render_chat(&o, st);
    render_bytes(&o, m, st);
    render_pass(&o, m);
    render_cluster(&o, m, st);
    return o.failed ? -1 : 0;
}

/* ---- process metrics ---------------------------------------------------- */

/* What /proc says about this process; have_* say what could be read. */
struct proc {
    int have_stat, have_start, have_fds, have_max_fds;
    double cpu_seconds, start_time;
    unsigned long long vsize, rss_bytes, open_fds, max_fds;
};

/* Read a small file whole into buf (NUL-terminated). 0 or -1. */
static int read_small(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

/*
 * Fields of /proc/self/stat, numbered as in proc(5). The command name
 * (field 2) is in parentheses and may itself hold spaces and ')', so
 * counting starts after the last ')' with field 3.
 */
static int stat_fields(const char *stat, const int *want,
                       unsigned long long *got, size_t n)
{
    const char *s = strrchr(stat, ')');
    int field = 3;
    size_t k = 0;

    if (!s || s[1] != ' ')
        return -1;
    s += 2;
    while (k < n && *s) {
        char *end;
        if (field == want[k]) {
            got[k++] = strtoull(s, &end, 10);
            if (end == s)
                return -1;
        }
        s = strchr(s, ' ');
        if (!s)
            break;
        s++;
        field++;
    }
    return k == n ? 0 : -1;
}

/* btime from /proc/stat: when the system booted, seconds since the epoch.
 * The file has a long line per interrupt, hence getline. */
static int boot_time(double *out)
{
    FILE *f = fopen("/proc/stat", "r");
    char *line = NULL;
    size_t cap = 0;
    int found = -1;

    if (!f)
        return -1;
    while (found != 0 && getline(&line, &cap, f) >= 0) {
        char *end;
        unsigned long long t;
        if (strncmp(line, "btime ", 6) != 0)
            continue;
        t = strtoull(line + 6, &end, 10);
        if (end != line + 6) {
            *out = (double)t;
            found = 0;
        }
    }
    free(line);
    fclose(f);
    return found;
}

static void read_stat(struct proc *p)
{
    /* utime, stime, starttime (clock ticks), vsize (bytes), rss (pages) */
    static const int want[] = {14, 15, 22, 23, 24};
    unsigned long long v[5];
    char stat[1024];
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    double btime;

    if (tick <= 0 || page <= 0 ||
        read_small("/proc/self/stat", stat, sizeof stat) != 0 ||
        stat_fields(stat, want, v, 5) != 0)
        return;
    p->have_stat = 1;
    p->cpu_seconds = (double)(v[0] + v[1]) / (double)tick;
    p->vsize = v[3];
    p->rss_bytes = v[4] * (unsigned long long)page;
    if (boot_time(&btime) == 0) {
        p->have_start = 1;
        p->start_time = btime + (double)v[2] / (double)tick;
    }
}

/* Entries of /proc/self/fd, less the one the listing itself holds. */
static void read_fds(struct proc *p)
{
    DIR *d = opendir("/proc/self/fd");
    const struct dirent *e;
    unsigned long long n = 0;
    char self[24];

    if (!d)
        return;
    snprintf(self, sizeof self, "%d", dirfd(d));
    /* readdir is safe on a stream of one's own; readdir_r, which cppcheck
     * suggests, is deprecated (glibc, POSIX 2024). */
    // cppcheck-suppress readdirCalled
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strcmp(e->d_name, self) != 0)
            n++;
    closedir(d);
    p->have_fds = 1;
    p->open_fds = n;
}

static void read_proc(struct proc *p)
{
    struct rlimit rl;

    memset(p, 0, sizeof *p);
    read_stat(p);
    read_fds(p);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        p->have_max_fds = 1;
        p->max_fds = (unsigned long long)rl.rlim_cur;
    }
}

/* The names and help texts are the Prometheus client libraries' own. */
int chatd_metrics_render_process(struct evbuffer *out)
{
    struct out o = {out, 0};
    struct proc p;

    read_proc(&p);
    if (p.have_stat) {
        family(&o, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.");
        sample_double(&o, "process_cpu_seconds_total", p.cpu_seconds);
        simple(&o, "process_virtual_memory_bytes", "gauge",
               "Virtual memory size in bytes.", p.vsize);
        simple(&o, "process_resident_memory_bytes", "gauge",
               "Resident memory size in bytes.", p.rss_bytes);
    }
    if (p.have_start) {
        family(&o, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.");
        sample_double(&o, "process_start_time_seconds", p.start_time);
    }
    if (p.have_fds)
        simple(&o, "process_open_fds", "gauge",
               "Number of open file descriptors.", p.open_fds);
    if (p.have_max_fds)
        simple(&o, "process_max_fds", "gauge",
               "Maximum number of open file descriptors.", p.max_fds);
    return o.failed ? -1 : 0;
}

int chatd_metrics_render(const struct chatd_metrics *m, const chat_broker *b,
                         struct evbuffer *out)
{
    /* Zeroed first: a libchat older than these headers fills only the
     * fields it knows (chat_broker_stats copies out_size bytes at most). */
    chat_stats st;

    memset(&st, 0, sizeof st);
    chat_broker_stats(b, &st, sizeof st);
    if (chatd_metrics_render_chatd(m, &st, out) != 0)
        return -1;
    return chatd_metrics_render_process(out);
}
