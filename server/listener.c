/*
 * chatd - listeners: parsing --listen URLs, opening them all or none, and
 * accepting. See listener.h.
 *
 * Each listener has its own accept pause: when accept() fails for want of
 * descriptors, the listener that saw it turns the client away or pauses,
 * and the others are left to meet the same condition on their own.
 */
#define _POSIX_C_SOURCE 200809L

#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "netaddr.h"
#include "server.h"

/* How long accepting pauses when accept() fails for want of resources. */
#define ACCEPT_PAUSE_MS 100

/* Turning clients away is logged at most this often. */
#define FULL_LOG_EVERY_MS 5000

/*
 * The one protocol line chatd spells itself (doc/protocol.md "Limits"):
 * when the process is out of file descriptors the broker never sees the
 * connection, so chatd answers it directly with the spare descriptor.
 * Every dialect words it the same way (lib/dialect.c).
 */
static const char full_line[] = "Server is full, try again later\n";
/* The same in HTTP, for an http:// listener's clients. */
static const char full_http[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    "Content-Length: 32\r\nConnection: close\r\n\r\n"
    "Server is full, try again later\n";

/* The schemes a URL may name; the next ones come with their transports. */
static const struct {
    const char *name;
    enum chatd_scheme scheme;
} schemes[] = {
    {"tcp", CHATD_SCHEME_TCP},
    {"http", CHATD_SCHEME_HTTP},
    {"tls", CHATD_SCHEME_TLS},
    {"https", CHATD_SCHEME_HTTPS},
};

#define NSCHEMES (sizeof schemes / sizeof schemes[0])

/* ---- parsing ------------------------------------------------------------- */

static const char *scheme_name(enum chatd_scheme s)
{
    for (size_t i = 0; i < NSCHEMES; i++)
        if (schemes[i].scheme == s)
            return schemes[i].name;
    return "?";
}

/* The names libchat knows, with sep between them: "chat|a-chat|telex". */
static const char *dialect_names(char *buf, size_t size, const char *sep)
{
    size_t n = 0;

    buf[0] = '\0';
    for (int d = 0; d < CHAT_DIALECT_COUNT && n < size; d++) {
        int w = snprintf(buf + n, size - n, "%s%s", d ? sep : "",
                         chat_dialect_name((chat_dialect)d));
        n += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

/* One line on stderr: "chatd: invalid value 'URL' for --listen: WHY".
 * Returns -1, for the caller to return. */
static int bad_url(const char *url, const char *fmt, ...)
    CHATD_PRINTF(2, 3);

static int bad_url(const char *url, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "chatd: invalid value '%s' for --listen: ", url);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* "tcp://" at the start of url: sets out->scheme and *rest after it. */
static int parse_scheme(const char *url, struct chatd_listen_spec *out,
                        const char **rest)
{
    const char *sep = strstr(url, "://");

    if (!sep) {
        char names[64];
        return bad_url(url, "expected tcp://HOST:PORT[?dialect=%s], "
                       "tls://..., http://HOST:PORT or https://...",
                       dialect_names(names, sizeof names, "|"));
    }
    for (size_t i = 0; i < NSCHEMES; i++) {
        if (strlen(schemes[i].name) == (size_t)(sep - url) &&
            strncmp(url, schemes[i].name, (size_t)(sep - url)) == 0) {
            out->scheme = schemes[i].scheme;
            *rest = sep + 3;
            return 0;
        }
    }
    return bad_url(url, "unknown scheme '%.*s' (expected tcp, tls, http or "
                   "https)",
                   (int)(sep - url), url);
}

/* The last ':' of the len bytes at s, or NULL. */
static const char *last_colon(const char *s, size_t len)
{
    while (len > 0)
        if (s[--len] == ':')
            return s + len;
    return NULL;
}

/* HOST into out->host, unbracketed; IPv6 needs its brackets in a URL, or
 * where the port begins would be a guess. */
static int take_host(const char *url, const char *s, size_t len,
                     struct chatd_listen_spec *out)
{
    char *host;

    if (len == 0)
        return bad_url(url, "expected a host before the port");
    if (len >= sizeof out->host)
        return bad_url(url, "the host is too long");
    memcpy(out->host, s, len);
    out->host[len] = '\0';
    host = chatp_host_unbracket(out->host);
    if (host == out->host && strchr(host, ':'))
        return bad_url(url, "write an IPv6 address in brackets, as in "
                       "tcp://[::1]:4242");
    if (*host == '\0' || strpbrk(host, "[]"))
        return bad_url(url, "'%.*s' is not a host", (int)len, s);
    memmove(out->host, host, strlen(host) + 1);
    return 0;
}

/* "HOST:PORT", the len bytes at s. */
static int parse_authority(const char *url, const char *s, size_t len,
                           struct chatd_listen_spec *out)
{
    const char *colon = last_colon(s, len);
    size_t plen = colon ? len - (size_t)(colon - s) - 1 : 0;

    if (!colon)
        return bad_url(url, "expected HOST:PORT after %s://",
                       scheme_name(out->scheme));
    if (plen < sizeof out->port) {
        memcpy(out->port, colon + 1, plen);
        out->port[plen] = '\0';
    }
    if (plen >= sizeof out->port || !chatp_port_valid(out->port, 0))
        return bad_url(url, "expected a port from 0 to 65535 after the "
                       "host, got '%.*s'", (int)plen, colon + 1);
    return take_host(url, s, (size_t)(colon - s), out);
}

/* One "key=value" of the query, the len bytes at s. */
static int parse_param(const char *url, const char *s, size_t len,
                       struct chatd_listen_spec *out)
{
    static const char key[] = "dialect=";
    const size_t klen = sizeof key - 1;
    char names[64], value[32];

    if (len < klen || strncmp(s, key, klen) != 0)
        return bad_url(url, "unknown parameter '%.*s' (expected dialect=%s)",
                       (int)len, s, dialect_names(names, sizeof names, "|"));
    if (len - klen < sizeof value) {
        memcpy(value, s + klen, len - klen);
        value[len - klen] = '\0';
        if (chat_dialect_parse(value, &out->dialect) == CHAT_OK)
            return 0;
    }
    return bad_url(url, "unknown dialect '%.*s' (expected %s)",
                   (int)(len - klen), s + klen,
                   dialect_names(names, sizeof names, ", "));
}

/* The query after '?': parameters separated by '&'. */
static int parse_query(const char *url, const char *q,
                       struct chatd_listen_spec *out)
{
    for (;;) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (parse_param(url, q, len, out) != 0)
            return -1;
        if (!amp)
            return 0;
        q = amp + 1;
    }
}

int chatd_listen_parse(const char *url, struct chatd_listen_spec *out)
{
    const char *rest = url, *q; /* parse_scheme moves it past "://" */

    memset(out, 0, sizeof *out);
    out->flag = "--listen";
    out->text = url;
    out->dialect = CHAT_DIALECT_CHAT;
    if (parse_scheme(url, out, &rest) != 0)
        return -1;
    q = strchr(rest, '?');
    if (parse_authority(url, rest, q ? (size_t)(q - rest) : strlen(rest),
                        out) != 0)
        return -1;
    return q ? parse_query(url, q + 1, out) : 0;
}

int chatd_listen_plain(const char *host, const char *port,
                       struct chatd_listen_spec *out)
{
    memset(out, 0, sizeof *out);
    out->flag = "--bind";
    out->text = host;
    out->scheme = CHATD_SCHEME_TCP;
    out->dialect = CHAT_DIALECT_CHAT;
    if (strlen(host) >= sizeof out->host || strlen(port) >= sizeof out->port) {
        fprintf(stderr, "chatd: invalid value '%s' for --bind: too long\n",
                host);
        return -1;
    }
    snprintf(out->host, sizeof out->host, "%s", host);
    snprintf(out->port, sizeof out->port, "%s", port);
    return 0;
}

int chatd_listen_resolve(struct chatd_listen_spec *s)
{
    struct addrinfo *res;
    int err = chatp_resolve(s->host, s->port, 1, &res);

    if (err != 0) {
        fprintf(stderr, "chatd: invalid value '%s' for %s: %s\n", s->text,
                s->flag, chatp_resolve_strerror(err));
        return -1;
    }
    if (res->ai_addrlen > sizeof s->addr) { /* never, for TCP */
        freeaddrinfo(res);
        fprintf(stderr, "chatd: invalid value '%s' for %s: unknown address "
                "family\n", s->text, s->flag);
        return -1;
    }
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    s->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ---- accepting ----------------------------------------------------------- */

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    (void)evl;
    chatd_conn_open(arg, fd, sa, salen);
}

static void pause_accepting(struct chatd_listener *l)
{
    struct timeval tv = {0, (suseconds_t)ACCEPT_PAUSE_MS * 1000};

    evconnlistener_disable(l->evl);
    /* Without the timer that resumes it the listener would stay deaf for
     * good: better to keep accepting (and perhaps spin) than that. */
    if (evtimer_add(l->resume_ev, &tv) != 0) {
        log_warn("cannot arm the accept pause timer: accepting on %s",
                 l->label);
        evconnlistener_enable(l->evl);
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_listener *l = arg;

    (void)fd;
    (void)what;
    evconnlistener_enable(l->evl);
}

static void log_turned_away(struct chatd_server *srv)
{
    uint64_t now = chatd_now_ms();

    srv->turned_away++;
    if (srv->full_logged_at && now - srv->full_logged_at < FULL_LOG_EVERY_MS)
        return;
    log_warn("out of file descriptors: turned %llu connection(s) away",
             (unsigned long long)srv->turned_away);
    srv->turned_away = 0;
    srv->full_logged_at = now;
}

/*
 * accept() failed with EMFILE/ENFILE. The pending connection would keep
 * the listener readable and the loop spinning, so take it with the spare
 * descriptor (one for the process, whichever listener needs it), tell the
 * client, close it, and take the spare back. If even that fails, stop
 * this listener for a moment; open clients are unaffected.
 */
static void turn_away(struct chatd_listener *l)
{
    struct chatd_server *srv = l->srv;
    int fd;

    if (srv->reserve_fd >= 0) {
        close(srv->reserve_fd);
        srv->reserve_fd = -1;
    }
    fd = accept(evconnlistener_get_fd(l->evl), NULL, NULL);
    if (fd >= 0) {
        /* Best effort: a fresh socket's send buffer has room for it. In
         * the listener's own framing: an HTTP client gets HTTP; a TLS
         * client gets nothing in clear text (a handshake costs what the
         * spare descriptor is kept to avoid): the connection just closes. */
        const char *line = l->scheme == CHATD_SCHEME_HTTP ? full_http : full_line;
        size_t len = l->scheme == CHATD_SCHEME_HTTP ? sizeof full_http - 1
                                                    : sizeof full_line - 1;
        if (!chatd_scheme_tls(l->scheme) && send(fd, line, len, 0) < 0)
            log_debug("turning a client away: %s", strerror(errno));
        close(fd);
        chatd_metrics_rejected(&srv->metrics, CHATD_REJECT_FDS);
        log_turned_away(srv);
    }
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || srv->reserve_fd < 0)
        pause_accepting(l);
}

static void on_accept_error(struct evconnlistener *evl, void *arg)
{
    struct chatd_listener *l = arg;
    int err = EVUTIL_SOCKET_ERROR();

    (void)evl;
    if (err == EMFILE || err == ENFILE) {
        turn_away(l);
        return;
    }
    /* ENOBUFS, ENOMEM and the like: retrying at once would spin. */
    log_warn("accept on %s: %s", l->label, evutil_socket_error_to_string(err));
    pause_accepting(l);
}

/* ---- opening ------------------------------------------------------------- */

/* "127.0.0.1:4242" for a plain chat listener (the line scripts parse),
 * else the URL: "tcp://[::1]:4242?dialect=telex". */
static void make_label(const struct chatd_listen_spec *s,
                       const struct sockaddr *sa, char *buf, size_t size)
{
    char addr[80];
    int plain = s->dialect == CHAT_DIALECT_CHAT;

    chatd_format_addr(sa, addr, sizeof addr);
    if (s->scheme == CHATD_SCHEME_TCP && plain)
        snprintf(buf, size, "%s", addr);
    else
        snprintf(buf, size, "%s://%s%s%s", scheme_name(s->scheme), addr,
                 plain ? "" : "?dialect=",
                 plain ? "" : chat_dialect_name(s->dialect));
}

/* Bind one listener; logs and returns -1 on failure. */
static int open_one(struct chatd_server *srv, struct chatd_listener *l,
                    const struct chatd_listen_spec *s)
{
    const chat_peer_options defaults = CHAT_PEER_OPTIONS_INIT;
    /* The kernel's largest accept queue (it caps SOMAXCONN to its own
     * somaxconn): with libevent's default of 128, a thousand clients
     * connecting at once overflow it and fall back to SYN cookies. */
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                     LEV_OPT_CLOSE_ON_EXEC;

    l->srv = srv;
    l->scheme = s->scheme;
    l->peer_opt = defaults;
    l->peer_opt.dialect = s->dialect;
    if (chatd_scheme_http(s->scheme)) {
        /* WebSocket: one text frame is one line each way. */
        l->peer_opt.lines = 1;
        l->peer_opt.framing = CHAT_FRAMING_WEBSOCKET;
    }
    make_label(s, (const struct sockaddr *)&s->addr, l->label,
               sizeof l->label);
    l->resume_ev = evtimer_new(srv->base, on_resume, l);
    if (!l->resume_ev) {
        log_error("cannot set up the event loop");
        return -1;
    }
    l->evl = evconnlistener_new_bind(srv->base, on_accept, l, flags,
                                     SOMAXCONN,
                                     (const struct sockaddr *)&s->addr,
                                     (int)s->addrlen);
    if (!l->evl) {
        log_error("cannot listen on %s: %s", l->label, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(l->evl, on_accept_error);
    return 0;
}

/* Log the listener's address with the port the kernel gave it. */
static void log_listening(struct chatd_listener *l,
                          const struct chatd_listen_spec *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(evconnlistener_get_fd(l->evl), (struct sockaddr *)&ss,
                    &len) != 0)
        log_warn("getsockname: %s", strerror(errno));
    else
        make_label(s, (struct sockaddr *)&ss, l->label, sizeof l->label);
    log_info("listening on %s", l->label);
}

int chatd_listeners_open(struct chatd_server *srv,
                         const struct chatd_listen_spec *specs, size_t n)
{
    srv->listeners = calloc(n, sizeof *srv->listeners);
    if (!srv->listeners) {
        log_error("out of memory");
        return -1;
    }
    srv->nlisteners = n;
    for (size_t i = 0; i < n; i++) {
        if (open_one(srv, &srv->listeners[i], &specs[i]) != 0) {
            chatd_listeners_free(srv); /* all or none */
            return -1;
        }
    }
    /* Only now: a "listening on" line means the whole set is open. */
    for (size_t i = 0; i < n; i++)
        log_listening(&srv->listeners[i], &specs[i]);
    return 0;
}

void chatd_listeners_close(struct chatd_server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct chatd_listener *l = &srv->listeners[i];
        if (l->evl)
            evconnlistener_free(l->evl);
        if (l->resume_ev)
            event_free(l->resume_ev);
        l->evl = NULL;
        l->resume_ev = NULL;
    }
}

void chatd_listeners_free(struct chatd_server *srv)
{
    chatd_listeners_close(srv);
    free(srv->listeners);
    srv->listeners = NULL;
    srv->nlisteners = 0;
}
