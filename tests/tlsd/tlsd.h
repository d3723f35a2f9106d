/*
 * What the C suites of tests/tlsd share: chatd's tls:// and https://
 * listeners (issue 12) driven over loopback, on top of the integration
 * harness (tests/integration/harness.h: one chatd per case in `srv`,
 * CHECK, EXPECT, plain TCP users).
 *
 *  - certificates: tests/tls/mkcerts.sh's throwaway CA, made fresh per
 *    case in a temporary directory ($MKCERTS names the script);
 *  - chatd with a tls:// listener beside its plain one (tls_port);
 *  - a TLS chat user: OpenSSL on a socket of the test, every wait bounded
 *    by a deadline (no thread: the test drives it with poll());
 *  - the bytes of a real ClientHello, to send as slowly as a test likes.
 *
 * Every wait is scaled by harness_slowdown(); nothing asserts on speed
 * except where a bound is what is being tested (a handshake deadline).
 */
#ifndef TLSD_H
#define TLSD_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "harness.h"

/* ---- certificates -------------------------------------------------------- */

/* Make the throwaway CA and certificates (once per process) and return the
 * full path of name in their directory (eight static buffers, in turn).
 * Copies "cert.pem"/"cert.key" of server.pem/.key are made too: what
 * chatd is started with, so a test may overwrite them before a SIGHUP. */
const char *cert_path(const char *name);

/* Copy the file from (a name in the directory) over to (another name). */
void cert_copy(const char *from, const char *to);

/* Write text over the file name in the directory. */
void cert_write(const char *name, const char *text);

/* The serial number of the first certificate in the PEM file name, in
 * hex ("1A2B..."), in a static buffer. */
const char *cert_serial(const char *name);

/* ---- chatd ----------------------------------------------------------------- */

/* The port of chatd's first "listening on SCHEME://" line (scheme "tls",
 * "https"), or -1. */
int listen_port(const chatd_proc *d, const char *scheme);

/* The tls:// port of the chatd tls_start started. */
extern int tls_port;

/*
 * Start srv: `chatd -p 0 -v --listen tls://127.0.0.1:0 --tls-cert cert.pem
 * --tls-key cert.key ARGS...` (args NULL-terminated, may be NULL). srv.port
 * is the plain listener's, tls_port the TLS one's. Fails the test if chatd
 * does not start.
 */
void tls_start(const char *const *args);

/* The same under a descriptor limit (RLIMIT_NOFILE nofile), without
 * $CHATD_WRAPPER (as chatd_start_nofile). */
void tls_start_nofile(const char *const *args, long nofile);

/* Seconds as an option value ("1.5"), times harness_slowdown(). */
const char *secs(double s);

/* chatd's open descriptors (/proc/PID/fd), or -1. */
int chatd_fds(const chatd_proc *d);

/* How many times needle occurs in chatd's log (the first MiB of it). */
int log_count(const char *needle);

/* Wait until chatd's log holds needle at least count times; fails the
 * test after wait_ms (times harness_slowdown()). */
void wait_log(const char *needle, int count, int wait_ms);

/* ---- a TLS user ---------------------------------------------------------- */

typedef struct tls_user {
    client io;          /* the socket (io.fd), and the decrypted bytes as a
                           plain client's: io.buf, io.line, io.eof (the
                           server ended the stream, or reset it) */
    SSL *ssl;
    int notify;         /* the stream ended with close_notify */
    char name[64];      /* from "You are NAME" (tls_join) */
    char serial[80];    /* the server certificate's serial, hex */
    char why[256];      /* why tls_connect failed */
} tls_user;

/*
 * Connect to 127.0.0.1:port and complete a TLS handshake, the server
 * verified against the test CA for the name "localhost". rcvbuf > 0 sets
 * SO_RCVBUF first (a reader that falls behind). Returns NULL if the
 * connection or the handshake failed within DEFAULT_WAIT_MS, with the
 * reason in *why (a static buffer) when why is not NULL.
 */
tls_user *tls_connect(int port, int rcvbuf, const char **why);

/* tls_connect to tls_port or fail the test, then read the greeting up to
 * "You joined main" (name kept in u->name). */
tls_user *tls_join(void);

/* tls_join with a 4 KiB receive buffer. */
tls_user *tls_join_small(void);

/* Send the formatted text and a newline, or fail the test. */
void tls_send(tls_user *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Send len bytes as they are; 0, or -1 if the connection failed. */
int tls_send_bytes(tls_user *u, const void *data, size_t len);

/* The next line within timeout_ms, or NULL on timeout or EOF (io.eof). */
const char *tls_line(tls_user *u, int timeout_ms);

/* Like tls_line with DEFAULT_WAIT_MS, never NULL: "<timeout>", "<eof>". */
const char *tls_next(tls_user *u);

/* The next line from u must be exactly the formatted text. */
#define TLS_EXPECT(u, ...) tls_expect(__FILE__, __LINE__, (u), __VA_ARGS__)
void tls_expect(const char *file, int line, tls_user *u, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Read lines until one equals want; fails on a timeout or EOF first. */
void tls_skip_to(tls_user *u, const char *want);

/* The server must end u's stream within DEFAULT_WAIT_MS (what it sent
 * before is read and discarded). */
void tls_expect_eof(tls_user *u);

/* Close politely (close_notify, then close) and free. NULL is fine. */
void tls_close(tls_user *u);

/* ---- raw bytes --------------------------------------------------------------- */

/* A real ClientHello (OpenSSL's first flight, TLS 1.2 and 1.3 offered,
 * SNI localhost) into buf; returns its length. */
size_t client_hello(unsigned char *buf, size_t cap);

/* Wait up to timeout_ms for c's connection to end (EOF or reset),
 * appending what arrives to c->buf (c->len; the rest is dropped once it
 * is full). Returns 0 once it ended. */
int raw_wait_end(client *c, int timeout_ms);

/* The sockaddr of 127.0.0.1:port. */
struct sockaddr_in;
void loopback(struct sockaddr_in *a, int port);

/* The runner of a suite's main(): harness_main, SIGPIPE ignored (OpenSSL
 * writes with write(2) to sockets chatd may have reset). */
int tlsd_main(const char *suite, const harness_case *cases, size_t n);

#endif /* TLSD_H */
