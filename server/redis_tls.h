/*
 * chatd - TLS to Redis (--redis rediss://; doc/cluster.md, "TLS to
 * Redis"): an in-process relay on chatd's own loop, no threads.
 *
 * hiredis 0.14 has no TLS, and its async API connects only by TCP address
 * or unix path (it cannot adopt a socket someone else set up). So at start
 * the relay listens on a unix socket of its own, in a fresh 0700 directory
 * made with mkdtemp under $TMPDIR (or /tmp), and the Redis link connects
 * hiredis there. Each connection accepted is paired with a TCP connection
 * to the real Redis carrying an OpenSSL client session, and bytes are
 * pumped both ways on libevent events.
 *
 * Bounds: one fixed buffer per direction and pair (CHATD_RTLS_BUF bytes);
 * a side is read only while the buffer toward the other side has room, so
 * the relay never queues more than those buffers (hiredis's own output
 * buffer is bounded by redis.c). Either side ending or failing closes the
 * pair: hiredis then sees its connection end and redis.c reconnects with
 * backoff. The handshake has no timer of its own: redis.c's setup
 * deadline (one lease) covers it, since no setup reply can come before it.
 *
 * Trust: the server's certificate is verified against --redis-cafile's
 * CAs or the system's, and must name the URL's host (a host name, also
 * sent as SNI) or address (an IP address); --redis-insecure checks
 * nothing. --redis-cert and --redis-key give a client certificate (for
 * Redis's tls-auth-clients). Only this process's user can reach the unix
 * socket (the directory is 0700); it and the directory are removed by
 * chatd_rtls_free (a chatd killed with SIGKILL leaves them behind).
 */
#ifndef CHATD_REDIS_TLS_H
#define CHATD_REDIS_TLS_H

#include <stddef.h>

struct event_base;
struct chatd_rtls;

/* Each direction's buffer in one pair: one TLS record's worth. */
#define CHATD_RTLS_BUF 16384

struct chatd_rtls_config {
    const char *host;    /* the URL's host: the name (or address) checked */
    const char *addr;    /* numeric, what the TCP connection goes to */
    int port;
    const char *cafile;  /* NULL: the system's CAs */
    const char *cert;    /* client certificate (PEM chain), or NULL */
    const char *key;     /* its key (PEM, unencrypted); with cert */
    int insecure;        /* verify nothing */
};

/*
 * Before the loop runs: read the CA file and the client certificate and
 * key (all read now, not kept open), make the directory and listen on the
 * unix socket in it. The strings in cfg are copied. Returns the relay, or
 * NULL with one line in err (errlen bytes, always terminated) naming the
 * file or step at fault. Nothing is accepted until chatd_rtls_start().
 */
struct chatd_rtls *chatd_rtls_new(const struct chatd_rtls_config *cfg,
                                  char *err, size_t errlen);

/* Start accepting on base. Returns 0, or -1 when out of memory. */
int chatd_rtls_start(struct chatd_rtls *t, struct event_base *base);

/* The unix socket's path, for redisAsyncConnectUnix(); valid until
 * chatd_rtls_free(t). */
const char *chatd_rtls_path(const struct chatd_rtls *t);

/*
 * Why the relay last closed a pair on its own ("TLS handshake: certificate
 * verify failed: ...", "connect: Connection refused", "Redis closed the
 * connection"), or "" when nothing failed since the last handshake that
 * succeeded. Valid until the next call into the relay or the loop.
 */
const char *chatd_rtls_why(const struct chatd_rtls *t);

/* Close every pair at once (the Redis link dropped its connections). */
void chatd_rtls_close_all(struct chatd_rtls *t);

/* Close every pair, stop listening, remove the socket and the directory,
 * free t. NULL is accepted. Call before the event base goes. */
void chatd_rtls_free(struct chatd_rtls *t);

#endif /* CHATD_REDIS_TLS_H */
