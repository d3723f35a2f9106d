/*
 * chat-bench --tls: TLS on the generator's own raw events (net.c), one
 * OpenSSL session per connection on its non-blocking socket. No
 * bufferevent, as for plain TCP: a received byte is still copied once,
 * into the one read buffer, and the generator stays light beside the
 * server it measures. A connection's queued output is written as records
 * of up to 16 KiB, the way chatd writes.
 *
 * Nothing is verified unless --cafile is given (a benchmark measures, it
 * does not trust); with it the certificate must chain to those CAs and
 * name the host or address of -h.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench.h"

/* --cafile: the CAs to verify against, after checking the file can be
 * read (for a message that says why not). */
static int load_cafile(struct bench *b, SSL_CTX *ctx)
{
    FILE *f = fopen(b->opt.cafile, "r");

    if (!f) {
        bench_fatal(b, "cannot read --cafile %s: %s", b->opt.cafile,
                    strerror(errno));
        return -1;
    }
    fclose(f);
    if (SSL_CTX_load_verify_locations(ctx, b->opt.cafile, NULL) != 1) {
        bench_fatal(b, "--cafile %s: no PEM certificate in it",
                    b->opt.cafile);
        return -1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return 0;
}

int bench_tls_init(struct bench *b)
{
    SSL_CTX *ctx;

    if (!b->opt.tls)
        return 0;
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        SSL_CTX_free(ctx);
        bench_fatal(b, "cannot set up TLS");
        return -1;
    }
    b->tls_ctx = ctx;
    /* As chatd's: idle connections hold no record buffers (10,000 of
     * them would otherwise hold 330 MB here); writes return per record;
     * a retried write may come from a moved buffer (net.c's output grows
     * by realloc). A server's EOF without close_notify is an end. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                          SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return b->opt.cafile ? load_cafile(b, ctx) : 0;
}

/* With --cafile: the name or address to find in the certificate. */
static int expect_name(SSL *ssl, const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];

    if (inet_pton(AF_INET, host, addr) == 1 ||
        inet_pton(AF_INET6, host, addr) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1
                   ? 0 : -1;
    return SSL_set1_host(ssl, host) == 1 &&
                   SSL_set_tlsext_host_name(ssl, host) == 1
               ? 0 : -1;
}


/* ---- one connection ------------------------------------------------------- */

/* What the TLS calls return besides a byte count (> 0) or 0 (done). */
enum {
    WANT_READ = -1,  /* call again once the socket is readable */
    WANT_WRITE = -2, /* ... writable (a write: with the same bytes) */
    END = -3,        /* the server ended the connection */
    FAILED = -4,     /* c->tls_why says why */
};

/* The outcome of a call on c->ssl that returned rc (not a success); sys
 * is errno right after it. Sets c->tls_why on a failure. */
static int result(struct bench_conn *c, int rc, int sys)
{
    unsigned long e;

    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        return WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return END;
    default:
        break;
    }
    e = ERR_peek_error();
    if (c->b->opt.cafile && SSL_get_verify_result(c->ssl) != X509_V_OK)
        c->tls_why = X509_verify_cert_error_string(
            SSL_get_verify_result(c->ssl));
    else if (e != 0)
        c->tls_why = ERR_reason_error_string(e);
    else
        c->tls_why = sys ? strerror(sys) : "the server closed it";
    if (!c->tls_why)
        c->tls_why = "TLS error";
    ERR_clear_error();
    return FAILED;
}

static int handshake(struct bench_conn *c)
{
    int rc;

    ERR_clear_error();
    rc = SSL_do_handshake(c->ssl);
    return rc == 1 ? 0 : result(c, rc, errno);
}

static ssize_t tls_read(struct bench_conn *c, void *buf, size_t cap)
{
    size_t n = 0;
    int rc;

    ERR_clear_error();
    rc = SSL_read_ex(c->ssl, buf, cap, &n);
    return rc == 1 ? (ssize_t)n : result(c, rc, errno);
}

static ssize_t tls_write(struct bench_conn *c, const void *data, size_t len)
{
    size_t n = 0;
    int rc;

    ERR_clear_error();
    rc = SSL_write_ex(c->ssl, data, len, &n);
    return rc == 1 ? (ssize_t)n : result(c, rc, errno);
}

/*
 * TLS: one record per call, until all is out or the socket is full. A
 * record that did not fit is retried with the same bytes (still at off,
 * perhaps moved by out_grow, and perhaps with more behind them: OpenSSL
 * allows both).
 */
void bench_tls_flush(struct bench_conn *c)
{
    struct bench_outbuf *o = &c->out;

    while (o->off < o->len) {
        ssize_t n = tls_write(c, o->data + o->off, o->len - o->off);
        if (n == WANT_READ)
            return; /* the next read callback flushes again */
        if (n == WANT_WRITE)
            break;
        if (n < 0) {
            bench_conn_lost(c, n == END ? NULL : c->tls_why);
            return;
        }
        o->off += (size_t)n;
    }
    bench_conn_flushed(c);
}

/*
 * TLS: records until the socket has no more, or a plain read's worth.
 * What OpenSSL already decrypted does not make the socket readable: if
 * some is left, this callback is made to run again.
 */
static void read_records(struct bench_conn *c)
{
    size_t total = 0;
    ssize_t n = 0;

    while (total < sizeof bench_rx_buf) {
        n = tls_read(c, bench_rx_buf, sizeof bench_rx_buf);
        if (n <= 0)
            break;
        total += (size_t)n;
        bench_conn_received(c, bench_rx_buf, (size_t)n);
        if (c->b->fatal || c->state == CONN_CLOSED)
            return;
    }
    if (n == END || n == FAILED) {
        bench_conn_lost(c, n == END ? NULL : c->tls_why);
        return;
    }
    if (n == WANT_WRITE && event_add(c->wev, NULL) < 0)
        bench_fatal(c->b, "cannot watch a socket for writing");
    if (n > 0 && SSL_pending(c->ssl) > 0)
        event_active(c->rev, EV_READ, 1);
    bench_flush(c);
}

static void tls_failed(struct bench_conn *c)
{
    struct bench *b = c->b;
    const char *why = c->tls_why ? c->tls_why : "the server closed it";
    unsigned id = c->id;

    bench_conn_close(c);
    if (b->probing)
        bench_fatal(b, "TLS handshake with %s port %s failed: %s",
                    b->opt.host, b->opt.port, why);
    else
        bench_fatal(b, "connection %u: TLS handshake failed: %s", id + 1,
                    why);
}

/* The handshake goes on as far as the socket lets it. The read event is
 * always armed; the write event only while the handshake waits to write. */
static void handshake_step(struct bench_conn *c)
{
    int r = handshake(c);

    if (r == 0) {
        event_del(c->wev);
        bench_conn_up(c);
    } else if (r == WANT_WRITE) {
        if (event_add(c->wev, NULL) < 0)
            bench_fatal(c->b, "cannot watch a socket for writing");
    } else if (r == WANT_READ) {
        event_del(c->wev);
    } else {
        if (r == END)
            c->tls_why = NULL;
        tls_failed(c);
    }
}

void bench_tls_readable(struct bench_conn *c)
{
    if (c->state == CONN_HANDSHAKE)
        handshake_step(c);
    else
        read_records(c);
}

void bench_tls_writable(struct bench_conn *c)
{
    if (c->state == CONN_HANDSHAKE) {
        handshake_step(c);
    } else if (c->out.off == c->out.len) {
        /* A read wanted to write (a TLS 1.3 key update): read again. */
        event_del(c->wev);
        read_records(c);
    } else {
        bench_flush(c);
    }
}

int bench_tls_start(struct bench_conn *c)
{
    struct bench *b = c->b;
    SSL *ssl = SSL_new(b->tls_ctx);

    if (!ssl || SSL_set_fd(ssl, c->fd) != 1 ||
        (b->opt.cafile && expect_name(ssl, b->opt.host) != 0)) {
        SSL_free(ssl);
        ERR_clear_error();
        return -1;
    }
    SSL_set_connect_state(ssl);
    c->ssl = ssl;
    c->state = CONN_HANDSHAKE;
    handshake_step(c); /* the ClientHello, now */
    return 0;
}

void bench_tls_close(struct bench_conn *c)
{
    SSL_free(c->ssl); /* no close_notify: the server sees EOF, an end */
    c->ssl = NULL;
}

void bench_tls_free(struct bench *b)
{
    SSL_CTX_free(b->tls_ctx);
    b->tls_ctx = NULL;
}
