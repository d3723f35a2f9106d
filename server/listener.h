/*
 * chatd - listeners: the doors in, one per --listen URL (or -b/-p).
 *
 * A URL names a scheme, an address and how a connection accepted there
 * joins the broker (its dialect). tcp:// speaks the line protocol; http://
 * serves the page, WebSocket at /ws and /metrics (http_conn.c); tls:// and
 * https:// are the same over TLS (conn.c, tls.c), not another front-end.
 */
#ifndef CHATD_LISTENER_H
#define CHATD_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>

#include <libchat/chat.h>

struct chatd_server;
struct evconnlistener;
struct event;

/* How many listeners chatd opens at most (--listen, plus -b/-p's). */
#define CHATD_MAX_LISTENERS 16

enum chatd_scheme {
    CHATD_SCHEME_TCP,   /* tcp://HOST:PORT: plain lines over TCP */
    CHATD_SCHEME_HTTP,  /* http://HOST:PORT: the page, /ws, /metrics */
    CHATD_SCHEME_TLS,   /* tls://HOST:PORT: lines over TLS */
    CHATD_SCHEME_HTTPS, /* https://HOST:PORT: http:// over TLS (wss://) */
};

/* The scheme speaks HTTP (http://, https://) / runs over TLS. */
static inline int chatd_scheme_http(enum chatd_scheme s)
{
    return s == CHATD_SCHEME_HTTP || s == CHATD_SCHEME_HTTPS;
}
static inline int chatd_scheme_tls(enum chatd_scheme s)
{
    return s == CHATD_SCHEME_TLS || s == CHATD_SCHEME_HTTPS;
}

/* Where and how to listen: a parsed --listen URL, or -b/-p. */
struct chatd_listen_spec {
    enum chatd_scheme scheme;
    chat_dialect dialect;
    const char *flag;       /* "--listen" or "--bind", for messages */
    const char *text;       /* the value as typed (points into argv) */
    char host[256];         /* unbracketed: "::1", "127.0.0.1", a name */
    char port[6];           /* decimal 0..65535 */
    struct sockaddr_storage addr; /* set by chatd_listen_resolve() */
    socklen_t addrlen;
};

/* An open listener. Connections copy what they need at accept. */
struct chatd_listener {
    struct chatd_server *srv;
    struct evconnlistener *evl;
    struct event *resume_ev;     /* re-enables accepting after a pause */
    enum chatd_scheme scheme;
    chat_peer_options peer_opt;  /* what its connections join with */
    char label[160];             /* for logs: "127.0.0.1:4242" for a plain
                                    chat listener, else its URL */
};

/*
 * Parse url ("tcp://HOST:PORT[?dialect=NAME]"; HOST may be "[::1]") into
 * *out, its text pointing at url. Returns 0, or -1 after printing one
 * "chatd: invalid value ..." line on stderr.
 */
int chatd_listen_parse(const char *url, struct chatd_listen_spec *out);

/* The -b/-p listener: plain chat over TCP. -1 (after a message) if host
 * is too long. */
int chatd_listen_plain(const char *host, const char *port,
                       struct chatd_listen_spec *out);

/* Resolve s->host and s->port into s->addr. Returns 0, or -1 after
 * printing one line on stderr. */
int chatd_listen_resolve(struct chatd_listen_spec *s);

/*
 * Open a listener per spec into srv->listeners, all or none: on failure
 * (e.g. a port in use) it logs one error line, closes what it opened and
 * returns -1. Once all are open each logs "listening on LABEL".
 */
int chatd_listeners_open(struct chatd_server *srv,
                         const struct chatd_listen_spec *specs, size_t n);

/*
 * Stop accepting (at shutdown): every listening socket is closed. The
 * listeners themselves stay valid until chatd_listeners_free(), so a
 * connection may keep a pointer to the one that accepted it. Safe to
 * repeat.
 */
void chatd_listeners_close(struct chatd_server *srv);

/* Close and free the listeners (chatd_server_free, after the
 * connections). Safe to repeat. */
void chatd_listeners_free(struct chatd_server *srv);

#endif /* CHATD_LISTENER_H */
