/*
 * chat-bench: what it tells the user. Errors are one line on stderr; the
 * progress line lives on stderr only when that is a terminal; the report
 * goes to stdout, as text or as one JSON object (--json) for scripts.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "bench.h"

void bench_progress_clear(struct bench *b)
{
    if (b->progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        b->progress_shown = 0;
    }
}

void bench_progress(struct bench *b, const char *fmt, ...)
{
    va_list ap;

    if (!b->tty)
        return;
    fputs("\r\033[Kchat-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    b->progress_shown = 1;
}

void bench_fatal(struct bench *b, const char *fmt, ...)
{
    va_list ap;

    b->exit_code = 1;
    if (b->fatal)
        return;
    b->fatal = 1;
    bench_progress_clear(b);
    fputs("chat-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (b->base)
        event_base_loopbreak(b->base);
}

void bench_human(double v, char *buf, size_t size)
{
    if (v >= 1e9)
        snprintf(buf, size, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, size, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, size, "%.1fk", v / 1e3);
    else
        snprintf(buf, size, "%.0f", v);
}

void bench_cpu(double *user, double *sys)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        *user = *sys = 0;
        return;
    }
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static unsigned long long u(uint64_t v)
{
    return (unsigned long long)v;
}

static const char *target_name(const struct bench *b)
{
    return b->opt.target == BENCH_TARGET_REDIS ? "redis" : "chatd";
}

/* A figure, or null when there was nothing to divide by. */
static void json_num(FILE *out, const char *key, double v, int decimals)
{
    fprintf(out, "\"%s\": ", key);
    if (v < 0)
        fputs("null", out);
    else
        fprintf(out, "%.*f", decimals, v);
    fputs(", ", out);
}

/* --server-pid figures; without it the keys are there, null. */
static void json_server(const struct bench *b, const struct bench_result *r,
                        FILE *out)
{
    int pid = b->opt.server_pid != 0;

    json_num(out, "server_cpu_s", pid ? r->server_cpu_s : -1, 3);
    json_num(out, "server_ns_per_delivery", r->server_ns_per_delivery, 1);
    json_num(out, "server_rss_kib_start", pid ? (double)b->srv_rss_start : -1,
             0);
    json_num(out, "server_rss_kib_idle", pid ? (double)b->srv_rss_idle : -1,
             0);
    json_num(out, "other_cpu_pct", r->other_cpu_pct, 1);
}

static void json_load(const struct bench *b, const struct bench_result *r,
                      FILE *out)
{
    const struct bench_counts *n = &b->n;

    fprintf(out, "{\"mode\": \"load\", \"target\": \"%s\", \"tls\": %s, "
            "\"clients\": %u, \"rooms\": %u, \"senders\": %u, "
            "\"size\": %u, ",
            target_name(b), b->opt.tls ? "true" : "false", b->opt.clients,
            b->opt.rooms, b->opt.senders, b->opt.size);
    if (b->opt.rate > 0)
        fprintf(out, "\"pacing\": \"rate\", \"rate\": %g, ", b->opt.rate);
    else
        fprintf(out, "\"pacing\": \"window\", \"window\": %u, \"ack\": \"%s\", ",
                b->opt.window,
                b->opt.ack == BENCH_ACK_RECEIVERS ? "receivers" : "server");
    fprintf(out, "\"setup_s\": %.3f, \"elapsed_s\": %.3f, \"sent\": %llu, "
            "\"accepted\": %llu, \"refused\": %llu, "
            "\"expected_deliveries\": %llu, \"deliveries\": %llu, "
            "\"expected_echoes\": %llu, \"echoes\": %llu, "
            "\"receiver_deliveries\": %llu, ",
            r->setup_s, r->elapsed_s, u(n->sent), u(r->accepted),
            u(r->refused), u(r->expected_deliveries), u(n->deliveries),
            u(r->expected_echoes), u(n->echoes), u(n->receiver_deliveries));
    fprintf(out, "\"dropped\": %llu, \"lost\": %llu, \"reordered\": %llu, "
            "\"duplicates\": %llu, \"foreign\": %llu, \"too_fast\": %llu, "
            "\"setup_dropped\": %llu, ",
            u(n->dropped), u(r->lost), u(n->reordered), u(n->duplicates),
            u(n->foreign), u(n->too_fast), u(n->setup_dropped));
    fprintf(out, "\"deliveries_per_s\": %.1f, \"messages_per_s\": %.1f, "
            "\"receiver_deliveries_per_s\": %.1f, "
            "\"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, "
            "\"max\": %.1f, \"mean\": %.1f}, ",
            r->deliveries_per_s, r->messages_per_s,
            r->receiver_deliveries_per_s, (double)r->p50 / 1e3,
            (double)r->p99 / 1e3, (double)r->p999 / 1e3, (double)r->max / 1e3,
            (double)r->mean / 1e3);
    json_server(b, r, out);
    fprintf(out, "\"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, "
            "\"cpu_pct\": %.1f, \"stalled\": %s, \"interrupted\": %s, "
            "\"error\": %s}\n",
            r->cpu_user_s, r->cpu_sys_s, r->cpu_pct,
            b->stalled ? "true" : "false", b->interrupted ? "true" : "false",
            b->fatal ? "true" : "false");
}

static void text_head(const struct bench *b, FILE *out)
{
    char pacing[64];

    if (b->opt.rate > 0)
        snprintf(pacing, sizeof pacing, "%g messages/s each", b->opt.rate);
    else
        snprintf(pacing, sizeof pacing, "window %u%s", b->opt.window,
                 b->opt.ack == BENCH_ACK_RECEIVERS ? ", acked by receivers"
                                                   : "");
    fprintf(out, "chat-bench: %s%s%u clients in %u room%s, %u sender%s, "
            "%u-byte messages, %s\n",
            b->opt.target == BENCH_TARGET_REDIS ? "redis pub/sub, " : "",
            b->opt.tls ? "over TLS, " : "",
            b->opt.clients, b->opt.rooms, b->opt.rooms == 1 ? "" : "s",
            b->opt.senders, b->opt.senders == 1 ? "" : "s", b->opt.size,
            pacing);
}

static void text_deliveries(const struct bench *b,
                            const struct bench_result *r, FILE *out)
{
    const struct bench_counts *n = &b->n;

    fprintf(out, "deliveries   %llu of %llu due: %.0f/s",
            u(n->deliveries), u(r->expected_deliveries), r->deliveries_per_s);
    if (b->opt.target == BENCH_TARGET_REDIS) {
        fputc('\n', out);
        return;
    }
    fprintf(out, "; echoes %llu of %llu\n", u(n->echoes),
            u(r->expected_echoes));
    if (n->receiver_deliveries != n->deliveries)
        fprintf(out, "receivers    %llu of those to clients that do not "
                "send: %.0f/s\n", u(n->receiver_deliveries),
                r->receiver_deliveries_per_s);
}

/* --server-pid: the figures that compare servers. */
static void text_server(const struct bench *b, const struct bench_result *r,
                        FILE *out)
{
    double grown = (double)(b->srv_rss_idle - b->srv_rss_start);

    if (!b->opt.server_pid)
        return;
    fprintf(out, "server       pid %ld: %.2f s cpu", b->opt.server_pid,
            r->server_cpu_s);
    if (r->server_ns_per_delivery >= 0)
        fprintf(out, ", %.0f ns per delivery to a receiver",
                r->server_ns_per_delivery);
    fprintf(out, "; RSS %ld KiB before, %ld KiB idle with every client "
            "(%.2f KiB each)\n", b->srv_rss_start, b->srv_rss_idle,
            grown / b->opt.clients);
    if (r->other_cpu_pct >= 0)
        fprintf(out, "machine      other processes used %.0f%% of one core\n",
                r->other_cpu_pct);
}

static void text_load(const struct bench *b, const struct bench_result *r,
                      FILE *out)
{
    const struct bench_counts *n = &b->n;

    text_head(b, out);
    fprintf(out, "setup        %.3f s\n", r->setup_s);
    fprintf(out, "sent         %llu messages in %.3f s: %.0f messages/s; "
            "%llu accepted, %llu refused\n",
            u(n->sent), r->elapsed_s, r->messages_per_s, u(r->accepted),
            u(r->refused));
    text_deliveries(b, r, out);
    fprintf(out, "latency      p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, "
            "max %.3f ms\n",
            (double)r->p50 / 1e6, (double)r->p99 / 1e6, (double)r->p999 / 1e6,
            (double)r->max / 1e6);
    fprintf(out, "dropped      %llu; lost %llu; reordered %llu; "
            "duplicates %llu; too-fast notices %llu\n",
            u(n->dropped), u(r->lost), u(n->reordered), u(n->duplicates),
            u(n->too_fast));
    fprintf(out, "cpu          %.2f s user + %.2f s sys: %.0f%% of one core\n",
            r->cpu_user_s, r->cpu_sys_s, r->cpu_pct);
    text_server(b, r, out);
    if (n->foreign)
        fprintf(out, "note         %llu %s were not from this run\n",
                u(n->foreign), b->opt.target == BENCH_TARGET_REDIS
                                   ? "messages" : "chat lines");
    if (n->setup_dropped)
        fprintf(out, "note         the server dropped %llu lines for slow "
                "readers during the setup\n", u(n->setup_dropped));
    if (b->stalled)
        fprintf(out, "note         nothing arrived for %g s: gave up waiting\n",
                b->opt.drain_timeout);
    if (n->too_fast)
        fprintf(out, "note         the server's rate limit refused lines; "
                "run chatd with --rate 0\n");
}

void bench_report_load(struct bench *b, FILE *out)
{
    struct bench_result r;

    bench_load_result(b, &r);
    if (b->opt.json)
        json_load(b, &r, out);
    else
        text_load(b, &r, out);
    fflush(out);
}
