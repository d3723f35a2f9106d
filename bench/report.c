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

static void json_load(const struct bench *b, const struct bench_result *r,
                      FILE *out)
{
    const struct bench_counts *n = &b->n;

    fprintf(out, "{\"mode\": \"load\", \"clients\": %u, \"rooms\": %u, "
            "\"senders\": %u, \"size\": %u, ",
            b->opt.clients, b->opt.rooms, b->opt.senders, b->opt.size);
    if (b->opt.rate > 0)
        fprintf(out, "\"pacing\": \"rate\", \"rate\": %g, ", b->opt.rate);
    else
        fprintf(out, "\"pacing\": \"window\", \"window\": %u, ", b->opt.window);
    fprintf(out, "\"setup_s\": %.3f, \"elapsed_s\": %.3f, \"sent\": %llu, "
            "\"accepted\": %llu, \"refused\": %llu, "
            "\"expected_deliveries\": %llu, \"deliveries\": %llu, "
            "\"expected_echoes\": %llu, \"echoes\": %llu, ",
            r->setup_s, r->elapsed_s, u(n->sent), u(r->accepted),
            u(r->refused), u(r->expected_deliveries), u(n->deliveries),
            u(r->expected_echoes), u(n->echoes));
    fprintf(out, "\"dropped\": %llu, \"lost\": %llu, \"reordered\": %llu, "
            "\"duplicates\": %llu, \"foreign\": %llu, \"too_fast\": %llu, "
            "\"setup_dropped\": %llu, ",
            u(n->dropped), u(r->lost), u(n->reordered), u(n->duplicates),
            u(n->foreign), u(n->too_fast), u(n->setup_dropped));
    fprintf(out, "\"deliveries_per_s\": %.1f, \"messages_per_s\": %.1f, "
            "\"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, "
            "\"max\": %.1f, \"mean\": %.1f}, ",
            r->deliveries_per_s, r->messages_per_s, (double)r->p50 / 1e3,
            (double)r->p99 / 1e3, (double)r->p999 / 1e3, (double)r->max / 1e3,
            (double)r->mean / 1e3);
    fprintf(out, "\"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, "
            "\"cpu_pct\": %.1f, \"stalled\": %s, \"interrupted\": %s, "
            "\"error\": %s}\n",
            r->cpu_user_s, r->cpu_sys_s, r->cpu_pct,
            b->stalled ? "true" : "false", b->interrupted ? "true" : "false",
            b->fatal ? "true" : "false");
}

static void text_load(const struct bench *b, const struct bench_result *r,
                      FILE *out)
{
    const struct bench_counts *n = &b->n;
    char pacing[64];

    if (b->opt.rate > 0)
        snprintf(pacing, sizeof pacing, "%g messages/s each", b->opt.rate);
    else
        snprintf(pacing, sizeof pacing, "window %u", b->opt.window);
    fprintf(out, "chat-bench: %u clients in %u room%s, %u sender%s, "
            "%u-byte messages, %s\n",
            b->opt.clients, b->opt.rooms, b->opt.rooms == 1 ? "" : "s",
            b->opt.senders, b->opt.senders == 1 ? "" : "s", b->opt.size,
            pacing);
    fprintf(out, "setup        %.3f s\n", r->setup_s);
    fprintf(out, "sent         %llu messages in %.3f s: %.0f messages/s; "
            "%llu accepted, %llu refused\n",
            u(n->sent), r->elapsed_s, r->messages_per_s, u(r->accepted),
            u(r->refused));
    fprintf(out, "deliveries   %llu of %llu due: %.0f/s; echoes %llu of %llu\n",
            u(n->deliveries), u(r->expected_deliveries), r->deliveries_per_s,
            u(n->echoes), u(r->expected_echoes));
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
    if (n->foreign)
        fprintf(out, "note         %llu chat lines were not from this run\n",
                u(n->foreign));
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
