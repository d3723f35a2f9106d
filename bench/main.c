/* chat-bench: load generator and bot driver for chatd. See doc/chat-bench.1. */
#define _POSIX_C_SOURCE 200809L

#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"
#include "fdlimit.h"
#include "sigpipe.h"

#define FD_SPARE 32          /* stdio, the event loop's own descriptors */
#define SETUP_STALL_S 20     /* no client got into its room for this long */
#define KEEPALIVE_S 60       /* an empty line resets chatd's idle timer */
/*
 * A connection with no greeting after NUDGE_S gets an empty line (which
 * chatd ignores). When the server's accept queue overflowed and the kernel
 * answered with a SYN cookie, our side is connected but the server's is
 * not, and stays so until we send something: the segment completes the
 * handshake (or draws a reset, which is then reported).
 */
#define NUDGE_S 2
/*
 * Once every client is in, the senders wait for --settle seconds of
 * silence (at most SETTLE_MAX_S plus ten times that): the join notices
 * still on their way, and the dropped notices of clients that were slow
 * during the join storm, then arrive before the first message and are not
 * mixed into its accounting; and a server that gives memory back once it
 * is quiet has done so when --server-pid reads its size.
 */
#define SETTLE_MAX_S 10

void bench_done(struct bench *b)
{
    event_base_loopbreak(b->base);
}

/* Raise the soft fd limit to the hard one; 0 if there are enough fds. */
static int fd_check(struct bench *b)
{
    struct rlimit rl;
    unsigned long long need = (unsigned long long)b->opt.clients + FD_SPARE;

    /* Not raised: the limit as it is may still be enough; said if not. */
    chatp_raise_fd_limit(&rl);
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return 0;
    bench_fatal(b, "%u clients need %llu file descriptors, but the limit is "
                "%llu (hard limit %llu; see ulimit -n)", b->opt.clients, need,
                (unsigned long long)rl.rlim_cur,
                (unsigned long long)rl.rlim_max);
    return -1;
}

/* ---- the tick -------------------------------------------------------------- */

static void setup_stalled(struct bench *b)
{
    const struct bench_conn *stuck = NULL;

    for (unsigned i = 0; i < b->started && !stuck; i++)
        if (b->conns[i].state == CONN_GREETING ||
            b->conns[i].state == CONN_JOINING ||
            b->conns[i].state == CONN_HANDSHAKE)
            stuck = &b->conns[i];
    if (stuck && stuck->state == CONN_HANDSHAKE)
        bench_fatal(b, "setup stalled: %u of %u clients in their rooms; "
                    "client %u's TLS handshake never finished", b->joined,
                    b->opt.clients, stuck->id + 1);
    else if (stuck && stuck->last_line[0])
        bench_fatal(b, "setup stalled: %u of %u clients in their rooms; "
                    "client %u's last line: %s", b->joined, b->opt.clients,
                    stuck->id + 1, stuck->last_line);
    else if (stuck && stuck->state == CONN_GREETING && !stuck->name[0])
        bench_fatal(b, "setup stalled: %u of %u clients in their rooms; no "
                    "greeting from the server (is chatd in --login mode?)",
                    b->joined, b->opt.clients);
    else
        bench_fatal(b, "setup stalled: %u of %u clients in their rooms",
                    b->joined, b->opt.clients);
}

/* The idle keepalive and the nudge: an empty line where one is due. */
static void keepalive(struct bench *b)
{
    uint64_t idle = (uint64_t)KEEPALIVE_S * 1000000000u;
    uint64_t nudge = (uint64_t)NUDGE_S * 1000000000u;

    for (unsigned i = 0; i < b->started; i++) {
        struct bench_conn *c = &b->conns[i];
        uint64_t quiet = b->now_ns - c->last_send_ns;

        if ((c->state == CONN_READY && quiet > idle) ||
            (c->state == CONN_GREETING && !c->got_data && quiet > nudge)) {
            bench_send(c, "\n", 1);
            bench_flush(c);
        }
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;

    (void)fd;
    (void)what;
    b->ticks++;
    b->now_ns = bench_now_ns();
    if (b->ticks % (1000 / TICK_MS) == 0)
        keepalive(b);
    if (b->settling && b->phase == PHASE_SETUP) {
        double quiet = (double)(b->now_ns - b->last_rx_ns) / 1e9;
        double waited = (double)(b->now_ns - b->setup_end_ns) / 1e9;

        if (quiet >= b->opt.settle ||
            waited >= SETTLE_MAX_S + 10 * b->opt.settle) {
            b->settling = 0;
            bench_load_start(b);
        }
        return;
    }
    if (b->phase == PHASE_SETUP) {
        if (b->now_ns - b->last_setup_ns > SETUP_STALL_S * 1000000000ull) {
            setup_stalled(b);
            return;
        }
        if (b->ticks % (1000 / TICK_MS) == 0)
            bench_progress(b, "connecting: %u of %u clients in their rooms",
                           b->joined, b->opt.clients);
    }
    if (b->opt.bots)
        bench_bots_tick(b);
    else
        bench_load_tick(b);
}

/* ---- signals --------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct bench *b = arg;

    (void)sig;
    (void)what;
    if (++b->interrupted > 1) { /* a second one: out at once */
        b->exit_code = 130;
        bench_done(b);
        return;
    }
    if (b->opt.bots)
        bench_bots_stop(b);
    else if (b->phase == PHASE_SETUP)
        bench_fatal(b, "interrupted during setup (%u of %u clients in their "
                    "rooms)", b->joined, b->opt.clients);
    else
        bench_load_stop_sending(b); /* drain, then report */
}

static void on_bots_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench_bots_stop(arg);
}

/* ---- setup and teardown ---------------------------------------------------- */

static int add_timer(struct bench *b, struct event **ev, short flags,
                     event_callback_fn fn, double secs)
{
    struct timeval tv;

    tv.tv_sec = (time_t)secs;
    tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
    *ev = event_new(b->base, -1, flags, fn, b);
    return *ev && event_add(*ev, &tv) == 0 ? 0 : -1;
}

/* --server-pid: the server's size before the first client. */
static int server_check(struct bench *b)
{
    double cpu;

    if (!b->opt.server_pid ||
        bench_proc_read(b->opt.server_pid, &cpu, &b->srv_rss_start) == 0)
        return 0;
    bench_fatal(b, "cannot read /proc/%ld: no such process, or not Linux",
                b->opt.server_pid);
    return -1;
}

static int start(struct bench *b, struct event **sigs)
{
    if (server_check(b) < 0 || bench_tls_init(b) < 0)
        return 0; /* the error is printed; nothing to run */
    b->conns = calloc(b->opt.clients, sizeof *b->conns);
    if (!b->conns)
        return -1;
    for (unsigned i = 0; i < b->opt.clients; i++) {
        b->conns[i].b = b;
        b->conns[i].id = i;
        b->conns[i].fd = -1;
        b->conns[i].room = i % b->opt.rooms;
    }
    if ((b->opt.bots ? bench_bots_init(b) : bench_load_init(b)) < 0)
        return -1;
    sigs[0] = evsignal_new(b->base, SIGINT, on_signal, b);
    sigs[1] = evsignal_new(b->base, SIGTERM, on_signal, b);
    if (!sigs[0] || !sigs[1] || event_add(sigs[0], NULL) < 0 ||
        event_add(sigs[1], NULL) < 0 ||
        add_timer(b, &b->tick_ev, EV_PERSIST, on_tick, TICK_MS / 1000.0) < 0)
        return -1;
    if (b->opt.bots && b->opt.duration > 0 &&
        add_timer(b, &b->stop_ev, 0, on_bots_stop, b->opt.duration) < 0)
        return -1;
    b->setup_start_ns = b->last_setup_ns = b->now_ns = bench_now_ns();
    bench_connect_more(b);
    return 0;
}

static void report(struct bench *b)
{
    bench_progress_clear(b);
    if (b->exit_code == 130)
        return;
    if (b->opt.bots) {
        if (b->bots && b->joined > 0)
            bench_report_bots(b, stdout);
        return;
    }
    if (b->start_ns == 0)
        return; /* never got to send */
    bench_load_cut_short(b); /* if an error did */
    bench_report_load(b, stdout);
}

static void teardown(struct bench *b, struct event **sigs)
{
    for (int i = 0; i < 2; i++)
        if (sigs[i])
            event_free(sigs[i]);
    if (b->tick_ev)
        event_free(b->tick_ev);
    if (b->send_ev)
        event_free(b->send_ev);
    if (b->stop_ev)
        event_free(b->stop_ev);
    bench_bots_free(b);
    bench_load_free(b);
    bench_conns_free(b);
    bench_tls_free(b);
    if (b->ai_list)
        freeaddrinfo(b->ai_list);
    if (b->base)
        event_base_free(b->base);
}

int main(int argc, char **argv)
{
    static struct bench bench; /* big (histograms): not on the stack */
    struct bench *b = &bench;
    struct event *sigs[2] = {NULL, NULL};

    switch (bench_parse_args(&b->opt, argc, argv, stdout, stderr)) {
    case BENCH_ARGS_DONE:
        return 0;
    case BENCH_ARGS_USAGE:
        return 2;
    case BENCH_ARGS_RUN:
        break;
    }
    /* A write to a socket the server closed must be an error, not death. */
    chatp_ignore_sigpipe();
    b->tty = isatty(STDERR_FILENO);
    if (fd_check(b) < 0)
        return 1;
    b->base = event_base_new();
    if (!b->base) {
        fprintf(stderr, "chat-bench: cannot start the event loop\n");
        return 1;
    }
    if (bench_resolve(b) == 0) {
        if (start(b, sigs) < 0)
            bench_fatal(b, "out of memory");
        else if (!b->fatal) /* the first connect may fail at once */
            event_base_dispatch(b->base);
    }
    report(b);
    teardown(b, sigs);
    return b->exit_code;
}
