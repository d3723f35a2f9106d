/*
 * chatd - a line-based chat server: flags, process setup, then the loop.
 *
 * Everything users see comes from the libchat broker; chatd maps flags to
 * broker options and sockets to broker calls (server.c, conn.c).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <libchat/chat.h>

#include "fdlimit.h"
#include "filter.h"
#include "log.h"
#include "netaddr.h"
#include "options.h"
#include "redis.h"
#include "redis_tls.h"
#include "server.h"
#include "sigpipe.h"

/* Descriptors kept free of clients: stdio, listener, the event loop's
 * own (epoll, signal pipe), the spare for EMFILE, and some slack. */
#define FD_RESERVE 16

/* Raise the soft fd limit to the hard one; returns the soft limit in
 * effect, or 0 when it is unknown or unlimited. */
static rlim_t raise_fd_limit(void)
{
    struct rlimit rl;

    if (chatp_raise_fd_limit(&rl) != 0)
        log_debug("cannot raise the fd limit to %llu: %s",
                  (unsigned long long)rl.rlim_max, strerror(errno));
    return rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur;
}

/* --max-clients default: what the fd limit allows (0: no cap). */
static int64_t default_max_clients(rlim_t fds)
{
    if (fds == 0)
        return 0;
    if (fds > (rlim_t)INT32_MAX)
        return INT32_MAX;
    if (fds <= (rlim_t)FD_RESERVE * 2)
        return (int64_t)fds / 2;
    return (int64_t)fds - FD_RESERVE;
}

/* Different random names on every run: mix kernel randomness, the
 * clock and the pid (each alone would do; together nothing is lost). */
static int64_t make_seed(void)
{
    uint64_t seed = 0;
    struct timespec ts;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        if (read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed)
            seed = 0;
        close(fd);
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    seed ^= (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^
            ((uint64_t)getpid() << 40);
    return (int64_t)(seed >> 1); /* options are non-negative */
}

static int set_option(chat_broker *b, chat_option o, int64_t v,
                      const char *flag)
{
    int err;

    if (v == CHATD_UNSET)
        return 0;
    err = chat_broker_set_option(b, o, v);
    if (err == CHAT_OK)
        return 0;
    fprintf(stderr, "chatd: value for %s rejected: %s\n", flag,
            chat_strerror(err));
    return -1;
}

static int apply_options(chat_broker *b, const struct chatd_options *o)
{
    if (set_option(b, CHAT_OPT_SEED, make_seed(), "the seed") ||
        set_option(b, CHAT_OPT_LOGIN_MODE, o->login, "--login") ||
        set_option(b, CHAT_OPT_HISTORY, o->history, "--history") ||
        set_option(b, CHAT_OPT_RATE, o->rate, "--rate") ||
        set_option(b, CHAT_OPT_BURST, o->burst, "--burst") ||
        set_option(b, CHAT_OPT_IDLE_TIMEOUT_MS, o->idle_ms, "--idle-timeout") ||
        set_option(b, CHAT_OPT_LOGIN_TIMEOUT_MS, o->login_ms,
                   "--login-timeout") ||
        set_option(b, CHAT_OPT_HIGH_WATER, o->high_water, "--high-water") ||
        set_option(b, CHAT_OPT_WRITE_TIMEOUT_MS, o->write_ms,
                   "--write-timeout") ||
        set_option(b, CHAT_OPT_MAX_PEERS, o->max_clients, "--max-clients"))
        return -1;
    if (o->room && chat_broker_set_default_room(b, o->room) != CHAT_OK) {
        fprintf(stderr, "chatd: invalid value '%s' for --room: expected "
                "2-24 letters, digits, _ or -\n", o->room);
        return -1;
    }
    return 0;
}

/* Returns an exit status: 0 with *out set, 1 (no memory) or 2 (a value). */
static int make_broker(const struct chatd_options *o, chat_broker **out)
{
    chat_broker *b;
    int err = chat_broker_new(&b, NULL);

    if (err != CHAT_OK) {
        log_error("cannot create the broker: %s", chat_strerror(err));
        return 1;
    }
    if (apply_options(b, o) != 0) {
        chat_broker_free(b);
        return 2;
    }
    *out = b;
    return 0;
}

/* The broker's CHAT_OPT_HISTORY default (broker.h): the Redis link keeps
 * as many lines per room as the broker does. */
#define BROKER_DEFAULT_HISTORY 20

/* rediss://: the TLS relay, its files read and its unix socket made
 * before the loop runs (redis_tls.h). Returns 0 with *out set, or 2 after
 * a message (a file that cannot be used, no temporary directory). */
static int redis_relay(const struct chatd_options *o, struct chatd_rtls **out)
{
    const struct chatd_redis_config *c = &o->redis;
    struct chatd_rtls_config tc = {
        .host = c->host, .addr = c->addr, .port = c->port,
        .cafile = o->redis_cafile, .cert = o->redis_cert,
        .key = o->redis_key, .insecure = o->redis_insecure,
    };
    char err[600];

    *out = chatd_rtls_new(&tc, err, sizeof err);
    if (*out)
        return 0;
    fprintf(stderr, "chatd: --redis %s: %s\n", o->redis_url, err);
    return 2;
}

/* --redis: the link's whole configuration, the password file read, the
 * node id made and the host resolved (once: the loop never waits on DNS),
 * and for rediss:// the relay in *rtls (else NULL). Returns 0, or 2 after
 * a message (a bad file, a host that does not resolve). */
static int redis_config(struct chatd_options *o, struct chatd_rtls **rtls)
{
    struct chatd_redis_config *c = &o->redis;
    char err[600];

    if (o->redis_password_file &&
        chatd_redis_read_password(o->redis_password_file, c, err,
                                  sizeof err) != 0) {
        fprintf(stderr, "chatd: --redis-password-file: %s\n", err);
        return 2;
    }
    if (o->node_id) {
        snprintf(c->node_id, sizeof c->node_id, "%s", o->node_id);
    } else if (chatd_redis_random_id(c->node_id) != 0) {
        fprintf(stderr, "chatd: cannot make a node id: %s (use --node-id)\n",
                strerror(errno));
        return 2;
    }
    c->history = o->history == CHATD_UNSET ? BROKER_DEFAULT_HISTORY
                                           : (uint64_t)o->history;
    if (chatd_redis_resolve(c, err, sizeof err) != 0) {
        fprintf(stderr, "chatd: --redis: %s\n", err);
        return 2;
    }
    return c->tls ? redis_relay(o, rtls) : 0;
}

/* Resolve every listener's address before anything is bound. */
static int resolve_listeners(struct chatd_options *o)
{
    for (size_t i = 0; i < o->nlisteners; i++) {
        if (chatd_scheme_tls(o->listeners[i].scheme) &&
            (!o->tls_cert || !o->tls_key)) {
            fprintf(stderr, "chatd: %s needs --tls-cert and --tls-key\n",
                    o->listeners[i].text);
            return -1;
        }
        if (chatd_listen_resolve(&o->listeners[i]) != 0)
            return -1;
    }
    return 0;
}

static struct chatd_server_config server_config(const struct chatd_options *o)
{
    struct chatd_server_config cfg;

    cfg.grace_ms = (uint64_t)o->grace_ms;
    cfg.max_clients = o->max_clients > 0 ? (uint64_t)o->max_clients : 0;
    cfg.http_timeout_ms = (uint64_t)o->http_timeout_ms;
    cfg.http_head_max = (size_t)o->http_head_max;
    cfg.ws_origin = o->ws_origin;
    cfg.tls_cert = o->tls_cert;
    cfg.tls_key = o->tls_key;
    cfg.tls_timeout_ms = (uint64_t)o->tls_timeout_ms;
    cfg.tls_handshakes = (unsigned)o->tls_handshakes;
    return cfg;
}

/* --filter-exec's program starts before the loop runs: one that cannot
 * be started at all keeps chatd from running (exit 1). */
static int start_filter(const struct chatd_options *o,
                        struct chatd_server *srv, struct chatd_filter **out)
{
    struct chatd_filter_config fc;

    if (!o->filter_cmd)
        return 0;
    fc.cmd = o->filter_cmd;
    fc.fallback_allow = o->filter_allow;
    fc.timeout_ms = (uint64_t)o->filter_timeout_ms;
    return chatd_filter_start(out, srv, &fc);
}

static int serve(struct chatd_options *o)
{
    chat_broker *b;
    struct chatd_filter *filter = NULL;
    struct chatd_rtls *rtls = NULL; /* until the Redis link takes it */
    struct chatd_server srv;
    struct chatd_server_config cfg;
    int64_t fd_clients;
    int status;

    if (resolve_listeners(o) != 0 ||
        (o->redis_url && redis_config(o, &rtls) != 0))
        return 2;
    chatd_tune_malloc();
    fd_clients = default_max_clients(raise_fd_limit());
    if (o->max_clients == CHATD_UNSET)
        o->max_clients = fd_clients;
    cfg = server_config(o);
    status = make_broker(o, &b);
    if (status != 0) {
        chatd_rtls_free(rtls);
        return status;
    }
    if (fd_clients && (o->max_clients == 0 || o->max_clients > fd_clients))
        log_warn("the fd limit allows about %lld clients; past that, new "
                 "connections are told the server is full",
                 (long long)fd_clients);
    log_debug("libchat %s; up to %lld clients", chat_version(),
              (long long)o->max_clients);
    status = 1;
    if (chatd_server_init(&srv, b, &cfg, o->listeners, o->nlisteners) == 0) {
        struct chatd_rtls *taken = rtls;

        rtls = NULL;
        if ((!o->redis_url ||
             chatd_redis_new(&srv.redis, &srv, &o->redis, taken) == 0) &&
            start_filter(o, &srv, &filter) == 0)
            status = chatd_server_run(&srv);
    }
    chatd_rtls_free(rtls); /* not taken: the server did not start */
    chatd_filter_stop(filter); /* before the broker and loop it uses */
    chatd_server_free(&srv);
    return status;
}

int main(int argc, char **argv)
{
    struct chatd_options opt;
    int status;

    switch (chatd_parse_options(argc, argv, &opt)) {
    case CHATD_PARSE_EXIT:
        return 0;
    case CHATD_PARSE_ERROR:
        return 2;
    case CHATD_PARSE_RUN:
        break;
    }
    chatd_log_init(opt.verbose);
    chatp_ignore_sigpipe(); /* a client gone mid-write: EPIPE, not death */
    status = serve(&opt);
    libevent_global_shutdown(); /* leaves valgrind nothing to report */
    return status;
}
