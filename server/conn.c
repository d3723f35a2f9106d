/*
 * chatd - one client connection: a bufferevent joined to a broker peer.
 *
 * Input is fed to the broker as it arrives; output is copied from the
 * broker's outbox into the bufferevent only while that holds less than
 * cfg.out_cap bytes, so the broker's backlog is the real backlog and the
 * broker decides who is a slow consumer. A closing peer is flushed, then
 * its socket is half-closed and lingers briefly for the client's EOF.
 */
#define _POSIX_C_SOURCE 200809L

#include "server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"


/* Pieces of outbox described per chat_peer_peek call. */
#define PEEK_IOVS 64

struct chatd_conn {
    struct chatd_server *srv;
    struct bufferevent *bev;
    chat_peer *peer;          /* NULL once released (lingering) */
    struct chatd_conn *prev, *next;
    unsigned draining : 1;    /* closing: waiting for the output to empty */
    unsigned lingering : 1;   /* write side shut: waiting for EOF */
    unsigned eof : 1;         /* the client's input ended */
    char addr[64];
};

/* The write-stall timeout always; the linger timeout on reads while
 * lingering. Both are the server's common timeouts. */
static void set_timeouts(struct chatd_conn *c, int lingering)
{
    bufferevent_set_timeouts(c->bev, lingering ? c->srv->linger_tv : NULL,
                             c->srv->write_tv);
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
    bufferevent_free(c->bev);
    free(c);
    chatd_server_conn_gone(srv);
}

static void close_conn(struct chatd_conn *c, const char *why)
{
    release_peer(c, why);
    free_conn(c);
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
static void output_done(struct chatd_conn *c)
{
    chat_close_reason r = chat_peer_close_reason(c->peer);

    if (c->eof) {
        close_conn(c, chat_close_reason_str(r));
        return;
    }
    release_peer(c, chat_close_reason_str(r));
    if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) != 0) {
        free_conn(c);
        return;
    }
    c->lingering = 1;
    set_timeouts(c, 1);
}

static void start_draining(struct chatd_conn *c)
{
    c->draining = 1;
    /* From now on the write callback means "output is empty". */
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        output_done(c);
}

/*
 * Copy up to `room` bytes of p's pending output into out with one
 * evbuffer operation: reserve one contiguous region, copy every piece into
 * it, commit. (An evbuffer_add per message costs more than the copy.)
 * Returns the bytes copied, 0 if nothing is pending, -1 out of memory.
 */
static long copy_pending(struct evbuffer *out, const chat_peer *p, size_t room)
{
    chat_iov iov[PEEK_IOVS];
    size_t k = chat_peer_peek(p, iov, PEEK_IOVS), total = 0;
    struct evbuffer_iovec v;

    for (size_t i = 0; i < k; i++)
        total += iov[i].len;
    if (total > room)
        total = room; /* a piece may be cut: consume() takes byte counts */
    if (total == 0)
        return 0;
    if (evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) != 1)
        return -1;
    char *dst = v.iov_base;
    size_t left = total;
    for (size_t i = 0; i < k && left; i++) {
        size_t n = iov[i].len < left ? iov[i].len : left;
        memcpy(dst, iov[i].base, n);
        dst += n;
        left -= n;
    }
    v.iov_len = total;
    return evbuffer_commit_space(out, &v, 1) == 0 ? (long)total : -1;
}

/*
 * Move the outbox into the bufferevent until it holds out_cap bytes.
 * Returns -1 if nothing could be copied for lack of memory.
 */
static int fill_output(struct chatd_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t have = evbuffer_get_length(out);
    size_t cap = c->srv->cfg.out_cap;
    uint64_t now = chatd_now_ms();

    while (have < cap && chat_peer_pending(c->peer) > 0) {
        long n = copy_pending(out, c->peer, cap - have);
        if (n <= 0)
            return n < 0 ? -1 : 0;
        /* Consuming may queue a "dropped" notice: the loop takes it too. */
        chat_peer_consume(c->srv->broker, c->peer, (size_t)n, now);
        have += (size_t)n;
    }
    return 0;
}

void chatd_conn_pump(struct chatd_conn *c)
{
    chat_close_reason r;

    if (!c->peer || c->draining)
        return;
    r = chat_peer_close_reason(c->peer);
    if (r != CHAT_CLOSE_NONE && !chat_close_reason_flushes(r)) {
        close_conn(c, chat_close_reason_str(r));
        return;
    }
    if (fill_output(c) != 0) {
        log_warn("%s: out of memory for output", c->addr);
        close_conn(c, "out of memory");
        return;
    }
    /* Consuming can end a peer (EOF waits for its output): look again. */
    r = chat_peer_close_reason(c->peer);
    if (r != CHAT_CLOSE_NONE && chat_peer_pending(c->peer) == 0)
        start_draining(c);
}

/* Hand every contiguous chunk of input to the broker. */
static void feed_input(struct chatd_conn *c, struct evbuffer *in)
{
    uint64_t now = chatd_now_ms();

    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v[8];
        int n = evbuffer_peek(in, -1, NULL, v, 8);
        size_t used = 0;

        if (n > 8)
            n = 8;
        for (int i = 0; i < n; i++) {
            /* CHAT_ERR_STATE once the peer closes mid-chunk (/quit):
             * the rest is meant to be ignored. */
            (void)chat_peer_feed(c->srv->broker, c->peer, v[i].iov_base,
                                 v[i].iov_len, now);
            used += v[i].iov_len;
        }
        evbuffer_drain(in, used);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct chatd_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (!c->peer || chat_peer_close_reason(c->peer) != CHAT_CLOSE_NONE) {
        /* The broker ignores it now; reading on keeps the kernel's
         * receive queue empty so the final close is a clean FIN. */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    feed_input(c, in);
    /* Not written here: the flush pass writes each peer once per pass. */
    chatd_server_schedule_flush(c->srv);
}

/* The output fell to the low watermark (0 while draining). */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct chatd_conn *c = arg;
    struct chatd_server *srv = c->srv;

    if (c->draining) {
        if (!c->lingering &&
            evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            output_done(c);
        return;
    }
    chatd_conn_pump(c);
    chatd_server_schedule_flush(srv);
}

static void on_eof(struct chatd_conn *c)
{
    c->eof = 1;
    /* The broker runs a last unterminated line and lets the user leave;
     * the socket closes once the output is flushed (the client may still
     * be reading after a half-close). */
    chat_peer_eof(c->srv->broker, c->peer, chatd_now_ms());
    chatd_server_schedule_flush(c->srv);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct chatd_conn *c = arg;

    (void)bev;
    if (c->lingering) { /* EOF, error or the linger timeout: all done */
        free_conn(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        on_eof(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        close_conn(c, "write-timeout (socket)");
        return;
    }
    char why[128];
    snprintf(why, sizeof why, "%s",
             evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    close_conn(c, why);
}

static void set_nodelay(evutil_socket_t fd, const char *addr)
{
    int one = 1;

    /* Chat lines are small and latency matters more than packet count. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        log_debug("%s: TCP_NODELAY: %s", addr,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* Join the broker and start I/O. Returns -1 (c still to be freed). */
static int start_conn(struct chatd_conn *c)
{
    struct chatd_server *srv = c->srv;
    int err = chat_broker_join(srv->broker, c, chatd_now_ms(), &c->peer);

    if (err != CHAT_OK) {
        log_warn("%s: cannot join: %s", c->addr, chat_strerror(err));
        return -1;
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, srv->cfg.out_cap / 4, 0);
    set_timeouts(c, 0);
    if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0) {
        log_warn("%s: cannot watch the socket", c->addr);
        chat_peer_release(srv->broker, c->peer, chatd_now_ms());
        c->peer = NULL;
        return -1;
    }
    return 0;
}

int chatd_conn_open(struct chatd_server *srv, evutil_socket_t fd,
                    const struct sockaddr *sa, int salen)
{
    struct chatd_conn *c = calloc(1, sizeof *c);

    (void)salen;
    if (!c) {
        log_warn("out of memory: turning a connection away");
        evutil_closesocket(fd);
        return -1;
    }
    c->srv = srv;
    chatd_format_addr(sa, c->addr, sizeof c->addr);
    set_nodelay(fd, c->addr);
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        log_warn("%s: out of memory for the connection", c->addr);
        evutil_closesocket(fd);
        free(c);
        return -1;
    }
    if (start_conn(c) != 0) {
        bufferevent_free(c->bev);
        free(c);
        return -1;
    }
    link_conn(c);
    log_debug("%s connected (%zu open)", c->addr, srv->nconns);
    chatd_server_schedule_flush(srv); /* the greeting */
    return 0;
}
