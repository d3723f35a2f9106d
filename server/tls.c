/*
 * chatd - TLS over OpenSSL 3 on chatd's own events. See tls.h for how a
 * caller drives it, and doc/security.md (TLS) for why it is not
 * bufferevent_openssl: the broker's outbox stays the only output queue.
 *
 * The settings, and why:
 *   TLS 1.2 and 1.3 only        1.0 and 1.1 are deprecated (RFC 8996).
 *   ECDHE + AEAD for TLS 1.2    Mozilla's "intermediate" list without the
 *                               DHE suites; TLS 1.3 suites are all AEAD.
 *   SSL_OP_NO_RENEGOTIATION     a client-started renegotiation costs the
 *                               server a handshake for free (CPU DoS).
 *   SSL_OP_NO_COMPRESSION       CRIME; OpenSSL 3's default, made explicit.
 *   SSL_OP_IGNORE_UNEXPECTED_EOF  a client that closes TCP without
 *                               close_notify has just left, as on plain
 *                               TCP; OpenSSL 3 calls that an error.
 *   SSL_MODE_RELEASE_BUFFERS    an idle connection holds no record buffers:
 *                               about 15 KB in OpenSSL instead of 48 KB.
 *   SSL_MODE_ENABLE_PARTIAL_WRITE  a write returns after each record, so
 *                               the broker is told exactly what was sent.
 *   SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER  a retried write may come from
 *                               another address (tls.h, 3.).
 *   no session cache, one ticket  resumption through stateless TLS 1.3
 *                               tickets: the server keeps nothing per
 *                               past session; one ticket, as a chat
 *                               client holds one connection.
 */
#define _POSIX_C_SOURCE 200809L

#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Mozilla's "intermediate" TLS 1.2 suites (version 5.7), ECDHE only. */
static const char tls12_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* The first byte of a TLS record carrying a handshake (a ClientHello). */
#define TLS_HANDSHAKE_RECORD 0x16

struct chatd_tls_ctx {
    SSL_CTX *ssl;        /* the current one: new sessions use it */
    unsigned refs;       /* the owner's, plus one per session */
    unsigned handshakes; /* sessions whose handshake is in progress */
};

struct chatd_tls {
    SSL *ssl;
    struct chatd_tls_ctx *ctx;
    const char *why;         /* the last failure, for the log */
    int fd;
    unsigned peeked : 1;     /* the first byte was a TLS handshake record */
    unsigned done : 1;       /* the handshake finished */
    unsigned failed : 1;     /* fatal error: nothing more is tried */
    unsigned counted : 1;    /* counted in ctx->handshakes */
    unsigned write_retry : 1; /* a sealed record waits for the socket */
};

/* ---- the context ---------------------------------------------------------- */

/* Called if the key is encrypted: chatd has no one to ask, so refuse,
 * and note it so the error can say so. */
/* NOLINTNEXTLINE(readability-non-const-parameter): pem_password_cb's type */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(int *)asked = 1;
    return -1;
}

/* Open path for reading, or say why not in err. */
static FILE *open_file(const char *what, const char *path, char *err,
                       size_t errlen)
{
    FILE *f = fopen(path, "r");

    if (!f)
        snprintf(err, errlen, "cannot read %s file %s: %s", what, path,
                 strerror(errno));
    return f;
}

/* 0 if path can be opened and read (a directory cannot), else -1 with the
 * reason in err: OpenSSL's own message would not name the file. */
static int check_readable(const char *what, const char *path, char *err,
                          size_t errlen)
{
    FILE *f = open_file(what, path, err, errlen);
    int bad;

    if (!f)
        return -1;
    errno = 0;
    (void)fgetc(f);
    bad = ferror(f);
    if (bad)
        snprintf(err, errlen, "cannot read %s file %s: %s", what, path,
                 strerror(errno));
    fclose(f);
    return bad ? -1 : 0;
}

/* The certificate and its chain, from cert_file into ctx. */
static int load_cert(SSL_CTX *ctx, const char *cert_file, char *err,
                     size_t errlen)
{
    if (check_readable("certificate", cert_file, err, errlen) != 0)
        return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        snprintf(err, errlen, "certificate file %s: no PEM certificate "
                 "in it", cert_file);
        return -1;
    }
    return 0;
}

/* The private key in key_file, or NULL with the reason in err. */
static EVP_PKEY *read_key(const char *key_file, char *err, size_t errlen)
{
    FILE *f = open_file("key", key_file, err, errlen);
    EVP_PKEY *key = NULL;
    int asked = 0;

    if (!f)
        return NULL;
    BIO *bio = BIO_new_fp(f, BIO_NOCLOSE);
    if (bio)
        key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
    BIO_free(bio);
    fclose(f);
    if (!bio)
        snprintf(err, errlen, "key file %s: out of memory", key_file);
    else if (!key && asked)
        snprintf(err, errlen, "key file %s is encrypted: chatd needs the "
                 "key without a passphrase", key_file);
    else if (!key)
        snprintf(err, errlen, "key file %s: no PEM private key in it",
                 key_file);
    return key;
}

/* The key, after checking it belongs to the certificate already loaded. */
static int load_key(SSL_CTX *ctx, const char *cert_file, const char *key_file,
                    char *err, size_t errlen)
{
    EVP_PKEY *key = read_key(key_file, err, errlen);
    int ok;

    if (!key)
        return -1;
    ok = X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) == 1;
    if (!ok)
        snprintf(err, errlen, "key file %s does not match the certificate "
                 "in %s", key_file, cert_file);
    else if (SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        snprintf(err, errlen, "key file %s: OpenSSL refused the key",
                 key_file);
        ok = 0;
    }
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

int chatd_tls_load_identity(struct ssl_ctx_st *ctx, const char *cert_file,
                            const char *key_file, char *err, size_t errlen)
{
    int ok = load_cert(ctx, cert_file, err, errlen) == 0 &&
             load_key(ctx, cert_file, key_file, err, errlen) == 0;

    ERR_clear_error();
    return ok ? 0 : -1;
}

/* Protocol versions, options and modes: see the top of the file. */
static int configure(SSL_CTX *ctx)
{
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                             SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                          SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
           SSL_CTX_set_cipher_list(ctx, tls12_ciphers) == 1 &&
           SSL_CTX_set_num_tickets(ctx, 1) == 1 ? 0 : -1;
}

/* A configured OpenSSL context for the two files, or NULL and err. */
static SSL_CTX *build(const char *cert_file, const char *key_file, char *err,
                      size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int ok;

    if (!ctx || configure(ctx) != 0) {
        snprintf(err, errlen, "cannot set up TLS: %s",
                 ERR_reason_error_string(ERR_peek_last_error()));
        ok = 0;
    } else {
        ok = chatd_tls_load_identity(ctx, cert_file, key_file, err,
                                     errlen) == 0;
    }
    /* What went wrong is in err; nothing may linger for the next SSL
     * call's SSL_get_error(). */
    ERR_clear_error();
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

struct chatd_tls_ctx *chatd_tls_ctx_new(const char *cert_file,
                                        const char *key_file, char *err,
                                        size_t errlen)
{
    struct chatd_tls_ctx *c = calloc(1, sizeof *c);

    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->ssl = build(cert_file, key_file, err, errlen);
    if (!c->ssl) {
        free(c);
        return NULL;
    }
    c->refs = 1;
    return c;
}

int chatd_tls_ctx_reload(struct chatd_tls_ctx *ctx, const char *cert_file,
                         const char *key_file, char *err, size_t errlen)
{
    SSL_CTX *fresh = build(cert_file, key_file, err, errlen);

    if (!fresh)
        return -1;
    /* Each live session's SSL took its own reference to the old context
     * (SSL_new up-refs it): this drops only ours. */
    SSL_CTX_free(ctx->ssl);
    ctx->ssl = fresh;
    return 0;
}

unsigned chatd_tls_ctx_handshakes(const struct chatd_tls_ctx *ctx)
{
    return ctx->handshakes;
}

static void ctx_unref(struct chatd_tls_ctx *ctx)
{
    if (--ctx->refs > 0)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}

void chatd_tls_ctx_free(struct chatd_tls_ctx *ctx)
{
    if (ctx)
        ctx_unref(ctx);
}

/* ---- one connection ----------------------------------------------------- */

struct chatd_tls *chatd_tls_new(struct chatd_tls_ctx *ctx, int fd)
{
    struct chatd_tls *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->ssl = SSL_new(ctx->ssl);
    /* SSL_set_fd's socket BIO does not close fd (BIO_NOCLOSE). */
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(t->ssl);
    t->ctx = ctx;
    t->fd = fd;
    t->why = "";
    t->counted = 1;
    ctx->refs++;
    ctx->handshakes++;
    return t;
}

/* The handshake is over, one way or the other. */
static void uncount(struct chatd_tls *t)
{
    if (t->counted)
        t->ctx->handshakes--;
    t->counted = 0;
}

static int fail(struct chatd_tls *t, const char *why)
{
    t->failed = 1;
    t->write_retry = 0;
    t->why = why;
    uncount(t);
    ERR_clear_error();
    return CHATD_TLS_ERROR;
}

/* A socket error in words; err is errno, 0 for an end of file. */
static const char *sys_reason(const struct chatd_tls *t, int err)
{
    if (err == 0)
        return t->done ? "closed mid-record" : "closed during the handshake";
    if (err == ECONNRESET)
        return t->done ? "reset by the client"
                       : "reset by the client during the handshake";
    return strerror(err);
}

/* OpenSSL's error e in words, the common ones in the log's terms. */
static const char *ssl_reason(unsigned long e)
{
    const char *s;

    if (ERR_GET_LIB(e) == ERR_LIB_SSL) {
        switch (ERR_GET_REASON(e)) {
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_VERSION_TOO_LOW:
            return "the client offers only TLS 1.1 or older";
        case SSL_R_NO_SHARED_CIPHER:
            return "no cipher in common with the client";
        case SSL_R_HTTP_REQUEST:
        case SSL_R_HTTPS_PROXY_REQUEST:
            return "plain HTTP on a TLS port";
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_UNKNOWN_PROTOCOL:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
            return "not TLS: garbage instead of a record";
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return "closed during the handshake";
        default:
            break;
        }
    }
    s = ERR_reason_error_string(e);
    return s ? s : "TLS error";
}

/* The outcome of an SSL call that did not succeed; rc is its return value
 * and sys the errno right after it. */
static int result(struct chatd_tls *t, int rc, int sys)
{
    switch (SSL_get_error(t->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        return CHATD_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return CHATD_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        if (t->done)
            return CHATD_TLS_EOF;
        return fail(t, "closed during the handshake");
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0)
            return fail(t, sys_reason(t, sys));
        return fail(t, ssl_reason(ERR_peek_error()));
    default:
        return fail(t, ssl_reason(ERR_peek_error()));
    }
}

/* 1 if the n bytes at p look like text someone typed or a line protocol
 * (telnet, nc, an HTTP client on the wrong port). */
static int looks_like_text(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] < 0x20 || p[i] > 0x7e) && p[i] != '\r' && p[i] != '\n' &&
            p[i] != '\t')
            return 0;
    return 1;
}

/*
 * Look at the client's first bytes without taking them: anything but a
 * TLS handshake record fails here, before OpenSSL allocates its buffers
 * or does any cryptography. 0: go on with the handshake.
 */
static int peek_first(struct chatd_tls *t)
{
    unsigned char b[8];
    ssize_t n;

    do
        n = recv(t->fd, b, sizeof b, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return CHATD_TLS_WANT_READ;
    if (n < 0)
        return fail(t, sys_reason(t, errno));
    if (n == 0)
        return fail(t, "closed before the handshake");
    if (b[0] != TLS_HANDSHAKE_RECORD)
        return fail(t, looks_like_text(b, (size_t)n)
                           ? "plain text on a TLS port"
                           : "not TLS: garbage instead of a ClientHello");
    t->peeked = 1;
    return 0;
}

int chatd_tls_handshake(struct chatd_tls *t)
{
    int rc;

    if (t->failed)
        return CHATD_TLS_ERROR;
    if (t->done)
        return CHATD_TLS_DONE;
    if (!t->peeked && (rc = peek_first(t)) != 0)
        return rc;
    ERR_clear_error();
    rc = SSL_do_handshake(t->ssl);
    if (rc != 1)
        return result(t, rc, errno);
    t->done = 1;
    uncount(t);
    return CHATD_TLS_DONE;
}

int chatd_tls_handshaking(const struct chatd_tls *t)
{
    return !t->done && !t->failed;
}

ssize_t chatd_tls_read(struct chatd_tls *t, void *buf, size_t cap)
{
    size_t n = 0;
    int rc;

    if (t->failed)
        return CHATD_TLS_ERROR;
    if (!t->done || cap == 0)
        return fail(t, "read before the handshake or into no room");
    ERR_clear_error();
    rc = SSL_read_ex(t->ssl, buf, cap, &n);
    if (rc == 1)
        return (ssize_t)n;
    return result(t, rc, errno);
}

int chatd_tls_pending(const struct chatd_tls *t)
{
    if (!t->done || t->failed)
        return 0;
    return SSL_pending(t->ssl) > 0 || SSL_has_pending(t->ssl) == 1;
}

ssize_t chatd_tls_write(struct chatd_tls *t, const void *data, size_t len)
{
    size_t n = 0;
    int rc;

    if (t->failed)
        return CHATD_TLS_ERROR;
    if (!t->done)
        return fail(t, "write before the handshake");
    if (len == 0)
        return 0;
    if (len > CHATD_TLS_RECORD)
        len = CHATD_TLS_RECORD; /* one record per call: tls.h, 3. */
    ERR_clear_error();
    rc = SSL_write_ex(t->ssl, data, len, &n);
    if (rc == 1) {
        t->write_retry = 0;
        return (ssize_t)n;
    }
    rc = result(t, rc, errno);
    t->write_retry = rc == CHATD_TLS_WANT_WRITE || rc == CHATD_TLS_WANT_READ;
    return rc;
}

int chatd_tls_shutdown(struct chatd_tls *t)
{
    int rc;

    /* OpenSSL forbids it after a fatal error; during the handshake there
     * is nothing to close; with a record waiting, the alert would have to
     * jump the queue, which OpenSSL refuses (bad write retry). */
    if (t->failed || !t->done || t->write_retry)
        return CHATD_TLS_ERROR;
    ERR_clear_error();
    rc = SSL_shutdown(t->ssl);
    if (rc >= 0)
        return CHATD_TLS_DONE; /* 0: sent; 1: the client's came too */
    rc = result(t, rc, errno);
    /* WANT_READ: ours is out, and OpenSSL would wait for the client's
     * close_notify, which we do not. */
    return rc == CHATD_TLS_WANT_READ ? CHATD_TLS_DONE : rc;
}

const char *chatd_tls_why(const struct chatd_tls *t)
{
    return t->why;
}

const char *chatd_tls_version(const struct chatd_tls *t)
{
    return t->done ? SSL_get_version(t->ssl) : "";
}

const char *chatd_tls_cipher(const struct chatd_tls *t)
{
    return t->done ? SSL_get_cipher_name(t->ssl) : "";
}

void chatd_tls_free(struct chatd_tls *t)
{
    if (!t)
        return;
    uncount(t);
    SSL_free(t->ssl);
    ctx_unref(t->ctx);
    free(t);
}
