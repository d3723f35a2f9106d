/*
 * chatd - a client connection, as the protocol modules see it. conn.c
 * owns the socket, its two events, the broker peer, the write path (the
 * broker's outbox, one send() per loop pass) and the clean close;
 * http_conn.c adds the HTTP phase of an http:// connection (one request
 * head, then a response or the WebSocket upgrade) and ws_conn.c the
 * WebSocket phase (client frames in; the server's frames are already in
 * the outbox). Not installed.
 */
#ifndef CHATD_CONN_H
#define CHATD_CONN_H

#include "server.h"

enum chatd_proto {
    CHATD_PROTO_LINES, /* tcp://: the line protocol over the socket */
    CHATD_PROTO_HTTP,  /* http://, before the request is answered */
    CHATD_PROTO_WS,    /* http:// after the upgrade: WebSocket */
};

struct chatd_http_phase;
struct chatd_ws_decoder;
struct chatd_tls;

struct chatd_conn {
    struct chatd_server *srv;
    const struct chatd_listener *listener;
    evutil_socket_t fd;
    struct event *read_ev;    /* persistent; with a timeout while lingering
                                 or reading a request head */
    struct event *write_ev;   /* armed only while the socket is full */
    chat_peer *peer;          /* NULL before joining (HTTP) or once released */
    struct chatd_conn *prev, *next;
    unsigned blocked : 1;     /* write_ev armed: the socket took no more */
    unsigned lingering : 1;   /* write side shut: waiting for EOF */
    unsigned eof : 1;         /* the client's input ended */
    unsigned proto : 2;       /* enum chatd_proto */
    unsigned slot : 1;        /* holds one of --max-clients' slots before
                                 joining the broker (HTTP phase) */
    unsigned transport : 3;   /* enum chatd_transport, for metrics */
    unsigned handshaking : 1; /* TLS handshake in progress */
    struct chatd_tls *tls;    /* tls://, https://: the session, else NULL */
    struct chatd_http_phase *http; /* the HTTP phase's state, or NULL */
    struct chatd_ws_decoder *ws;   /* the WebSocket phase's, or NULL */
    unsigned ws_close;        /* close code to end with (0: the default) */
    uint64_t until_ms;        /* lingering or reading a request head: when
                                 that ends, whatever the client sends (a
                                 read event's timeout restarts at every
                                 byte, so it alone would let a trickle
                                 hold the connection for ever) */
    uint8_t disc;             /* enum chatd_disconnect, for metrics */
    char addr[64];
};

/* ---- conn.c, for the protocol modules ---------------------------------- */

/* Join the broker with opt: the connection becomes a chat peer. Returns 0,
 * or -1 after logging (c still open: close it). */
int chatd_conn_join(struct chatd_conn *c, const chat_peer_options *opt);

/* Release the peer (its room is told) and free c; why is for the log. */
void chatd_conn_close(struct chatd_conn *c, const char *why);

/* Everything c had to say is written: release the peer, half-close, and
 * wait briefly for the client's EOF before closing (so unread input cannot
 * turn the close into a reset that destroys the last bytes). */
void chatd_conn_finish(struct chatd_conn *c, const char *why);

/* Send through TLS or to the socket: bytes taken, or -1 with errno set
 * (EAGAIN: nothing taken, try again with the same bytes when writable). */
ssize_t chatd_conn_send(struct chatd_conn *c, const void *data, size_t len);

/* Arm the read event with timeout tv (NULL: none). Returns 0 or -1. */
int chatd_conn_watch(struct chatd_conn *c, const struct timeval *tv);

/* Non-zero if the request head is still being read (no answer yet). */
int chatd_http_reading(const struct chatd_conn *c);

/* ---- http_conn.c ---------------------------------------------------------- */

/* Begin the HTTP phase of a connection an http:// listener accepted.
 * Returns 0 (c may be answered and closed already, e.g. 503 when the
 * server is full: do not touch it), or -1 (c still to be closed). */
int chatd_http_begin(struct chatd_conn *c);
/* Bytes the client sent during the HTTP phase (buf is writable). */
void chatd_http_input(struct chatd_conn *c, char *buf, size_t n);
/* The request head did not arrive in time. */
void chatd_http_timeout(struct chatd_conn *c);
/* The socket has room for more of a response (or the wait timed out). */
void chatd_http_writable(struct chatd_conn *c, int timed_out);
/* Free the HTTP phase's state (and give back its slot). */
void chatd_http_end(struct chatd_conn *c);
/* Answer with status, a Content-Type and a body (copied; NULL: the page,
 * by reference), extra header lines (NULL: none), then close once it is
 * written. Returns 0, or -1 if c was closed. */
int chatd_http_answer(struct chatd_conn *c, int status, const char *type,
                      const void *body, size_t len, const char *extra);

/* ---- ws_conn.c -------------------------------------------------------------- */

/* The handshake is answered: join the broker as a WebSocket peer and
 * decode the bytes that came after the head. Returns 0, or -1 after
 * closing c. */
int chatd_ws_begin(struct chatd_conn *c, char *rest, size_t n);
/* Bytes the client sent in the WebSocket phase (buf is writable: frames
 * are unmasked in place). */
void chatd_ws_input(struct chatd_conn *c, char *buf, size_t n);
/* The client's input ended (EOF on the socket). */
void chatd_ws_eof(struct chatd_conn *c);
/* The peer's output is all written and it is closing: the server's close
 * frame, sent directly (it comes after every line). */
void chatd_ws_goodbye(struct chatd_conn *c);
/* Free the WebSocket phase's state. */
void chatd_ws_end(struct chatd_conn *c);

#endif /* CHATD_CONN_H */
