/*
 * chatd - the event loop around one broker.
 *
 * server.c owns the flush event, the broker timer and the signals;
 * listener.c the listeners; conn.c one socket and two events per client.
 * None of them knows any chat rule: bytes go into the broker, the
 * broker's output goes out.
 */
#ifndef CHATD_SERVER_H
#define CHATD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <libchat/chat.h>

#include "listener.h"
#include "metrics.h"

struct chatd_conn;
struct chatd_redis;

/* Bytes gathered per send(): a loop pass's worth for one peer, usually. */
#define CHATD_SCRATCH ((size_t)64 * 1024)

/* How long a half-closed socket waits for the client's EOF. */
#define CHATD_LINGER_MS 2000

/* What the loop needs besides the broker's own options. */
struct chatd_server_config {
    uint64_t grace_ms;         /* shutdown: time to flush before closing */
    uint64_t max_clients;      /* --max-clients (0: no cap): HTTP requests
                                  being read count toward it too */
    uint64_t http_timeout_ms;  /* a request head must arrive within this */
    size_t http_head_max;      /* bytes of a request head, at most */
    const char *ws_origin;     /* --ws-origin: allowed origins; NULL any */
    const char *tls_cert;      /* --tls-cert, --tls-key: PEM files, for */
    const char *tls_key;       /* tls:// and https:// listeners */
    uint64_t tls_timeout_ms;   /* a TLS handshake must end within this */
    unsigned tls_handshakes;   /* TLS handshakes in progress, at most */
};

struct chatd_server {
    struct event_base *base;
    chat_broker *broker;
    struct chatd_server_config cfg;
    struct chatd_listener *listeners; /* closed, not freed, at shutdown */
    size_t nlisteners;
    struct event *flush_ev;  /* writes every ready peer, once per pass */
    struct event *timer_ev;  /* the broker's next deadline */
    uint64_t timer_at;       /* deadline armed, or CHAT_NO_DEADLINE */
    struct event *sig_ev[3]; /* SIGINT, SIGTERM; SIGHUP reloads TLS */
    struct event *grace_ev;  /* ends a shutdown that takes too long */
    struct event *trim_ev;   /* gives heap back once the loop goes quiet */
    uint64_t passes;         /* flush passes so far */
    uint64_t writes;         /* send() calls that wrote something */
    char *scratch;           /* CHATD_SCRATCH bytes: one peer's output is
                                gathered here for one send() */
    uint64_t passes_seen;    /* ... at the last trim check */
    int trimmed;             /* heap given back since the last activity */
    int reserve_fd;          /* spare fd to turn clients away on EMFILE,
                                shared by the listeners */
    uint64_t turned_away;    /* clients turned away since the last log */
    uint64_t full_logged_at; /* when that was last logged (ms) */
    int stopping;            /* a shutdown signal arrived */
    /* Every lingering connection shares this duration, so it is a libevent
     * "common timeout": arming it is an O(1) queue append, not a heap
     * operation. */
    const struct timeval *linger_tv;
    struct chatd_conn *conns; /* every open connection */
    size_t nconns;
    const struct timeval *http_tv; /* the request head's time (common) */
    const struct timeval *tls_tv;  /* a TLS handshake's time (common) */
    struct chatd_tls_ctx *tls_ctx; /* certificate and key, or NULL */
    uint64_t http_slots;     /* connections reading a request: they hold
                                a slot of --max-clients (the broker's
                                CHAT_OPT_RESERVED_PEERS) */
    struct chatd_metrics metrics;
    struct chatd_redis *redis; /* --redis: the cluster link, or NULL;
                                  srv frees it */
    int redis_leaving;       /* the loop ends once the link has left */
};

/* Take (1) or give back (0) a slot of --max-clients for a connection not
 * joined to the broker yet. Taking fails (-1) when the server is full. */
int chatd_server_slot(struct chatd_server *srv, int take);

/* Keep freed heap through busy loop passes (call once, at start). */
void chatd_tune_malloc(void);

/* Monotonic clock in milliseconds: the broker's time base. */
uint64_t chatd_now_ms(void);

/* "1.2.3.4:5" or "[::1]:5", for logs. */
void chatd_format_addr(const struct sockaddr *sa, char *buf, size_t size);

/*
 * Set up srv around broker b and open a listener per spec (resolved; all
 * or none). srv owns b from now on: call chatd_server_free() afterwards
 * whether this succeeded or not. Logs and returns -1 on failure.
 */
int chatd_server_init(struct chatd_server *srv, chat_broker *b,
                      const struct chatd_server_config *cfg,
                      const struct chatd_listen_spec *specs, size_t nspecs);

/* Run until shutdown. Returns the process exit status. */
int chatd_server_run(struct chatd_server *srv);

/* Free everything: connections, broker, events, listeners, base. */
void chatd_server_free(struct chatd_server *srv);

/* Ask for a flush pass after the current I/O callbacks. */
void chatd_server_schedule_flush(struct chatd_server *srv);

/* A connection was freed: ends the loop if a shutdown was waiting for it. */
void chatd_server_conn_gone(struct chatd_server *srv);

/* The Redis link has given this node's names and lease back at shutdown
 * (or given up trying): the loop ends. */
void chatd_server_redis_left(struct chatd_server *srv);

/* ---- conn.c ------------------------------------------------------------ */

/*
 * Adopt a socket listener l accepted: watch it and join it to the broker
 * with l's peer options. On failure the socket is closed and -1 is
 * returned.
 */
int chatd_conn_open(const struct chatd_listener *l, evutil_socket_t fd,
                    const struct sockaddr *sa, int salen);

/* Move p's pending output to its socket, or close it when it is done. */
void chatd_conn_pump(struct chatd_conn *c);

/* At shutdown: close the connections that are only sending a request. */
void chatd_conns_stop(struct chatd_server *srv);

/* Free a connection's socket and memory without telling the broker
 * (used at exit, before the broker itself is freed). */
void chatd_conn_discard(struct chatd_conn *c);

#endif /* CHATD_SERVER_H */
