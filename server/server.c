/*
 * chatd - the event loop: flush pass, broker timer, signals (the
 * listeners are listener.c's).
 *
 * One pass of the loop runs the I/O callbacks (conn.c feeds input to the
 * broker and schedules a flush), then the flush event, which writes every
 * peer the broker reports ready, once. The broker's timeouts run from a
 * single timer re-armed after each flush, never per message.
 *
 * The flush event has the same priority as I/O, on purpose. event_active()
 * appends it to the active queue behind every I/O callback already queued
 * for this pass, so it still runs once, after them. A lower priority
 * (event_base_priority_init) would starve it: libevent runs a lower
 * priority only in a pass where no higher one is active, so while clients
 * keep sending, nothing would be written, outboxes would grow and readers
 * would be dropped as slow consumers. (Measured: 3 clients blasting 60,000
 * lines, a reader got 4,848 of them with a priority-1 flush and all of
 * them this way.)
 */
#define _POSIX_C_SOURCE 200809L

#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "log.h"
#include "redis.h"
#include "tls.h"

uint64_t chatd_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void chatd_format_addr(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(buf, size, "(unknown address)");
    }
}

static struct timeval ms_to_tv(uint64_t ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    return tv;
}

void chatd_server_schedule_flush(struct chatd_server *srv)
{
    /* A no-op while the event is already active: one flush per pass. */
    event_active(srv->flush_ev, EV_TIMEOUT, 0);
}

/*
 * The shutdown is over: end the loop, unless the Redis link first has
 * this node's names and lease to give back (chatd_redis_leave: bounded,
 * and nothing to wait for when the link is down). Then it ends in
 * chatd_server_redis_left.
 */
static void stop_loop(struct chatd_server *srv)
{
    if (srv->redis_leaving)
        return;
    srv->redis_leaving = 1;
    if (!chatd_redis_leave(srv->redis))
        event_base_loopexit(srv->base, NULL);
}

void chatd_server_redis_left(struct chatd_server *srv)
{
    event_base_loopexit(srv->base, NULL);
}

void chatd_server_conn_gone(struct chatd_server *srv)
{
    if (srv->stopping && srv->nconns == 0)
        stop_loop(srv);
}

/* Arm the timer for the broker's deadline if that is earlier than what
 * is armed; a later deadline just makes the timer fire early, harmlessly. */
static void arm_timer(struct chatd_server *srv)
{
    uint64_t due = chat_broker_next_deadline(srv->broker);
    uint64_t now, wait;

    if (due == CHAT_NO_DEADLINE || due >= srv->timer_at)
        return;
    now = chatd_now_ms();
    wait = due > now ? due - now : 0;
    struct timeval tv = ms_to_tv(wait);
    if (evtimer_add(srv->timer_ev, &tv) == 0)
        srv->timer_at = due;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_server *srv = arg;
    chat_peer *p;

    (void)fd;
    (void)what;
    double t0 = chatd_metrics_clock();
    srv->passes++;
    while ((p = chat_broker_next_ready(srv->broker)) != NULL)
        chatd_conn_pump(chat_peer_user(p));
    chatd_redis_pump(srv->redis); /* the cluster events of this pass */
    arm_timer(srv);
    chatd_metrics_observe_pass(&srv->metrics, chatd_metrics_clock() - t0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_server *srv = arg;

    (void)fd;
    (void)what;
    srv->timer_at = CHAT_NO_DEADLINE;
    chat_broker_tick(srv->broker, chatd_now_ms());
    chatd_server_schedule_flush(srv); /* writes what expired, re-arms */
}

/*
 * Heap and the kernel. glibc gives the top of the heap back whenever more
 * than M_TRIM_THRESHOLD (128 KiB) is free there, and a busy fan-out frees
 * that much every loop pass only to fault it back in on the next: chatd
 * raises the threshold (see chatd_tune_malloc) and instead trims once
 * when a check finds that no pass ran since the last one, so an idle
 * server still returns what a join storm or a flood took.
 */
#define TRIM_CHECK_MS 500

void chatd_tune_malloc(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

static void on_trim(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_server *srv = arg;

    (void)fd;
    (void)what;
    if (srv->passes != srv->passes_seen) {
        srv->passes_seen = srv->passes;
        srv->trimmed = 0;
        return;
    }
    if (!srv->trimmed) {
#ifdef __GLIBC__
        malloc_trim(0);
#endif
        srv->trimmed = 1;
    }
}

/* ---- shutdown ------------------------------------------------------------ */

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_server *srv = arg;

    (void)fd;
    (void)what;
    log_info("shutdown grace period over: closing %zu connection(s)",
             srv->nconns);
    if (srv->redis && !srv->redis_leaving) {
        stop_loop(srv);
        return;
    }
    event_base_loopbreak(srv->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct chatd_server *srv = arg;
    const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";

    (void)what;
    if (srv->stopping) {
        log_info("%s during shutdown: exiting now", name);
        event_base_loopbreak(srv->base);
        return;
    }
    srv->stopping = 1;
    log_info("%s: shutting down (%zu connection(s))", name, srv->nconns);
    chatd_listeners_close(srv);
    chat_broker_shutdown(srv->broker, chatd_now_ms());
    chatd_conns_stop(srv);
    chatd_server_schedule_flush(srv);
    if (srv->nconns == 0) {
        stop_loop(srv);
        return;
    }
    struct timeval tv = ms_to_tv(srv->cfg.grace_ms);
    /* The grace timer is what bounds a shutdown stuck on clients that do
     * not read: without it, stop now rather than maybe never. */
    if (evtimer_add(srv->grace_ev, &tv) != 0) {
        log_warn("cannot arm the shutdown grace timer: closing %zu "
                 "connection(s) now", srv->nconns);
        event_base_loopbreak(srv->base);
    }
}

/* ---- setup --------------------------------------------------------------- */

/* SIGHUP: the certificate and key again, for new connections; those
 * already open keep their session. A reload that fails keeps the old. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct chatd_server *srv = arg;
    char err[512];

    (void)sig;
    (void)what;
    if (!srv->tls_ctx)
        return;
    if (chatd_tls_ctx_reload(srv->tls_ctx, srv->cfg.tls_cert, srv->cfg.tls_key,
                             err, sizeof err) == 0)
        log_info("SIGHUP: reloaded %s and %s", srv->cfg.tls_cert,
                 srv->cfg.tls_key);
    else
        log_warn("SIGHUP: keeping the old certificate: %s", err);
}

static int make_events(struct chatd_server *srv)
{
    struct event_base *base = srv->base;

    srv->flush_ev = event_new(base, -1, 0, on_flush, srv);
    srv->timer_ev = evtimer_new(base, on_timer, srv);
    srv->grace_ev = evtimer_new(base, on_grace, srv);
    srv->trim_ev = event_new(base, -1, EV_PERSIST, on_trim, srv);
    srv->sig_ev[0] = evsignal_new(base, SIGINT, on_signal, srv);
    srv->sig_ev[1] = evsignal_new(base, SIGTERM, on_signal, srv);
    srv->sig_ev[2] = evsignal_new(base, SIGHUP, on_hup, srv);
    if (!srv->flush_ev || !srv->timer_ev || !srv->grace_ev ||
        !srv->trim_ev || !srv->sig_ev[0] || !srv->sig_ev[1] ||
        !srv->sig_ev[2])
        return -1;
    struct timeval trim_every = ms_to_tv(TRIM_CHECK_MS);
    if (event_add(srv->sig_ev[0], NULL) != 0 ||
        event_add(srv->sig_ev[1], NULL) != 0 ||
        event_add(srv->sig_ev[2], NULL) != 0 ||
        event_add(srv->trim_ev, &trim_every) != 0)
        return -1;
    return 0;
}

/*
 * The event base. With epoll's changelist, adding and deleting an event
 * within one loop pass (a write event armed for a full socket that then
 * drains) costs no epoll_ctl at all: changes are merged and applied once
 * before the next wait.
 */
static struct event_base *new_base(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

static int make_common_timeouts(struct chatd_server *srv)
{
    struct timeval linger = ms_to_tv(CHATD_LINGER_MS);
    struct timeval http = ms_to_tv(srv->cfg.http_timeout_ms);
    struct timeval tls = ms_to_tv(srv->cfg.tls_timeout_ms);

    srv->linger_tv = event_base_init_common_timeout(srv->base, &linger);
    srv->http_tv = event_base_init_common_timeout(srv->base, &http);
    srv->tls_tv = event_base_init_common_timeout(srv->base, &tls);
    return srv->linger_tv && srv->http_tv && srv->tls_tv ? 0 : -1;
}

/* A tls:// or https:// listener needs the certificate and key: loaded
 * before anything is bound, so a bad file leaves nothing listening. */
static int load_tls(struct chatd_server *srv,
                    const struct chatd_listen_spec *specs, size_t n)
{
    char err[512];
    int needed = 0;

    for (size_t i = 0; i < n; i++)
        needed |= chatd_scheme_tls(specs[i].scheme);
    if (!needed)
        return 0;
    srv->tls_ctx = chatd_tls_ctx_new(srv->cfg.tls_cert, srv->cfg.tls_key, err,
                                     sizeof err);
    if (!srv->tls_ctx) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}


int chatd_server_slot(struct chatd_server *srv, int take)
{
    uint64_t max = srv->cfg.max_clients;

    if (take) {
        chat_stats st;
        chat_broker_stats(srv->broker, &st, sizeof st);
        if (max && st.peers + srv->http_slots >= max)
            return -1;
        srv->http_slots++;
    } else if (srv->http_slots) {
        srv->http_slots--;
    }
    /* The broker counts them against the cap for newcomers it admits. */
    (void)chat_broker_set_option(srv->broker, CHAT_OPT_RESERVED_PEERS,
                                 (int64_t)srv->http_slots);
    return 0;
}

int chatd_server_init(struct chatd_server *srv, chat_broker *b,
                      const struct chatd_server_config *cfg,
                      const struct chatd_listen_spec *specs, size_t nspecs)
{
    memset(srv, 0, sizeof *srv);
    srv->broker = b;
    srv->cfg = *cfg;
    chatd_metrics_init(&srv->metrics);
    srv->timer_at = CHAT_NO_DEADLINE;
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (srv->reserve_fd < 0)
        log_warn("no spare descriptor (%s): clients past the fd limit "
                 "will wait instead of being told the server is full",
                 strerror(errno));
    srv->scratch = malloc(CHATD_SCRATCH);
    if (!srv->scratch) {
        log_error("out of memory");
        return -1;
    }
    srv->base = new_base();
    if (!srv->base || make_events(srv) != 0 || make_common_timeouts(srv) != 0) {
        log_error("cannot set up the event loop");
        return -1;
    }
    if (load_tls(srv, specs, nspecs) != 0)
        return -1;
    return chatd_listeners_open(srv, specs, nspecs);
}

int chatd_server_run(struct chatd_server *srv)
{
    if (event_base_dispatch(srv->base) < 0) {
        log_error("the event loop failed");
        return 1;
    }
    chat_stats st;
    chat_broker_stats(srv->broker, &st, sizeof st);
    /* How well output coalesces: the figure the kernel's cost rides on. */
    log_info("exiting: %llu lines delivered in %llu writes (%.1f per write), "
             "%llu dropped for slow readers",
             (unsigned long long)st.deliveries,
             (unsigned long long)srv->writes,
             srv->writes ? (double)st.deliveries / (double)srv->writes : 0.0,
             (unsigned long long)st.dropped);
    return 0;
}

static void free_event(struct event *ev)
{
    if (ev)
        event_free(ev);
}

void chatd_server_free(struct chatd_server *srv)
{
    chatd_redis_free(srv->redis); /* before the broker and the base */
    srv->redis = NULL;
    while (srv->conns)
        chatd_conn_discard(srv->conns);
    chat_broker_free(srv->broker);
    free(srv->scratch);
    srv->broker = NULL;
    chatd_listeners_free(srv);
    free_event(srv->flush_ev);
    free_event(srv->timer_ev);
    free_event(srv->grace_ev);
    free_event(srv->trim_ev);
    free_event(srv->sig_ev[0]);
    free_event(srv->sig_ev[1]);
    free_event(srv->sig_ev[2]);
    chatd_tls_ctx_free(srv->tls_ctx);
    if (srv->reserve_fd >= 0)
        close(srv->reserve_fd);
    if (srv->base)
        event_base_free(srv->base);
}
