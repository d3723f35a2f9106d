/*
 * chatd - the WebSocket phase of an http:// connection (RFC 6455). The
 * client's frames are decoded in place (ws.c) and each text message goes
 * to the broker as one line, piece by piece (chat_peer_feed_line: chatd
 * never buffers a message). Everything the server sends is already in the
 * peer's outbox as frames: lines (libchat frames them, once per line for
 * every WebSocket recipient) and pongs (chat_peer_send_raw), so writing is
 * conn.c's ordinary path, once per loop pass. The close frame goes last,
 * when the outbox is empty and the peer closing (chatd_ws_goodbye).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "log.h"
#include "ws.h"

/* The close code that means "echo an empty close" here (it is never sent:
 * RFC 6455 reserves 1005 for "no status received"). */
#define CLOSE_EMPTY 1005
#define GOING_AWAY 1001

/* What one chatd_ws_feed() call found besides text. */
struct feed_state {
    struct chatd_conn *c;
    unsigned fail;        /* a close code: the stream broke a rule */
    const char *reason;
    size_t reason_len;
    int closed;           /* the client sent its close frame */
};

static void pong(struct chatd_conn *c, const struct chatd_ws_event *ev)
{
    unsigned char frame[CHATD_WS_CONTROL_FRAME_MAX];
    size_t n = chatd_ws_pong(frame, ev->data, ev->len);
    /* In the outbox, behind the lines already there: counted in the
     * peer's backlog like a reply, so a ping flood is a slow consumer. */
    (void)chat_peer_send_raw(c->srv->broker, c->peer, frame, n,
                             chatd_now_ms());
}

static int on_event(void *ctx, const struct chatd_ws_event *ev)
{
    struct feed_state *st = ctx;
    struct chatd_conn *c = st->c;

    switch (ev->type) {
    case CHATD_WS_TEXT:
        (void)chat_peer_feed_line(c->srv->broker, c->peer, ev->data, ev->len,
                                  !ev->fin, chatd_now_ms());
        break;
    case CHATD_WS_PING:
        pong(c, ev);
        break;
    case CHATD_WS_PONG:
        break;
    case CHATD_WS_CLOSE:
        st->closed = 1;
        c->ws_close = ev->code ? ev->code : CLOSE_EMPTY; /* echoed */
        return 1;
    case CHATD_WS_FAIL:
        st->fail = ev->code;
        st->reason = ev->data;
        st->reason_len = ev->len;
        return 1;
    }
    /* A peer that closed (/quit, a cut) reads no more. */
    return chat_peer_close_reason(c->peer) != CHAT_CLOSE_NONE;
}

/* Send a close frame now, best effort: the last thing on the wire. */
static void send_close(struct chatd_conn *c, unsigned code, const char *reason,
                       size_t len)
{
    unsigned char frame[CHATD_WS_CONTROL_FRAME_MAX];
    size_t n = chatd_ws_close(frame, code == CLOSE_EMPTY ? 0 : code, reason,
                              len);
    if (chatd_conn_send(c, frame, n) > 0)
        c->srv->metrics.bytes_sent += n;
}

/* The stream broke a rule: say why with the close code, and close. The
 * message in progress, if any, is not a line: the peer is released as
 * is (its room is told it left). */
static void fail(struct chatd_conn *c, const struct feed_state *st)
{
    log_debug("%s: WebSocket closed with %u: %.*s", c->addr, st->fail,
              (int)st->reason_len, st->reason);
    send_close(c, st->fail, st->reason, st->reason_len);
    c->disc = CHATD_DISC_ERROR;
    chatd_conn_close(c, "WebSocket protocol error");
}

void chatd_ws_input(struct chatd_conn *c, char *buf, size_t n)
{
    struct feed_state st = {.c = c};

    if (!c->peer || chat_peer_close_reason(c->peer) != CHAT_CLOSE_NONE)
        return; /* closing: what comes now is not read */
    (void)chatd_ws_feed(c->ws, (unsigned char *)buf, n, on_event, &st);
    if (st.fail) {
        fail(c, &st);
        return;
    }
    if (st.closed)
        chat_peer_eof(c->srv->broker, c->peer, chatd_now_ms());
    chatd_server_schedule_flush(c->srv);
}

void chatd_ws_eof(struct chatd_conn *c)
{
    /* Gone without a close frame: a message cut off is dropped. */
    chat_peer_eof(c->srv->broker, c->peer, chatd_now_ms());
    chatd_server_schedule_flush(c->srv);
}

void chatd_ws_goodbye(struct chatd_conn *c)
{
    unsigned code = c->ws_close;
    if (!code)
        code = chat_peer_close_reason(c->peer) == CHAT_CLOSE_SHUTDOWN
                   ? GOING_AWAY
                   : CHATD_WS_NORMAL;
    send_close(c, code, NULL, 0);
}

int chatd_ws_begin(struct chatd_conn *c, char *rest, size_t n)
{
    c->ws = malloc(sizeof *c->ws);
    if (!c->ws) {
        chatd_conn_close(c, "out of memory");
        return -1;
    }
    /* No cap of our own on a message: the broker keeps at most 400 bytes
     * of a line and answers a longer one, so nothing here grows. */
    chatd_ws_init(c->ws, 0);
    c->proto = CHATD_PROTO_WS;
    enum chatd_transport from = c->tls ? CHATD_TRANSPORT_HTTPS
                                       : CHATD_TRANSPORT_HTTP;
    enum chatd_transport to = c->tls ? CHATD_TRANSPORT_WSS : CHATD_TRANSPORT_WS;
    chatd_metrics_conn_upgraded(&c->srv->metrics, from, to);
    c->transport = to;
    event_del(c->read_ev); /* the head's timeout ends with the HTTP phase */
    if (chatd_conn_join(c, &c->listener->peer_opt) != 0 ||
        chatd_conn_watch(c, NULL) != 0) {
        chatd_conn_close(c, "could not join");
        return -1;
    }
    if (n)
        chatd_ws_input(c, rest, n);
    return 0;
}

void chatd_ws_end(struct chatd_conn *c)
{
    free(c->ws);
    c->ws = NULL;
}
