/*
 * chat-cli --tls: the connection's bufferevent wrapped in libevent's
 * OpenSSL filter once TCP is up, so the rest of conn.c reads and writes
 * through the same bufferevent calls, encrypted or not. (chatd drives
 * OpenSSL itself to keep the broker's outbox its only output queue; a
 * client with one connection has no such accounting to keep exact.)
 *
 * The server is verified against the system's CAs, or --cafile's, and
 * the name or address given with -h is checked against its certificate;
 * --insecure checks nothing (self-signed test servers). A failure is one
 * line saying what did not match. The session is kept for --reconnect,
 * so a reconnect resumes it (a TLS 1.3 ticket) instead of a full
 * handshake.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cli.h"

/* 1 if host is an IPv4 or IPv6 address, not a name. */
static int is_address(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

/* --cafile's certificates, after checking the file can be read (for a
 * message that says why it cannot). */
static int load_cafile(struct cli *c, SSL_CTX *ctx)
{
    const char *path = c->opt.cafile;
    FILE *f = fopen(path, "r");

    if (!f) {
        cli_notice(c, "cannot read --cafile %s: %s", path, strerror(errno));
        return -1;
    }
    fclose(f);
    if (SSL_CTX_load_verify_locations(ctx, path, NULL) == 1)
        return 0;
    cli_notice(c, "--cafile %s: no PEM certificate in it", path);
    return -1;
}

static int load_trust(struct cli *c, SSL_CTX *ctx)
{
    if (c->opt.insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (c->opt.cafile)
        return load_cafile(c, ctx);
    if (SSL_CTX_set_default_verify_paths(ctx) == 1)
        return 0;
    cli_notice(c, "cannot load the system's CA certificates");
    return -1;
}

int cli_tls_init(struct cli *c)
{
    SSL_CTX *ctx;
    int rc;

    if (!c->opt.tls)
        return 0;
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        SSL_CTX_free(ctx);
        cli_notice(c, "cannot set up TLS");
        return -1;
    }
    c->tls_ctx = ctx;
    /* A server that closes TCP without close_notify has closed: not an
     * error (OpenSSL 3 and libevent 2.1.12 would make it one). */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
                             SSL_OP_NO_RENEGOTIATION);
    rc = load_trust(c, ctx);
    ERR_clear_error();
    return rc;
}

/* The name to check and to send (SNI): an address is checked against the
 * certificate's IP addresses, and is not sent. */
static int set_peer_name(SSL *ssl, const char *host)
{
    if (is_address(host))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1
                   ? 0 : -1;
    return SSL_set1_host(ssl, host) == 1 &&
                   SSL_set_tlsext_host_name(ssl, host) == 1
               ? 0 : -1;
}

int cli_tls_start(struct cli *c, const struct timeval *timeout)
{
    SSL *ssl = SSL_new(c->tls_ctx);
    struct bufferevent *tls;

    if (!ssl || set_peer_name(ssl, c->opt.host) != 0 ||
        (c->tls_session && SSL_set_session(ssl, c->tls_session) != 1)) {
        SSL_free(ssl);
        ERR_clear_error();
        return -1;
    }
    /* The connect timeout is done with; the handshake gets its own. */
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    /* CLOSE_ON_FREE: freeing the filter frees the SSL and the socket's
     * bufferevent (and closes the socket) with it. It fails only for want
     * of memory, before taking either: the SSL is then lost, on the way
     * to exit. DEFER_CALLBACKS: libevent 2.1 reports the end (the
     * server's close_notify) from inside the read that decrypted the last
     * lines, before handing them over; deferred, the read callback runs
     * first and the lines are not lost. */
    tls = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
                                         BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE |
                                             BEV_OPT_DEFER_CALLBACKS);
    if (!tls)
        return -1;
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    bufferevent_set_timeouts(tls, timeout, timeout);
    c->bev = tls;
    /* A filter starts its handshake on the socket's next callback, and a
     * connected socket with nothing to read or write has none: call it
     * now (the ClientHello). */
    bufferevent_trigger(bufferevent_get_underlying(tls), EV_WRITE,
                        BEV_TRIG_IGNORE_WATERMARKS);
    return 0;
}

/* What might help after the failure: a hint, or "". */
static const char *hint(const struct cli *c, long verify, unsigned long e)
{
    if (verify != X509_V_OK && !c->opt.cafile)
        return " (--cafile FILE to trust a private CA)";
    if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
        (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
         ERR_GET_REASON(e) == SSL_R_PACKET_LENGTH_TOO_LONG))
        return " (is it a TLS port?)";
    return "";
}

void cli_tls_failure(const struct cli *c, char *msg, size_t size)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = bufferevent_get_openssl_error(c->bev);
    const char *why;

    if (v != X509_V_OK)
        why = X509_verify_cert_error_string(v);
    else if (e != 0)
        why = ERR_reason_error_string(e);
    else
        why = "the server closed the connection";
    snprintf(msg, size, "TLS handshake with %s port %s failed: %s%s",
             c->opt.host, c->opt.port, why ? why : "TLS error",
             hint(c, v, e));
    while (bufferevent_get_openssl_error(c->bev) != 0)
        ; /* the rest of the queue is about the same failure */
}

const char *cli_tls_error(const struct cli *c)
{
    unsigned long e = bufferevent_get_openssl_error(c->bev);

    return e ? ERR_reason_error_string(e) : NULL;
}

int cli_tls_close_notify(struct cli *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

    /* 0: sent, ours only; 1: both. The alert goes out behind everything
     * already encrypted, and the server's answer arrives as EOF. */
    if (ssl && SSL_shutdown(ssl) >= 0)
        return 0;
    ERR_clear_error();
    return -1;
}

void cli_tls_keep_session(struct cli *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    SSL_SESSION *s = ssl ? SSL_get1_session(ssl) : NULL;

    if (!s)
        return;
    /* Freed without our close_notify, the SSL would mark its session
     * unresumable, as after an error; this end was clean. */
    SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN);
    if (!SSL_SESSION_is_resumable(s)) {
        SSL_SESSION_free(s);
        return;
    }
    SSL_SESSION_free(c->tls_session);
    c->tls_session = s;
}

void cli_tls_free(struct cli *c)
{
    SSL_SESSION_free(c->tls_session);
    SSL_CTX_free(c->tls_ctx);
    c->tls_session = NULL;
    c->tls_ctx = NULL;
}
