/*
 * chatd - one client connection: a socket joined to a broker peer (see
 * conn.h for how http_conn.c and ws_conn.c add HTTP and WebSocket).
 *
 * Two plain events and no buffers of chatd's own: input is read into a
 * stack buffer and fed to the broker at once (the broker keeps only an
 * incomplete line). Output never leaves the broker until the kernel takes it: the
 * flush pass writes each ready peer with one send() of its pending pieces
 * gathered into one buffer, and only when the socket is full does a write
 * event wait for room. So the broker's backlog is the real
 * backlog, and it alone decides slow consumers and write timeouts. A
 * closing peer is flushed, then its socket is half-closed and lingers
 * briefly for the client's EOF.
 */
#define _POSIX_C_SOURCE 200809L

#include "server.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>


#include "conn.h"
#include "log.h"
#include "tls.h"

/* Pieces of outbox described per chat_peer_peek call. */
#define PEEK_IOVS 64

static void handshake_step(struct chatd_conn *c, int late);

/* Give back the --max-clients slot a connection held before joining. */
static void release_slot(struct chatd_conn *c)
{
    if (c->slot) {
        c->slot = 0;
        chatd_server_slot(c->srv, 0);
    }
}


/* Bytes read per read callback: a loop pass's worth for one client. */
#define READ_CHUNK 16384

/* While lingering, a read timeout bounds the wait for the client's EOF
 * (the server's common timeout: re-arming it is O(1)). */
static int set_linger_timeout(struct chatd_conn *c)
{
    return event_add(c->read_ev, c->srv->linger_tv);
}

static void on_readable(evutil_socket_t fd, short what, void *arg);

int chatd_conn_watch(struct chatd_conn *c, const struct timeval *tv)
{
    /* A persistent event keeps the last timeout it was added with, and
     * libevent re-arms it each time the event fires, even after
     * event_del() and event_add(ev, NULL): a handshake's or a request's
     * deadline would cut the user that long after each later read. No
     * timeout means a fresh event. */
    if (!tv && (event_del(c->read_ev) != 0 ||
                event_assign(c->read_ev, c->srv->base, c->fd,
                             EV_READ | EV_PERSIST, on_readable, c) != 0))
        return -1;
    return event_add(c->read_ev, tv);
}

static void link_conn(struct chatd_conn *c)
{
    struct chatd_server *srv = c->srv;

    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
}

static void unlink_conn(struct chatd_conn *c)
{
    struct chatd_server *srv = c->srv;

    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
}

/* Tell the broker the transport is gone; why is for the log. */
static void release_peer(struct chatd_conn *c, const char *why)
{
    if (!c->peer)
        return;
    if (chatd_log_enabled(CHATD_LOG_DEBUG)) {
        const char *name = chat_peer_name(c->peer);
        log_debug("%s (%s) disconnected: %s", c->addr, name ? name : "-", why);
    }
    c->disc = (uint8_t)chatd_metrics_reason(chat_peer_close_reason(c->peer));
    chat_peer_release(c->srv->broker, c->peer, chatd_now_ms());
    c->peer = NULL;
    /* Releasing may have told the room "left": write that out. */
    chatd_server_schedule_flush(c->srv);
}

/* Close the socket and free c. c is invalid afterwards. */
static void free_conn(struct chatd_conn *c)
{
    struct chatd_server *srv = c->srv;

    unlink_conn(c);
    chatd_http_end(c);
    chatd_ws_end(c);
    release_slot(c);
    chatd_tls_free(c->tls);
    if (c->write_ev)
        event_free(c->write_ev);
    if (c->read_ev)
        event_free(c->read_ev);
    evutil_closesocket(c->fd);
    chatd_metrics_conn_closed(&srv->metrics, (enum chatd_transport)c->transport,
                              (enum chatd_disconnect)c->disc);
    free(c);
    chatd_server_conn_gone(srv);
}

static void close_conn(struct chatd_conn *c, const char *why)
{
    release_peer(c, why);
    free_conn(c);
}

ssize_t chatd_conn_send(struct chatd_conn *c, const void *data, size_t len)
{
    if (!c->tls)
        return send(c->fd, data, len, MSG_NOSIGNAL);
    ssize_t n = chatd_tls_write(c->tls, data, len);
    if (n >= 0)
        return n;
    /* Only a WANT is "try again": after the client's EOF a write fails as
     * EOF, and a dead socket taken for a full one would be retried every
     * pass until the write timeout (doc/performance.md, TLS). */
    errno = n == CHATD_TLS_WANT_WRITE || n == CHATD_TLS_WANT_READ ? EAGAIN
                                                                  : EPIPE;
    return -1;
}

/* Read through TLS or from the socket: recv()'s contract. */
static ssize_t conn_recv(struct chatd_conn *c, void *buf, size_t cap)
{
    if (!c->tls)
        return recv(c->fd, buf, cap, 0);
    ssize_t n = chatd_tls_read(c->tls, buf, cap);
    if (n >= 0 || n == CHATD_TLS_EOF)
        return n >= 0 ? n : 0;
    /* WANT_WRITE (a TLS 1.3 key update to answer first) clears itself at
     * the next write; the client's next bytes bring us back. */
    errno = n == CHATD_TLS_ERROR ? EPROTO : EAGAIN;
    return -1;
}

void chatd_conn_close(struct chatd_conn *c, const char *why)
{
    close_conn(c, why);
}

void chatd_conns_stop(struct chatd_server *srv)
{
    struct chatd_conn *c = srv->conns, *next;

    /* A request still arriving, or a TLS handshake in progress, has
     * nothing to be delivered: it must not hold a shutdown for its grace
     * period. Answers being written and chat peers finish on their own. */
    for (; c; c = next) {
        next = c->next;
        if (c->handshaking ||
            (c->proto == CHATD_PROTO_HTTP && !c->lingering &&
             chatd_http_reading(c))) {
            c->disc = CHATD_DISC_HANDSHAKE;
            close_conn(c, "shutting down");
        }
    }
}

void chatd_conn_discard(struct chatd_conn *c)
{
    c->peer = NULL; /* the broker is about to free it with everything else */
    free_conn(c);
}

/*
 * Everything is written. Release the peer, then half-close and wait for
 * the client's EOF before closing: close() with unread input makes the
 * kernel send RST, which can destroy the last lines ("Bye!", "Server
 * shutting down...") before the client reads them.
 */
void chatd_conn_finish(struct chatd_conn *c, const char *why)
{
    if (c->tls)
        (void)chatd_tls_shutdown(c->tls); /* close_notify, best effort */
    if (c->eof) {
        close_conn(c, why);
        return;
    }
    release_peer(c, why);
    if (shutdown(c->fd, SHUT_WR) != 0) {
        free_conn(c);
        return;
    }
    c->lingering = 1;
    c->until_ms = chatd_now_ms() + CHATD_LINGER_MS;
    if (set_linger_timeout(c) != 0)
        free_conn(c);
}

static void output_done(struct chatd_conn *c)
{
    chat_close_reason r = chat_peer_close_reason(c->peer);

    if (c->proto == CHATD_PROTO_WS)
        chatd_ws_goodbye(c); /* the close frame, after every line */
    chatd_conn_finish(c, chat_close_reason_str(r));
}

/*
 * Gather pending pieces into buf (cap bytes) in order; returns the bytes
 * gathered. A single piece larger than buf is not gathered: *big points
 * at it instead, to be sent from where it is.
 */
static size_t gather(const chat_peer *p, char *buf, size_t cap,
                     const chat_iov **big, chat_iov *piece)
{
    size_t k = chat_peer_peek(p, piece, PEEK_IOVS), n = 0;

    *big = NULL;
    if (k > 0 && piece[0].len > cap) {
        *big = &piece[0];
        return 0;
    }
    for (size_t i = 0; i < k && n + piece[i].len <= cap; i++) {
        memcpy(buf + n, piece[i].base, piece[i].len);
        n += piece[i].len;
    }
    return n;
}

/*
 * Write p's pending output until it is all written or the socket is full.
 * The pieces (shared messages, typically ~30 of 64 bytes per pass) are
 * copied into one contiguous buffer and sent with one send(): the kernel's
 * cost per write grows with the number of iovec segments, and the copy is
 * cheaper than that (measured: doc/performance.md). Returns 0, or -1 with
 * errno set if the connection failed.
 */
static int write_pending(struct chatd_conn *c)
{
    chat_broker *b = c->srv->broker;
    char *buf = c->srv->scratch;
    /* Over TLS one call is one record: gather what one record holds. */
    size_t cap = c->tls ? CHATD_TLS_RECORD : CHATD_SCRATCH;

    while (chat_peer_pending(c->peer) > 0) {
        chat_iov piece[PEEK_IOVS];
        const chat_iov *big;
        size_t len = gather(c->peer, buf, cap, &big, piece);
        const void *data = big ? big->base : buf;

        if (big)
            len = big->len;
        ssize_t n = chatd_conn_send(c, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->srv->writes++;
        c->srv->metrics.bytes_sent += (uint64_t)n;
        /* Consuming may queue a "dropped" notice: the loop writes it too. */
        chat_peer_consume(b, c->peer, (size_t)n, chatd_now_ms());
        if ((size_t)n < len && !(c->tls && (size_t)n == CHATD_TLS_RECORD))
            return 0; /* the socket is full */
    }
    return 0;
}

/* The socket has room again (or never will: the broker's write timeout
 * decides that, so the event itself has no timeout). */
static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_conn *c = arg;

    (void)fd;
    c->blocked = 0;
    if (c->handshaking) {
        handshake_step(c, (what & EV_TIMEOUT) != 0);
        return;
    }
    if (c->proto == CHATD_PROTO_HTTP) {
        chatd_http_writable(c, (what & EV_TIMEOUT) != 0);
        return;
    }
    chatd_conn_pump(c);
}

void chatd_conn_pump(struct chatd_conn *c)
{
    chat_close_reason r;

    if (!c->peer)
        return;
    /* A cut (write timeout, slow, no memory) is looked at before the
     * socket's room: the peer it cuts is typically one whose socket is
     * full, and its write event may never fire. */
    r = chat_peer_close_reason(c->peer);
    if (r != CHAT_CLOSE_NONE && !chat_close_reason_flushes(r)) {
        close_conn(c, chat_close_reason_str(r));
        return;
    }
    if (c->blocked)
        return;
    if (write_pending(c) != 0) {
        char why[128];
        snprintf(why, sizeof why, "%s", strerror(errno));
        close_conn(c, why);
        return;
    }
    if (chat_peer_pending(c->peer) > 0) {
        c->blocked = event_add(c->write_ev, NULL) == 0;
        if (!c->blocked)
            close_conn(c, "cannot watch the socket");
        return;
    }
    /* Everything is written; a closing peer can go now. */
    if (chat_peer_close_reason(c->peer) != CHAT_CLOSE_NONE)
        output_done(c);
}

static void on_eof(struct chatd_conn *c)
{
    c->eof = 1;
    /* A socket at EOF stays readable: stop watching it, or the loop spins. */
    event_del(c->read_ev);
    if (c->proto == CHATD_PROTO_HTTP) { /* gone before it was answered */
        c->disc = CHATD_DISC_HANDSHAKE;
        close_conn(c, "left during the request");
        return;
    }
    if (c->proto == CHATD_PROTO_WS) {
        chatd_ws_eof(c);
        return;
    }
    /* The broker runs a last unterminated line and lets the user leave;
     * the socket closes once the output is flushed (the client may still
     * be reading after a half-close). */
    chat_peer_eof(c->srv->broker, c->peer, chatd_now_ms());
    chatd_server_schedule_flush(c->srv);
}

/* The socket is readable, or (lingering only) the linger time is up. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_conn *c = arg;
    char buf[READ_CHUNK];
    ssize_t n;

    (void)fd;
    int late = (what & EV_TIMEOUT) ||
               (c->until_ms && chatd_now_ms() >= c->until_ms);
    if (c->handshaking) {
        handshake_step(c, late);
        return;
    }
    if (late) {
        if (c->proto == CHATD_PROTO_HTTP && !c->lingering)
            chatd_http_timeout(c);
        else if (c->lingering)
            free_conn(c);
        else /* no other timeout is armed; if one were, tell the broker */
            close_conn(c, "timed out");
        return;
    }
    n = conn_recv(c, buf, sizeof buf);
    /* Bytes TLS has decrypted already do not make the socket readable:
     * come back for them (before handling these, which may free c; a
     * freed event is taken off the active queue). */
    if (n > 0 && c->tls && chatd_tls_pending(c->tls))
        event_active(c->read_ev, EV_READ, 1);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (c->lingering) { /* input is discarded; EOF or an error ends it */
        if (n <= 0)
            free_conn(c);
        return;
    }
    if (n == 0) {
        on_eof(c);
        return;
    }
    if (n < 0) {
        char why[128];
        snprintf(why, sizeof why, "%s", strerror(errno));
        c->disc = CHATD_DISC_ERROR;
        close_conn(c, why);
        return;
    }
    c->srv->metrics.bytes_received += (uint64_t)n;
    if (c->proto == CHATD_PROTO_HTTP) {
        chatd_http_input(c, buf, (size_t)n);
        return;
    }
    if (c->proto == CHATD_PROTO_WS) {
        chatd_ws_input(c, buf, (size_t)n);
        return;
    }
    /* Once the peer closes (/quit) the broker ignores the rest; reading
     * on keeps the kernel's receive queue empty so the close is a FIN. */
    if (chat_peer_close_reason(c->peer) != CHAT_CLOSE_NONE)
        return;
    (void)chat_peer_feed(c->srv->broker, c->peer, buf, (size_t)n,
                         chatd_now_ms());
    /* Not written here: the flush pass writes each peer once per pass. */
    chatd_server_schedule_flush(c->srv);
}

static void set_nodelay(evutil_socket_t fd, const char *addr)
{
    int one = 1;

    /* Chat lines are small and latency matters more than packet count. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        log_debug("%s: TCP_NODELAY: %s", addr,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

int chatd_conn_join(struct chatd_conn *c, const chat_peer_options *opt)
{
    int err = chat_broker_join_opts(c->srv->broker, c, opt, chatd_now_ms(),
                                    &c->peer);

    if (err != CHAT_OK) {
        log_warn("%s: cannot join: %s", c->addr, chat_strerror(err));
        c->peer = NULL;
        return -1;
    }
    if (chat_peer_close_reason(c->peer) == CHAT_CLOSE_FULL)
        chatd_metrics_rejected(&c->srv->metrics, CHATD_REJECT_FULL);
    chatd_server_schedule_flush(c->srv); /* the greeting */
    return 0;
}

/* Watch the socket. Returns -1 (c still to be freed). */
static int make_events(struct chatd_conn *c)
{
    struct chatd_server *srv = c->srv;

    c->read_ev = event_new(srv->base, c->fd, EV_READ | EV_PERSIST,
                           on_readable, c);
    c->write_ev = event_new(srv->base, c->fd, EV_WRITE, on_writable, c);
    if (!c->read_ev || !c->write_ev) {
        log_warn("%s: cannot watch the socket", c->addr);
        return -1;
    }
    return 0;
}

/* Start the protocol of l's scheme (over TLS, once the handshake is
 * done). Returns -1 (c still to be freed). */
static int start_proto(struct chatd_conn *c, const struct chatd_listener *l)
{
    if (chatd_scheme_http(l->scheme)) {
        c->proto = CHATD_PROTO_HTTP;
        return chatd_http_begin(c);
    }
    c->proto = CHATD_PROTO_LINES;
    if (chatd_conn_join(c, &l->peer_opt) != 0)
        return -1;
    return chatd_conn_watch(c, NULL);
}

/* The handshake is done: the protocol starts. */
static void handshake_done(struct chatd_conn *c)
{
    c->handshaking = 0;
    c->until_ms = 0;
    release_slot(c); /* a chat peer or an HTTP request counts itself */
    log_debug("%s: %s, %s", c->addr, chatd_tls_version(c->tls),
              chatd_tls_cipher(c->tls));
    if (start_proto(c, c->listener) != 0)
        close_conn(c, "could not set up the connection");
}

/*
 * One step of a TLS handshake (the socket is ready as the last step asked,
 * or late: past --tls-handshake-timeout, whatever the client sends).
 * Plain text on a TLS port, garbage instead of a ClientHello, a reset or a
 * client that never finishes: closed, logged at verbose level only.
 */
static void handshake_step(struct chatd_conn *c, int late)
{
    int r = late ? CHATD_TLS_ERROR : chatd_tls_handshake(c->tls);

    if (r == CHATD_TLS_DONE) {
        handshake_done(c);
        return;
    }
    if (r == CHATD_TLS_WANT_READ)
        return; /* the read event is armed, with the deadline */
    if (r == CHATD_TLS_WANT_WRITE) {
        if (event_add(c->write_ev, c->srv->tls_tv) == 0)
            return;
    }
    log_debug("%s: TLS handshake failed: %s", c->addr,
              late ? "too slow" : chatd_tls_why(c->tls));
    c->disc = CHATD_DISC_HANDSHAKE;
    close_conn(c, "TLS handshake failed");
}

/* A TLS listener's connection: a session, a slot of --max-clients and a
 * place among the handshakes in progress (both bounded), a deadline. */
static int start_tls(struct chatd_conn *c)
{
    struct chatd_server *srv = c->srv;

    if (chatd_tls_ctx_handshakes(srv->tls_ctx) >= srv->cfg.tls_handshakes ||
        chatd_server_slot(srv, 1) != 0) {
        log_debug("%s: turned away: too many handshakes or clients", c->addr);
        chatd_metrics_rejected(&srv->metrics, CHATD_REJECT_FULL);
        return -1; /* no clear text on a TLS port: just closed */
    }
    c->slot = 1;
    c->tls = chatd_tls_new(srv->tls_ctx, c->fd);
    if (!c->tls)
        return -1;
    c->handshaking = 1;
    c->until_ms = chatd_now_ms() + srv->cfg.tls_timeout_ms;
    if (chatd_conn_watch(c, srv->tls_tv) != 0)
        return -1;
    handshake_step(c, 0);
    return 0;
}

static enum chatd_transport transport_of(enum chatd_scheme s)
{
    switch (s) {
    case CHATD_SCHEME_HTTP: return CHATD_TRANSPORT_HTTP;
    case CHATD_SCHEME_TLS: return CHATD_TRANSPORT_TLS;
    case CHATD_SCHEME_HTTPS: return CHATD_TRANSPORT_HTTPS;
    default: return CHATD_TRANSPORT_TCP;
    }
}

int chatd_conn_open(const struct chatd_listener *l, evutil_socket_t fd,
                    const struct sockaddr *sa, int salen)
{
    struct chatd_server *srv = l->srv;
    struct chatd_conn *c = calloc(1, sizeof *c);

    (void)salen;
    if (!c) {
        log_warn("out of memory: turning a connection away");
        chatd_metrics_rejected(&srv->metrics, CHATD_REJECT_ERROR);
        evutil_closesocket(fd);
        return -1;
    }
    c->srv = srv;
    c->listener = l;
    c->fd = fd;
    c->disc = CHATD_DISC_ERROR; /* until something better is known */
    chatd_format_addr(sa, c->addr, sizeof c->addr);
    set_nodelay(fd, c->addr);
    /* Writes must never block the loop (the listener sets it too). */
    evutil_make_socket_nonblocking(fd);
    link_conn(c);
    c->transport = transport_of(l->scheme);
    chatd_metrics_conn_opened(&srv->metrics, transport_of(l->scheme));
    log_debug("%s connected to %s (%zu open)", c->addr, l->label,
              srv->nconns);
    /* After start_tls() or start_proto() succeeds c may be gone (an HTTP
     * 503 answered and closed, a handshake that failed at once): nothing
     * touches it afterwards. */
    if (make_events(c) != 0 ||
        (chatd_scheme_tls(l->scheme) ? start_tls(c) : start_proto(c, l)) != 0) {
        c->disc = CHATD_DISC_ERROR;
        close_conn(c, "could not set up the connection");
        return -1;
    }
    return 0;
}
