/*
 * chatd - metrics: what chatd counts, and GET /metrics.
 *
 * A registry is a plain struct that chatd updates in place as things
 * happen (one thread, one loop: no locks, no atomics). The broker's own
 * counters are not copied into it: chatd_metrics_render() reads them with
 * chat_broker_stats() at scrape time, so nothing is counted twice.
 *
 * The output is the Prometheus text exposition format 0.0.4: a "# HELP"
 * and a "# TYPE" line per metric family, then its samples. doc/metrics.md
 * lists every metric and where chatd counts it.
 */
#ifndef CHATD_METRICS_H
#define CHATD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <libchat/chat.h>

struct evbuffer;

/* The Content-Type of a GET /metrics response. */
#define CHATD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * How a connection speaks, the label `transport`. An http:// (https://)
 * connection is HTTP until it upgrades to WebSocket, when it becomes ws
 * (wss); one that never upgrades (the page, /metrics) stays http.
 */
enum chatd_transport {
    CHATD_TRANSPORT_TCP,
    CHATD_TRANSPORT_TLS,
    CHATD_TRANSPORT_WS,
    CHATD_TRANSPORT_WSS,
    CHATD_TRANSPORT_HTTP,
    CHATD_TRANSPORT_HTTPS,
    CHATD_TRANSPORTS
};

/*
 * Why a connection ended, the label `reason` of chatd_disconnects_total.
 * The first nine are the broker's (chat_close_reason; their labels are
 * chat_close_reason_str's words); the rest are chatd's own.
 */
enum chatd_disconnect {
    CHATD_DISC_QUIT,
    CHATD_DISC_EOF,
    CHATD_DISC_IDLE,
    CHATD_DISC_LOGIN_TIMEOUT,
    CHATD_DISC_FULL,
    CHATD_DISC_SHUTDOWN,
    CHATD_DISC_SLOW,
    CHATD_DISC_WRITE_TIMEOUT,
    CHATD_DISC_NOMEM,
    CHATD_DISC_ERROR,     /* "error": recv/send failed (reset, ...) */
    CHATD_DISC_HANDSHAKE, /* "handshake": bad or slow HTTP request, refused
                             upgrade, failed TLS handshake */
    CHATD_DISC_SERVED,    /* "served": a plain HTTP request (the page,
                             /metrics) was answered and the connection closed */
    CHATD_DISCONNECTS
};

/* Why a connection was turned away, the label `reason` of
 * chatd_connections_rejected_total. */
enum chatd_reject {
    CHATD_REJECT_FULL,  /* "full": over --max-clients */
    CHATD_REJECT_FDS,   /* "fds": accept() failed for want of descriptors */
    CHATD_REJECT_ERROR, /* "error": could not set it up (memory, events) */
    CHATD_REJECTS
};

/* Upper bounds (seconds) of the loop pass histogram's buckets, +Inf aside:
 * 50 us .. 1 s. */
#define CHATD_PASS_BUCKETS 14

/*
 * The registry. Zero it (chatd_metrics_init) and update it where the
 * comments say; the functions below keep the related fields consistent.
 * Gauges are what is true now, counters only grow.
 */
struct chatd_metrics {
    uint64_t open[CHATD_TRANSPORTS];     /* gauge: connections open */
    uint64_t accepted[CHATD_TRANSPORTS]; /* connections accepted; ws/wss:
                                            upgrades of http/https ones */
    uint64_t rejected[CHATD_REJECTS];    /* connections turned away */
    uint64_t disconnects[CHATD_DISCONNECTS]; /* connections ended */
    uint64_t bytes_received; /* add n after each recv() that returned n > 0 */
    uint64_t bytes_sent;     /* add n after each send() that returned n > 0 */
    /* The loop pass histogram (chatd_metrics_observe_pass). Bucket i
     * counts passes in (bound[i-1], bound[i]], not cumulatively: one
     * increment per pass, the sums are made at render time. A pass longer
     * than the last bound is only in pass_count. */
    uint64_t pass_bucket[CHATD_PASS_BUCKETS];
    uint64_t pass_count;
    double pass_sum; /* seconds */
    /* Cluster mode (--redis, server/redis.c); the chatd_cluster_*
     * families are written only when cluster is set. */
    int cluster;               /* set once at start with --redis */
    uint64_t cluster_up;       /* gauge: 1 while the link to Redis is up
                                  (what the broker was last told) */
    uint64_t redis_reconnects; /* connection attempts after the first */
};

/* Zero every counter and gauge. */
void chatd_metrics_init(struct chatd_metrics *m);

/* A connection was accepted on transport t (tcp, tls, http, https):
 * counts it accepted and open. Out-of-range t is ignored. */
void chatd_metrics_conn_opened(struct chatd_metrics *m, enum chatd_transport t);

/* An open connection changed transport (http to ws after the upgrade):
 * moves it between the open gauges and counts `to` accepted. */
void chatd_metrics_conn_upgraded(struct chatd_metrics *m,
                                 enum chatd_transport from,
                                 enum chatd_transport to);

/* An open connection on transport t ended: no longer open, one more
 * disconnect for why. Call it once per connection. */
void chatd_metrics_conn_closed(struct chatd_metrics *m, enum chatd_transport t,
                               enum chatd_disconnect why);

/* A connection was turned away (before or instead of being opened). */
void chatd_metrics_rejected(struct chatd_metrics *m, enum chatd_reject why);

/* The disconnect reason for the broker's close reason r; CHAT_CLOSE_NONE
 * (the peer was still open, so the socket failed) is CHATD_DISC_ERROR. */
enum chatd_disconnect chatd_metrics_reason(chat_close_reason r);

/* A loop pass took `seconds`. Negative or non-finite values are ignored
 * (a clock that went wrong must not poison the sum). */
void chatd_metrics_observe_pass(struct chatd_metrics *m, double seconds);

/* A monotonic clock in seconds, fine enough for the pass histogram. */
double chatd_metrics_clock(void);

/*
 * Append the whole exposition to out: chatd's metrics with the broker's
 * counters from b (chat_broker_stats), then the process metrics. out is
 * the caller's (a GET /metrics response body); on failure it may hold
 * part of the output. Returns 0, or -1 if out could not grow.
 */
int chatd_metrics_render(const struct chatd_metrics *m, const chat_broker *b,
                         struct evbuffer *out);

/* The chatd_* part alone, with the broker's counters given as st (the
 * tests and print_metrics give sample values). Returns 0 or -1. */
int chatd_metrics_render_chatd(const struct chatd_metrics *m,
                               const chat_stats *st, struct evbuffer *out);

/* The process_* part alone: this process, read from /proc and
 * getrlimit(). A metric that cannot be read is left out, as the
 * Prometheus client libraries do. Returns 0 or -1. */
int chatd_metrics_render_process(struct evbuffer *out);

#endif /* CHATD_METRICS_H */
