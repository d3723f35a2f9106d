/*
 * chatd - HTTP/1.1 request heads, as far as the http:// listener needs
 * them (GET /, GET /ws, GET /metrics), and the WebSocket handshake.
 * Sans-I/O and allocation-free: bytes in, a fixed-size result out.
 *
 * Why our own parser: libevent 2.1's evhttp cannot hand an upgraded
 * connection back to its caller, and the listener needs only a request
 * line and six header values. A byte-at-a-time state machine keeps
 * incremental input trivial (a head may arrive one byte per read) and
 * bounds everything: the head's size (431 past it) and each stored value.
 *
 * The grammar (RFC 9112), strict where leniency would hide a broken or
 * hostile client, lenient where real clients differ:
 *   request line  METHOD SP TARGET SP HTTP/1.x, then CRLF or a bare LF;
 *                 empty lines before it are skipped (RFC 9112 2.2)
 *   METHOD        a token of at most CHATD_HTTP_METHOD_MAX bytes (501)
 *   TARGET        origin-form "/path?query", absolute-form
 *                 "http://host/path" (reduced to its path) or "*";
 *                 visible ASCII; path and query each at most their
 *                 buffer (414)
 *   header line   token ":" OWS value OWS; no space before the colon, no
 *                 obs-fold (a line starting with a space): 400
 *   the end       an empty line
 * Bytes after the head are not consumed: pipelined requests, or the first
 * WebSocket frames a client sent without waiting for the 101.
 */
#ifndef CHATD_HTTP_H
#define CHATD_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* The default bound on a request head, in bytes (--http-head-max). */
#define CHATD_HTTP_HEAD_MAX 8192

#define CHATD_HTTP_METHOD_MAX 16
#define CHATD_HTTP_PATH_MAX 1024
#define CHATD_HTTP_QUERY_MAX 1024

/* What chatd_http_parse() returns besides an HTTP error status. */
enum {
    CHATD_HTTP_MORE = 0, /* the head is not complete: feed more */
    CHATD_HTTP_DONE = 1, /* the head is complete: see p->req */
};

/*
 * A parsed request head. Strings are NUL-terminated, "" when absent;
 * header values have their surrounding whitespace removed and repeated
 * list headers (Connection, Upgrade) joined with ", ", as RFC 9110 5.3
 * allows. Host, Origin, Content-Length and the Sec-WebSocket- headers may
 * appear once (twice is a 400).
 */
struct chatd_http_req {
    char method[CHATD_HTTP_METHOD_MAX + 1]; /* case-sensitive: "GET" */
    char path[CHATD_HTTP_PATH_MAX + 1];     /* target up to "?", as sent
                                               (not percent-decoded) */
    char query[CHATD_HTTP_QUERY_MAX + 1];   /* after "?", as sent */
    int minor;                              /* HTTP/1.minor: 0 or 1+ */
    char host[256];
    char connection[256];                   /* a token list */
    char upgrade[128];                      /* a token list */
    char ws_key[64];                        /* Sec-WebSocket-Key */
    char ws_version[16];                    /* Sec-WebSocket-Version */
    char origin[256];
    int64_t content_length;                 /* -1 when absent */
    int transfer_encoding;                  /* 1: a Transfer-Encoding came */
};

/*
 * The parser: embed it in the connection (no allocation), set it up with
 * chatd_http_init(), feed it with chatd_http_parse(). req is the result;
 * the other fields are private.
 */
struct chatd_http_parser {
    struct chatd_http_req req;
    size_t max_head;      /* bound on the head's bytes */
    size_t head_len;      /* bytes consumed so far */
    int result;           /* MORE, DONE or an error status */
    unsigned state;
    int cr;               /* a CR came: the next byte must be LF */
    unsigned field;       /* the header being read (an index) */
    size_t len;           /* bytes in the string being built */
    int separate;         /* a list header repeats: ", " before its value */
    unsigned seen;        /* one bit per single-valued header seen */
    char name[32];        /* the header name, lowercased */
    char version[9];      /* "HTTP/1.1" */
    char clen[24];        /* Content-Length's digits */
};

/* Start a request (again, for the next one on a kept-alive connection).
 * max_head 0 means CHATD_HTTP_HEAD_MAX. */
void chatd_http_init(struct chatd_http_parser *p, size_t max_head);

/*
 * Parse len more bytes of the head. *used is set to how many were
 * consumed: all of them while the result is CHATD_HTTP_MORE; on
 * CHATD_HTTP_DONE the head's last byte is data[*used - 1], and what
 * follows belongs to the caller (a body, if content_length > 0 or
 * transfer_encoding: chatd reads none, so it answers and closes).
 * Otherwise an error status: 400 (malformed), 414 (path or query too
 * long), 431 (head past max_head, or a stored value past its buffer), 501
 * (method too long to be one chatd knows), 505 (not HTTP/1.x). Answer it
 * and close. After DONE or an error, further calls consume nothing and
 * return the same result.
 */
int chatd_http_parse(struct chatd_http_parser *p, const char *data,
                     size_t len, size_t *used);

/* Non-zero if token is in list (comma-separated, whitespace around items
 * ignored, ASCII case-insensitive): Connection "keep-alive, Upgrade" has
 * "upgrade". */
int chatd_http_has_token(const char *list, const char *token);

/* Non-zero if the client asked for the connection to stay open: HTTP/1.1
 * unless "Connection: close"; HTTP/1.0 only with "keep-alive". */
int chatd_http_keep_alive(const struct chatd_http_req *req);

/* The reason phrase of a status chatd sends ("Not Found"), or "Unknown". */
const char *chatd_http_reason(int status);

/*
 * Write a whole response into buf (cap bytes): status line, Content-Type
 * (omitted if content_type is NULL), Content-Length: body_len,
 * Connection: close, extra_headers as given (each line ending in "\r\n";
 * NULL for none), the empty line, then body. body NULL writes the head
 * alone, for a caller that sends body_len bytes of its own after it (the
 * embedded page, by reference). Returns the bytes written, or 0 if they
 * do not fit in cap (nothing useful is in buf then).
 */
size_t chatd_http_response(char *buf, size_t cap, int status,
                           const char *content_type, const char *body,
                           size_t body_len, const char *extra_headers);

/* ---- WebSocket handshake (RFC 6455 section 4.2) ------------------------- */

/* A Sec-WebSocket-Accept value: 28 base64 characters and a NUL. */
#define CHATD_WS_ACCEPT_LEN 28

/*
 * The Sec-WebSocket-Accept for key: base64(SHA-1(key + the RFC's GUID)),
 * through libcrypto. Returns 0, or -1 if libcrypto failed.
 */
int chatd_ws_accept_key(const char *key, char out[CHATD_WS_ACCEPT_LEN + 1]);

/*
 * Check req as a WebSocket opening handshake and write the whole answer
 * into out (cap bytes; 512 always suffice) with its length in *len.
 * Returns the status written:
 *   101  Switching Protocols with Sec-WebSocket-Accept: the connection
 *        speaks WebSocket once it is written
 *   405  not GET (with Allow: GET)
 *   426  no Upgrade header at all (a plain GET of the WebSocket URL), or a
 *        Sec-WebSocket-Version other than 13; with Sec-WebSocket-Version:
 *        13 so the client knows what to speak
 *   400  anything else malformed: HTTP/1.0, Upgrade without "websocket",
 *        Connection without "upgrade", a key that is not 16 bytes in
 *        base64, no version
 *   500  libcrypto failed
 * Any status but 101 is answered with Connection: close, then close.
 * Origin is checked apart (chatd_ws_origin_allowed, 403 when refused).
 * Returns -1 (and *len 0) only if cap is too small.
 */
int chatd_ws_handshake(const struct chatd_http_req *req, char *out,
                       size_t cap, size_t *len);

/*
 * Whether a WebSocket from origin may connect, given allowed (--ws-origin:
 * comma-separated origins such as "https://chat.example.org,
 * http://localhost:8080"). Any origin is allowed when allowed is NULL or
 * empty. Otherwise an origin is allowed if it equals one of the list's
 * items, comparing ASCII case-insensitively (schemes and hosts are
 * case-insensitive; an origin has nothing else but a port). A request
 * with no Origin (origin "") is allowed: browsers always send one, and
 * the check protects browser users from other sites' pages, not the
 * server from clients that can send any header they like.
 */
int chatd_ws_origin_allowed(const char *allowed, const char *origin);

#endif /* CHATD_HTTP_H */
