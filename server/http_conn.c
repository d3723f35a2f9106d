/*
 * chatd - the HTTP phase of an http:// connection: one request head (at
 * most --http-head-max bytes, within --http-timeout), then one answer:
 * the chat page (GET /), the WebSocket upgrade (GET /ws, then ws_conn.c),
 * the metrics (GET /metrics), or a short error (400, 403, 404, 405, 408,
 * 431, 503...). Every plain answer closes the connection after it is
 * written (no keep-alive: a page load is one request, and a scrape every
 * few seconds costs one connection each). While it reads the head, a
 * connection holds one slot of --max-clients.
 *
 * The answer waits in an evbuffer of its own: it is not chat output (no
 * broker peer exists yet), it is bounded (the page is referenced, not
 * copied; a metrics scrape is a few KiB), and it is written whenever the
 * socket has room, with --http-timeout to finish.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "conn.h"
#include "http.h"
#include "log.h"
#include "page_html.h"

struct chatd_http_phase {
    struct chatd_http_parser parser;
    struct evbuffer *out; /* the answer, once there is one */
    int status;
};

int chatd_http_begin(struct chatd_conn *c)
{
    struct chatd_server *srv = c->srv;

    c->http = calloc(1, sizeof *c->http);
    if (!c->http)
        return -1;
    chatd_http_init(&c->http->parser, srv->cfg.http_head_max);
    if (chatd_server_slot(srv, 1) != 0) {
        static const char full[] = "Server is full, try again later\n";
        chatd_metrics_rejected(&srv->metrics, CHATD_REJECT_FULL);
        /* Answered (or closed) either way: c is the answer's now. */
        (void)chatd_http_answer(c, 503, "text/plain", full, sizeof full - 1,
                                NULL);
        return 0;
    }
    c->slot = 1;
    c->until_ms = chatd_now_ms() + srv->cfg.http_timeout_ms;
    return chatd_conn_watch(c, srv->http_tv);
}

int chatd_http_reading(const struct chatd_conn *c)
{
    return c->http && !c->http->out;
}

void chatd_http_end(struct chatd_conn *c)
{
    if (!c->http)
        return;
    c->until_ms = 0;
    if (c->slot) {
        c->slot = 0;
        chatd_server_slot(c->srv, 0);
    }
    if (c->http->out)
        evbuffer_free(c->http->out);
    free(c->http);
    c->http = NULL;
}

/* Plain requests that were answered count as served; refusals as failed
 * handshakes (metrics). */
static enum chatd_disconnect outcome(int status)
{
    return status < 400 || status == 404 || status == 405 ? CHATD_DISC_SERVED
                                                         : CHATD_DISC_HANDSHAKE;
}

/* Write what the socket takes; finish once it is all out. */
static void write_answer(struct chatd_conn *c)
{
    struct evbuffer *out = c->http->out;

    while (evbuffer_get_length(out) > 0) {
        /* A TLS record's worth at a time, through TLS when there is one;
         * a retry after EAGAIN passes the same bytes, as TLS requires. */
        size_t len = evbuffer_get_contiguous_space(out);
        if (len > 16384)
            len = 16384;
        const unsigned char *data = evbuffer_pullup(out, (ssize_t)len);
        ssize_t n = data ? chatd_conn_send(c, data, len) : -1;
        if (n > 0) {
            evbuffer_drain(out, (size_t)n);
            c->srv->metrics.bytes_sent += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            /* A client that does not read gets --http-timeout, no more. */
            if (event_add(c->write_ev, c->srv->http_tv) != 0)
                chatd_conn_close(c, "cannot watch the socket");
            return;
        }
        chatd_conn_close(c, "write failed");
        return;
    }
    char why[32];
    snprintf(why, sizeof why, "HTTP %d", c->http->status);
    c->disc = (uint8_t)outcome(c->http->status);
    chatd_http_end(c);
    chatd_conn_finish(c, why);
}

/* Start answering with head (and body, copied; or the page, by reference,
 * when body is NULL and len is the page's). Returns 0, or -1 if c was
 * closed for want of memory. */
static int answer_with(struct chatd_conn *c, int status, const char *head,
                       size_t head_len, const void *body, size_t len)
{
    struct chatd_http_phase *h = c->http;

    h->status = status;
    h->out = evbuffer_new();
    if (!h->out || evbuffer_add(h->out, head, head_len) != 0 ||
        (len && (body ? evbuffer_add(h->out, body, len)
                      : evbuffer_add_reference(h->out, chatd_page_html, len,
                                               NULL, NULL)) != 0)) {
        chatd_conn_close(c, "out of memory");
        return -1;
    }
    event_del(c->read_ev); /* nothing more is read: the answer closes */
    log_debug("%s: %s %s -> %d", c->addr, h->parser.req.method,
              h->parser.req.path, status);
    write_answer(c);
    return 0;
}

int chatd_http_answer(struct chatd_conn *c, int status, const char *type,
                      const void *body, size_t len, const char *extra)
{
    char head[512];
    size_t n = chatd_http_response(head, sizeof head, status, type, NULL, len,
                                   extra);
    if (n == 0) {
        chatd_conn_close(c, "response head too long");
        return -1;
    }
    return answer_with(c, status, head, n, body, len);
}

static void answer_error(struct chatd_conn *c, int status, const char *extra)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status,
                     chatd_http_reason(status));
    (void)chatd_http_answer(c, status, "text/plain; charset=utf-8", body,
                            (size_t)n, extra);
}

static void answer_page(struct chatd_conn *c)
{
    (void)chatd_http_answer(c, 200, "text/html; charset=utf-8", NULL,
                            chatd_page_html_len,
                            "Cache-Control: no-cache\r\n"
                            "X-Content-Type-Options: nosniff\r\n");
}

static void answer_metrics(struct chatd_conn *c)
{
    struct evbuffer *body = evbuffer_new();
    char head[512];
    size_t n = 0;

    if (body && chatd_metrics_render(&c->srv->metrics, c->srv->broker, body) == 0)
        n = chatd_http_response(head, sizeof head, 200,
                                CHATD_METRICS_CONTENT_TYPE, NULL,
                                evbuffer_get_length(body), NULL);
    if (n == 0) {
        if (body)
            evbuffer_free(body);
        answer_error(c, 500, NULL);
        return;
    }
    /* The body is built; the head goes in front of it. */
    c->http->status = 200;
    c->http->out = body;
    if (evbuffer_prepend(body, head, n) != 0) {
        chatd_conn_close(c, "out of memory");
        return;
    }
    event_del(c->read_ev);
    write_answer(c);
}

/* GET /ws: the handshake, then WebSocket with the bytes after the head. */
static void upgrade(struct chatd_conn *c, char *rest, size_t n)
{
    const struct chatd_http_req *req = &c->http->parser.req;
    char out[512];
    size_t len;

    if (!chatd_ws_origin_allowed(c->srv->cfg.ws_origin, req->origin)) {
        log_debug("%s: WebSocket from origin '%s' refused", c->addr,
                  req->origin);
        answer_error(c, 403, NULL);
        return;
    }
    int status = chatd_ws_handshake(req, out, sizeof out, &len);
    if (status != 101) {
        c->http->status = status;
        (void)answer_with(c, status, out, len, NULL, 0);
        return;
    }
    /* A fresh socket's buffer takes the 101 whole: send it now, so it
     * precedes the greeting the broker queues at the join. */
    if (chatd_conn_send(c, out, len) != (ssize_t)len) {
        chatd_conn_close(c, "could not send the handshake");
        return;
    }
    c->srv->metrics.bytes_sent += len;
    chatd_http_end(c); /* gives the slot back for the join to take */
    (void)chatd_ws_begin(c, rest, n);
}

static void route(struct chatd_conn *c, char *rest, size_t n)
{
    const struct chatd_http_req *req = &c->http->parser.req;

    if (strcmp(req->method, "GET") != 0) {
        answer_error(c, 405, "Allow: GET\r\n");
    } else if (strcmp(req->path, "/ws") == 0) {
        upgrade(c, rest, n);
    } else if (strcmp(req->path, "/") == 0 ||
               strcmp(req->path, "/index.html") == 0) {
        answer_page(c);
    } else if (strcmp(req->path, "/metrics") == 0) {
        answer_metrics(c);
    } else {
        answer_error(c, 404, NULL);
    }
}

void chatd_http_input(struct chatd_conn *c, char *buf, size_t n)
{
    size_t used = 0;

    if (c->http->out)
        return; /* answering: the rest is not read */
    int r = chatd_http_parse(&c->http->parser, buf, n, &used);
    if (r == CHATD_HTTP_MORE)
        return;
    if (r != CHATD_HTTP_DONE) {
        answer_error(c, r, NULL);
        return;
    }
    route(c, buf + used, n - used);
}

void chatd_http_timeout(struct chatd_conn *c)
{
    if (c->http && !c->http->out) {
        log_debug("%s: no request within the time limit", c->addr);
        answer_error(c, 408, NULL);
        return;
    }
    c->disc = CHATD_DISC_HANDSHAKE;
    chatd_conn_close(c, "answer not taken in time");
}

void chatd_http_writable(struct chatd_conn *c, int timed_out)
{
    if (timed_out || !c->http || !c->http->out) {
        c->disc = CHATD_DISC_HANDSHAKE;
        chatd_conn_close(c, "answer not taken in time");
        return;
    }
    write_answer(c);
}
