/*
 * A WebSocket client written by hand, for testing chatd's http:// listener
 * over a real socket: the opening handshake, frames sent exactly as a test
 * builds them (masked or not, any header bits, any opcode, cut anywhere),
 * and every frame the server sends read back and checked against RFC 6455
 * (a server frame is never masked, has no reserved bit, and each chat line
 * is one final text frame). Plain HTTP requests and responses too.
 *
 * Built on the integration harness (tests/integration/harness.h): a
 * `client` is the harness's socket and buffer, `srv` the test's chatd.
 */
#ifndef CHATD_TEST_WSCLIENT_H
#define CHATD_TEST_WSCLIENT_H

#include <stddef.h>

#include "harness.h"

/* Opcodes and header bits (RFC 6455 section 5.2). */
#define WS_FIN 0x80
#define WS_RSV1 0x40
#define WS_RSV2 0x20
#define WS_RSV3 0x10
#define WS_CONT 0x0
#define WS_TEXT 0x1
#define WS_BINARY 0x2
#define WS_CLOSE 0x8
#define WS_PING 0x9
#define WS_PONG 0xA

/* The port of srv's http:// listener (set by start_http). */
extern int http_port;

/*
 * Whether this chatd can listen on http:// at all: a chatd (without
 * $CHATD_WRAPPER, it is only asked) started with --listen
 * http://127.0.0.1:0 logs "listening on http://". For CHAT_CASE_IF: where
 * it cannot, every case skips (77) instead of failing.
 */
int chatd_has_http(void);

/*
 * Start srv with "-p 0 --listen http://127.0.0.1:0" and args
 * (NULL-terminated, may be NULL), or fail the test. srv.port is the TCP
 * listener's, http_port the http:// one's.
 */
void start_http(const char *const *args);

/*
 * Every client a test opens is tracked and closed when the test's process
 * exits (before LeakSanitizer looks), so cases need not close what they
 * leave open. Close one early with drop (FIN) or drop_reset (RST).
 */
client *track(client *c);
void drop(client *c);
void drop_reset(client *c);

/* A telnet user on srv's TCP listener, greeted (harness join()), tracked. */
client *tcp_join(void);

/* A plain TCP connection to the http:// listener, or fail the test. */
client *http_connect(void);

/* A parsed HTTP response. */
typedef struct http_resp {
    int status;
    char head[8192];  /* status line and headers, NUL-terminated */
    char *body;       /* malloc'd, NUL-terminated; free with http_free */
    size_t body_len;
} http_resp;

/*
 * Read a response head from c (within DEFAULT_WAIT_MS), and its body if
 * read_body (Content-Length bytes; all until EOF without one). Bytes after
 * the head stay in c->buf when read_body is 0 (a 101's first frames).
 * Returns 0, or -1 with the reason in r->head.
 */
int http_read(client *c, http_resp *r, int read_body);
void http_free(http_resp *r);

/* The value of header name in r (case-insensitive), or NULL. Valid until
 * the next call. */
const char *http_header(const http_resp *r, const char *name);

/*
 * Send raw (a whole request, as is) on a new connection and read the
 * answer, or fail the test; chatd must then close the connection.
 */
void http_request(const char *raw, http_resp *r);

/*
 * Connect and upgrade to WebSocket on /ws with a valid handshake plus
 * extra header lines (each ending in "\r\n"; NULL none); the 101 and its
 * Sec-WebSocket-Accept are checked. rcvbuf > 0 sets SO_RCVBUF first (a
 * reader that falls behind). The first frames stay unread.
 */
client *ws_open(const char *extra, int rcvbuf);

/* ws_open, then the greeting up to "You joined main" (name in c->name). */
client *ws_join(void);

/* Send one frame: b0 is FIN, RSV and opcode bits as they go on the wire;
 * masked with a fresh non-zero key if mask. Returns 0, or -1 (send
 * failed: the server is gone). */
int ws_send_frame(client *c, unsigned b0, const void *payload, size_t len,
                  int mask);
/* Build that frame into out (cap bytes) without sending it; returns its
 * length, 0 if it does not fit. */
size_t ws_build_frame(unsigned char *out, size_t cap, unsigned b0,
                      const void *payload, size_t len, int mask);

/* One masked final text frame holding the formatted text, or fail. */
void ws_send(client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The next frame from the server, described as a string:
 *   a text frame        its payload (cut at 1023 bytes)
 *   a close frame       "<close CODE>" ("<close>" if it had no payload);
 *                       ws_close_reason holds its reason
 *   ping, pong          "<ping PAYLOAD>", "<pong PAYLOAD>"
 *   anything else       "<binary N>", "<opcode N>"
 *   a frame no server may send (masked, RSV bits, not final)
 *                       "<bad frame: WHY>"
 *   nothing in time     "<timeout>" (timeout_ms; ws_next: DEFAULT_WAIT_MS)
 *   the end of input    "<eof>"
 * Valid until the next call.
 */
const char *ws_frame(client *c, int timeout_ms);
const char *ws_next(client *c);

/* The reason of the last close frame ws_frame returned. */
extern char ws_close_reason[128];

/* The next frame must be a text frame holding exactly the formatted text. */
#define WS_EXPECT(c, ...) ws_expect(__FILE__, __LINE__, (c), __VA_ARGS__)
void ws_expect(const char *file, int line, client *c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Read frames until one equals want (as ws_next describes it); fails on a
 * timeout, EOF or close first. */
void ws_skip_to(client *c, const char *want);

/*
 * The next frame must be a close frame with code (0: an empty close), and
 * the server must then end the TCP connection (within DEFAULT_WAIT_MS);
 * frames before the close are skipped only if skip is non-zero.
 */
#define WS_EXPECT_CLOSE(c, code, skip)                                        \
    ws_expect_close(__FILE__, __LINE__, (c), (code), (skip))
void ws_expect_close(const char *file, int line, client *c, unsigned code,
                     int skip);

/* A masked close frame with code (0: empty) and reason. */
void ws_send_close(client *c, unsigned code, const char *reason);

/* The text of chatd's log (up to 64 KiB; valid until the next call). */
const char *chatd_log_text(void);

/* Wait up to DEFAULT_WAIT_MS for chatd's log to contain needle; fails. */
void wait_log(const char *needle);

/* Whether chatd's memory may be asserted on: not under $CHATD_WRAPPER nor
 * a sanitizer ($CHATD_SANITIZED, set by meson). */
int memory_measurable(void);

#endif /* CHATD_TEST_WSCLIENT_H */
