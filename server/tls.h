/*
 * chatd - TLS over OpenSSL 3, driven on chatd's own events.
 *
 * Not bufferevent_openssl: it keeps an output buffer of its own, and the
 * broker's outbox must stay the only output queue. Only then are the
 * slow-consumer accounting, the high-water mark and the write timeout
 * exact (a byte the broker counts as pending is a byte the client has not
 * been sent), and only then is each connection written once per loop pass
 * with everything it has pending. This module has no buffer either: the
 * caller reads into its own buffer and writes from its own buffer, exactly
 * as it calls recv() and send() on a plain socket, and OpenSSL holds at
 * most one encrypted record that the socket has not taken yet.
 *
 * Two objects:
 *
 *   struct chatd_tls_ctx  the server's certificate, key and settings
 *                         (TLS 1.2 and 1.3 only, no renegotiation, no
 *                         compression, ECDHE with AEAD ciphers). One per
 *                         server; reloaded in place on SIGHUP.
 *   struct chatd_tls      one accepted connection's TLS session on a
 *                         non-blocking socket the caller owns.
 *
 * Every function returns at once; none blocks or waits for the network.
 * Single-threaded: one event loop owns both objects. OpenSSL writes with
 * write(2), not send(MSG_NOSIGNAL): SIGPIPE must be ignored, as chatd's
 * main() does (chatp_ignore_sigpipe), or a reset client kills the server.
 *
 * Driving a connection (the socket is non-blocking; "readable" and
 * "writable" are the caller's events on it):
 *
 *  1. t = chatd_tls_new(ctx, fd); call chatd_tls_handshake(t) now and
 *     again each time the socket is ready as it asked (WANT_READ: when
 *     readable, WANT_WRITE: when writable) until CHATD_TLS_DONE or
 *     CHATD_TLS_ERROR. The handshake counts as "in progress" in
 *     chatd_tls_ctx_handshakes() from chatd_tls_new until it ends or t is
 *     freed; bound its time with a timer of your own.
 *
 *  2. Reads: when readable, call chatd_tls_read() until it returns
 *     CHATD_TLS_WANT_READ, CHATD_TLS_EOF or CHATD_TLS_ERROR. Bytes OpenSSL
 *     has already taken from the socket do not make it readable again: if
 *     you stop early (a per-pass budget), and chatd_tls_pending(t) is 1,
 *     make your read callback run again without waiting for the socket
 *     (event_active), or those bytes sit there until the client sends
 *     more. A read can also return CHATD_TLS_WANT_WRITE (OpenSSL must
 *     answer a TLS 1.3 key update first): call it again when writable.
 *
 *  3. Writes: gather the connection's pending output into one buffer and
 *     call chatd_tls_write() once per loop pass: one call is one TLS
 *     record of up to CHATD_TLS_RECORD bytes, and returns how many bytes
 *     of data it took (consume exactly that many from the outbox).
 *     CHATD_TLS_WANT_WRITE means a record was sealed but the socket is
 *     full: nothing is taken yet (consume nothing), and the next call, once
 *     writable, MUST pass the same bytes again, at least as many as before
 *     (OpenSSL's rule; the call then returns the count of that record).
 *     The address may differ: the context sets
 *     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, because chatd gathers into one
 *     scratch buffer shared by all connections (overwritten in between),
 *     or writes a large piece straight from the broker's memory. Gathering
 *     again from the outbox gives the same bytes, as long as nothing was
 *     consumed: the broker never changes bytes it has not been told were
 *     written. CHATD_TLS_WANT_READ from a write (not seen with our settings,
 *     but OpenSSL allows it) means the same, once readable.
 *
 *  4. Closing: when the client's input ends, chatd_tls_read() returns
 *     CHATD_TLS_EOF, whether the client sent close_notify or just closed
 *     TCP (SSL_OP_IGNORE_UNEXPECTED_EOF: not an error). When chatd is done
 *     writing, chatd_tls_shutdown() sends close_notify (best effort, never
 *     waits); then shutdown(fd, SHUT_WR) and linger as for plain TCP:
 *     chatd_tls_read() keeps working after chatd_tls_shutdown(), so the
 *     lingering read can discard input until EOF. Finally chatd_tls_free(t),
 *     then close(fd): the module never closes the socket.
 *
 * After CHATD_TLS_ERROR the session is dead: only chatd_tls_why() and
 * chatd_tls_free() make sense (chatd_tls_shutdown() does nothing, as
 * OpenSSL forbids it after a fatal error).
 */
#ifndef CHATD_TLS_H
#define CHATD_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct chatd_tls_ctx;
struct chatd_tls;

/* The most plaintext one chatd_tls_write() call takes: one full record. */
#define CHATD_TLS_RECORD 16384

/* What the calls return besides a byte count (which is always > 0). */
enum chatd_tls_result {
    CHATD_TLS_DONE = 0,        /* handshake: finished; shutdown: sent */
    CHATD_TLS_WANT_READ = -1,  /* call again when the socket is readable */
    CHATD_TLS_WANT_WRITE = -2, /* call again when the socket is writable */
    CHATD_TLS_EOF = -3,        /* read: the client's input ended */
    CHATD_TLS_ERROR = -4,      /* the session failed (the handshake too):
                                  chatd_tls_why() says why; free it */
};

/* ---- the server's context ------------------------------------------------ */

/*
 * A context for cert_file (PEM: the certificate, then its chain) and
 * key_file (PEM, unencrypted: chatd cannot ask for a passphrase). Both are
 * read now and not kept open. Returns NULL on failure with one line in err
 * (errlen bytes, always terminated) that names the file at fault: missing
 * or unreadable (with strerror), no certificate or key in it, an encrypted
 * key, or a key that does not match the certificate. Free with
 * chatd_tls_ctx_free().
 */
struct chatd_tls_ctx *chatd_tls_ctx_new(const char *cert_file,
                                        const char *key_file, char *err,
                                        size_t errlen);

/*
 * Read cert_file and key_file again (SIGHUP). On success connections made
 * from now on use the new certificate; existing ones keep the one they
 * started with (each session holds a reference to its OpenSSL context,
 * freed with the last of them). Returns 0, or -1 with the reason in err as
 * for chatd_tls_ctx_new(), ctx unchanged: the old certificate stays in use.
 * TLS 1.3 session tickets issued before a successful reload no longer
 * resume (new ticket keys); clients fall back to a full handshake.
 */
int chatd_tls_ctx_reload(struct chatd_tls_ctx *ctx, const char *cert_file,
                         const char *key_file, char *err, size_t errlen);

/*
 * Load cert_file (PEM: the certificate, then its chain) and key_file (PEM,
 * unencrypted) into an OpenSSL context (an SSL_CTX: OpenSSL's own type,
 * so that other TLS code of chatd's, the Redis relay's client certificate,
 * gets the same checks and messages as chatd_tls_ctx_new). Returns 0, or
 * -1 with one line in err naming the file at fault; OpenSSL's error queue
 * is left empty either way.
 */
struct ssl_ctx_st;
int chatd_tls_load_identity(struct ssl_ctx_st *ctx, const char *cert_file,
                            const char *key_file, char *err, size_t errlen);

/* Handshakes in progress among the sessions made from ctx: chatd caps
 * them (count, before chatd_tls_new, whether there is room for one more). */
unsigned chatd_tls_ctx_handshakes(const struct chatd_tls_ctx *ctx);

/* Drop the owner's reference. The context is freed once the sessions made
 * from it are freed too, so the order of the two does not matter. NULL is
 * accepted. */
void chatd_tls_ctx_free(struct chatd_tls_ctx *ctx);

/* ---- one connection -------------------------------------------------------- */

/*
 * A server-side TLS session on fd, an accepted, non-blocking socket that
 * stays the caller's (never closed here; close it after chatd_tls_free).
 * Nothing is read or written until chatd_tls_handshake(). Takes a
 * reference to ctx. Returns NULL when out of memory.
 */
struct chatd_tls *chatd_tls_new(struct chatd_tls_ctx *ctx, int fd);

/*
 * Advance the handshake: CHATD_TLS_DONE (also on later calls),
 * CHATD_TLS_WANT_READ, CHATD_TLS_WANT_WRITE or CHATD_TLS_ERROR. Before
 * OpenSSL sees a byte, the first one is peeked at: a client that sends
 * plain text or anything but a TLS handshake record fails at once, with
 * a reason that says so, and costs no cryptography.
 */
int chatd_tls_handshake(struct chatd_tls *t);

/* 1 while the handshake is in progress (not done, not failed). */
int chatd_tls_handshaking(const struct chatd_tls *t);

/*
 * Decrypt up to cap (> 0) bytes into buf: returns the count (> 0), or
 * CHATD_TLS_WANT_READ, CHATD_TLS_WANT_WRITE, CHATD_TLS_EOF or
 * CHATD_TLS_ERROR. Call only once the handshake is done. See 2. above.
 */
ssize_t chatd_tls_read(struct chatd_tls *t, void *buf, size_t cap);

/* 1 if OpenSSL holds bytes it read from the socket that chatd_tls_read()
 * has not returned yet (the socket will not report them). */
int chatd_tls_pending(const struct chatd_tls *t);

/*
 * Encrypt and send up to CHATD_TLS_RECORD of the len bytes at data, as one
 * record: returns the count taken (> 0), 0 if len is 0, or
 * CHATD_TLS_WANT_WRITE (nothing taken; retry with the same bytes, see 3.
 * above), CHATD_TLS_WANT_READ, or CHATD_TLS_ERROR. data stays the
 * caller's; OpenSSL copies what it encrypts.
 */
ssize_t chatd_tls_write(struct chatd_tls *t, const void *data, size_t len);

/*
 * Send close_notify without waiting for the client's: CHATD_TLS_DONE when
 * it is on its way (or already was), CHATD_TLS_WANT_WRITE when the socket
 * is full (call again when writable, or give up: it is only courtesy), or
 * CHATD_TLS_ERROR. Does nothing (CHATD_TLS_ERROR) before the handshake is
 * done, after an error, or while a write is waiting to be retried (its
 * record must go first). Reads still work afterwards.
 */
int chatd_tls_shutdown(struct chatd_tls *t);

/*
 * Why the last CHATD_TLS_ERROR happened, for the verbose log: "plain text
 * on a TLS port", "reset by the client", "unsupported protocol" (TLS 1.1
 * or older), "closed during the handshake", ... Never NULL ("" if nothing
 * failed); a static string (OpenSSL's or strerror's), valid at least until
 * t is freed.
 */
const char *chatd_tls_why(const struct chatd_tls *t);

/* The protocol version ("TLSv1.3") and cipher of a finished handshake,
 * for logs; static strings, "" before the handshake is done. */
const char *chatd_tls_version(const struct chatd_tls *t);
const char *chatd_tls_cipher(const struct chatd_tls *t);

/* Free the session (nothing is sent: call chatd_tls_shutdown first for a
 * clean close) and drop its reference to the context. NULL is accepted. */
void chatd_tls_free(struct chatd_tls *t);

#endif /* CHATD_TLS_H */
