/*
 * chatd - TLS to Redis: the in-process relay. See redis_tls.h.
 *
 * A pair: `plain`, the unix connection hiredis made, and `net`, the TCP
 * connection to Redis with its SSL. `up` holds what hiredis sent that
 * SSL_write has not taken yet, `down` what SSL_read gave that hiredis has
 * not taken yet. A pair is CONNECTING (TCP), HANDSHAKING, then OPEN.
 *
 * Every event of a pair runs one service pass loop: try each move (plain
 * into up, up into SSL_write, SSL_read into down, down into plain) until
 * none makes progress, then watch exactly the readiness that the moves
 * that stopped are waiting for. Trying rather than trusting readiness
 * matters for TLS: SSL_read may have a decrypted record buffered that the
 * socket will never report, and SSL_write or SSL_read may each want the
 * other direction (WANT_READ from a write, WANT_WRITE from a read; the
 * latter also for a key update). A write that wanted anything is retried
 * with the same bytes: up's start never changes until SSL_write takes
 * them (OpenSSL's rule), and more bytes may only be appended after them.
 */
#define _GNU_SOURCE /* accept4 */

#include "redis_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"

#define PAIRS_MAX 8       /* hiredis needs 2; old ones close meanwhile */
#define PASSES_MAX 64     /* per event, then the loop's other work */
#define ACCEPT_PAUSE_MS 100 /* after EMFILE and the like */

enum pair_state { P_CONNECTING, P_HANDSHAKING, P_OPEN };

/* What an SSL call is waiting for. */
enum want { W_NONE, W_READ, W_WRITE };

struct pair {
    struct chatd_rtls *t;
    struct pair *prev, *next;
    int plain, net;
    SSL *ssl;
    enum pair_state state;
    enum want hs_want, rd_want, wr_want;
    int net_eof;      /* Redis ended: close once down is delivered */
    struct event *plain_rev, *plain_wev, *net_rev, *net_wev, *again;
    size_t up_len, down_len;
    unsigned char up[CHATD_RTLS_BUF];   /* hiredis -> Redis */
    unsigned char down[CHATD_RTLS_BUF]; /* Redis -> hiredis */
};

struct chatd_rtls {
    SSL_CTX *ctx;
    struct event_base *base;
    struct event *accept_ev, *pause_ev;
    int lfd;
    char host[256];
    int host_is_ip;
    struct sockaddr_storage sa;
    socklen_t salen;
    char dir[108], path[112]; /* path: dir + "/s", checked to fit */
    char why[256];
    struct pair *pairs;
    unsigned npairs;
};

/* ---- the context ----------------------------------------------------------- */

static int load_trust(SSL_CTX *ctx, const struct chatd_rtls_config *cfg,
                      char *err, size_t errlen)
{
    if (cfg->insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (!cfg->cafile) {
        if (SSL_CTX_set_default_verify_paths(ctx) == 1)
            return 0;
        snprintf(err, errlen, "cannot load the system's CA certificates");
        return -1;
    }
    if (access(cfg->cafile, R_OK) != 0) {
        snprintf(err, errlen, "cannot read --redis-cafile %s: %s",
                 cfg->cafile, strerror(errno));
        return -1;
    }
    if (SSL_CTX_load_verify_locations(ctx, cfg->cafile, NULL) == 1)
        return 0;
    snprintf(err, errlen, "--redis-cafile %s: no PEM certificate in it",
             cfg->cafile);
    return -1;
}

/* TLS 1.2 or later; a Redis that closes TCP without close_notify has
 * closed (as redis-server does); a retried write may come in longer. */
static SSL_CTX *make_ctx(const struct chatd_rtls_config *cfg, char *err,
                         size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int ok = ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1;

    if (!ok)
        snprintf(err, errlen, "cannot set up TLS");
    if (ok) {
        SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_NO_RENEGOTIATION);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        ok = load_trust(ctx, cfg, err, errlen) == 0 &&
             (!cfg->cert || chatd_tls_load_identity(ctx, cfg->cert, cfg->key,
                                                    err, errlen) == 0);
    }
    ERR_clear_error();
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* ---- the unix socket ------------------------------------------------------- */

/* A fresh 0700 directory under $TMPDIR or /tmp, a socket in it. */
static int make_listener(struct chatd_rtls *t, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int n;

    if (!tmp || !*tmp)
        tmp = "/tmp";
    n = snprintf(t->dir, sizeof t->dir, "%s/chatd-redis-XXXXXX", tmp);
    if (n < 0 || (size_t)n + 3 > sizeof sun.sun_path) {
        snprintf(err, errlen, "TMPDIR %s is too long for a unix socket",
                 tmp);
        t->dir[0] = '\0';
        return -1;
    }
    if (!mkdtemp(t->dir)) {
        snprintf(err, errlen, "cannot make a directory in %s: %s", tmp,
                 strerror(errno));
        t->dir[0] = '\0';
        return -1;
    }
    snprintf(t->path, sizeof t->path, "%s/s", t->dir);
    memcpy(sun.sun_path, t->path, strlen(t->path) + 1); /* fits: above */
    t->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->lfd < 0 ||
        bind(t->lfd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
        listen(t->lfd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", t->path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* The address to connect to, numeric: no lookup ever happens here. */
static int set_address(struct chatd_rtls *t,
                       const struct chatd_rtls_config *cfg, char *err,
                       size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res;
    char port[8];
    unsigned char ip[sizeof(struct in6_addr)];

    snprintf(port, sizeof port, "%d", cfg->port);
    if (getaddrinfo(cfg->addr, port, &hints, &res) != 0 ||
        res->ai_addrlen > sizeof t->sa) {
        snprintf(err, errlen, "not a numeric address: %s", cfg->addr);
        return -1;
    }
    memcpy(&t->sa, res->ai_addr, res->ai_addrlen);
    t->salen = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(t->host, sizeof t->host, "%s", cfg->host);
    t->host_is_ip = inet_pton(AF_INET, cfg->host, ip) == 1 ||
                    inet_pton(AF_INET6, cfg->host, ip) == 1;
    return 0;
}

struct chatd_rtls *chatd_rtls_new(const struct chatd_rtls_config *cfg,
                                  char *err, size_t errlen)
{
    struct chatd_rtls *t = calloc(1, sizeof *t);

    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->lfd = -1;
    if (set_address(t, cfg, err, errlen) != 0 ||
        !(t->ctx = make_ctx(cfg, err, errlen)) ||
        make_listener(t, err, errlen) != 0) {
        chatd_rtls_free(t);
        return NULL;
    }
    return t;
}

const char *chatd_rtls_path(const struct chatd_rtls *t)
{
    return t->path;
}

const char *chatd_rtls_why(const struct chatd_rtls *t)
{
    return t->why;
}

/* ---- a pair's end ------------------------------------------------------------ */

static void free_event(struct event *ev)
{
    if (ev)
        event_free(ev);
}

/* Close the pair; why (NULL when hiredis ended it) is kept for the link's
 * log. A clean end gets a close_notify, best effort. */
static void close_pair(struct pair *p, const char *why)
{
    struct chatd_rtls *t = p->t;

    if (why) {
        /* The first reason of a connect cycle is the one to tell: the
         * other connection then fails only because Redis hung up. */
        if (!t->why[0])
            snprintf(t->why, sizeof t->why, "%s", why);
        log_debug("redis TLS %s: %s", t->host, why);
    }
    if (p->ssl && p->state == P_OPEN && !p->net_eof && p->wr_want == W_NONE)
        (void)SSL_shutdown(p->ssl);
    ERR_clear_error();
    SSL_free(p->ssl);
    free_event(p->plain_rev);
    free_event(p->plain_wev);
    free_event(p->net_rev);
    free_event(p->net_wev);
    free_event(p->again);
    if (p->plain >= 0)
        close(p->plain);
    if (p->net >= 0)
        close(p->net);
    if (p->prev)
        p->prev->next = p->next;
    else
        t->pairs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    t->npairs--;
    free(p);
}

void chatd_rtls_close_all(struct chatd_rtls *t)
{
    if (!t)
        return;
    while (t->pairs)
        close_pair(t->pairs, NULL);
}

/* Why the SSL call that returned rc failed: a verification failure by its
 * name, else OpenSSL's reason, else the socket's. Into buf. */
static const char *ssl_failure(struct pair *p, int rc, int sys, char *buf,
                               size_t size, const char *during)
{
    long v = SSL_get_verify_result(p->ssl);
    unsigned long e = ERR_peek_error();
    const char *r;

    if (p->state == P_HANDSHAKING && v != X509_V_OK)
        snprintf(buf, size, "%s: certificate verify failed: %s", during,
                 X509_verify_cert_error_string(v));
    else if (e != 0 && (r = ERR_reason_error_string(e)) != NULL)
        snprintf(buf, size, "%s: %s", during, r);
    else if (rc < 0 && sys != 0)
        snprintf(buf, size, "%s: %s", during, strerror(sys));
    else
        snprintf(buf, size, "%s: Redis closed the connection", during);
    ERR_clear_error();
    return buf;
}

/* ---- the moves ------------------------------------------------------------- */

/* Each returns 1 (progress), 0 (none: waiting) or -1 (the pair was
 * closed: p is gone). */

static int would_block(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* After an SSL call that returned rc <= 0 (sys: errno right after it):
 * what it waits for into *want and 0, or the pair closed and -1. */
static int ssl_wait(struct pair *p, int rc, int sys, enum want *want,
                    const char *during)
{
    char why[300];

    switch (SSL_get_error(p->ssl, rc)) {
    case SSL_ERROR_WANT_READ: *want = W_READ; return 0;
    case SSL_ERROR_WANT_WRITE: *want = W_WRITE; return 0;
    default: break;
    }
    close_pair(p, ssl_failure(p, rc, sys, why, sizeof why, during));
    return -1;
}

static int handshake(struct pair *p)
{
    int rc, sys;

    ERR_clear_error();
    errno = 0;
    rc = SSL_do_handshake(p->ssl);
    sys = errno;
    if (rc == 1) {
        p->state = P_OPEN;
        p->hs_want = W_NONE;
        log_debug("redis TLS %s: %s, %s", p->t->host, SSL_get_version(p->ssl),
                  SSL_get_cipher_name(p->ssl));
        return 1;
    }
    return ssl_wait(p, rc, sys, &p->hs_want, "TLS handshake");
}

/* hiredis's bytes into up. */
static int plain_in(struct pair *p)
{
    ssize_t n;

    if (p->up_len == sizeof p->up)
        return 0;
    n = recv(p->plain, p->up + p->up_len, sizeof p->up - p->up_len, 0);
    if (n > 0) {
        p->up_len += (size_t)n;
        return 1;
    }
    if (n < 0 && would_block())
        return 0;
    close_pair(p, NULL); /* hiredis closed (or failed): nothing waits */
    return -1;
}

/* up into TLS. The same bytes again after a WANT (up only grows). */
static int net_out(struct pair *p)
{
    int rc, sys;

    if (p->state != P_OPEN || p->up_len == 0)
        return 0;
    ERR_clear_error();
    errno = 0;
    rc = SSL_write(p->ssl, p->up, (int)p->up_len);
    sys = errno;
    if (rc > 0) {
        p->up_len -= (size_t)rc;
        memmove(p->up, p->up + rc, p->up_len);
        p->wr_want = W_NONE;
        return 1;
    }
    return ssl_wait(p, rc, sys, &p->wr_want, "TLS write");
}

/* TLS into down. Redis's end is kept until down is delivered. */
static int net_in(struct pair *p)
{
    int rc, sys;

    if (p->state != P_OPEN || p->net_eof || p->down_len == sizeof p->down)
        return 0;
    ERR_clear_error();
    errno = 0;
    rc = SSL_read(p->ssl, p->down + p->down_len,
                  (int)(sizeof p->down - p->down_len));
    sys = errno;
    if (rc > 0) {
        p->down_len += (size_t)rc;
        p->rd_want = W_NONE;
        return 1;
    }
    if (SSL_get_error(p->ssl, rc) == SSL_ERROR_ZERO_RETURN) {
        p->net_eof = 1;
        p->rd_want = W_NONE;
        return 1;
    }
    return ssl_wait(p, rc, sys, &p->rd_want, "TLS read");
}

/* down to hiredis. */
static int plain_out(struct pair *p)
{
    ssize_t n;

    if (p->down_len == 0)
        return 0;
    n = send(p->plain, p->down, p->down_len, MSG_NOSIGNAL);
    if (n > 0) {
        p->down_len -= (size_t)n;
        memmove(p->down, p->down + n, p->down_len);
        return 1;
    }
    if (n < 0 && would_block())
        return 0;
    close_pair(p, NULL);
    return -1;
}

/* ---- the service loop ------------------------------------------------------- */

static void watch(struct event *ev, int on)
{
    int pending = event_pending(ev, EV_READ | EV_WRITE, NULL) != 0;

    if (on && !pending && event_add(ev, NULL) != 0)
        log_warn("redis TLS: cannot watch a socket");
    else if (!on && pending)
        event_del(ev);
}

/* Watch what the stopped moves wait for (see the top of the file). */
static void set_interest(struct pair *p)
{
    int open = p->state == P_OPEN;
    int reading = open && !p->net_eof && p->down_len < sizeof p->down;
    int writing = open && p->up_len > 0;

    watch(p->plain_rev, p->up_len < sizeof p->up);
    watch(p->plain_wev, p->down_len > 0);
    watch(p->net_rev, (p->state == P_HANDSHAKING && p->hs_want == W_READ) ||
                          (reading && p->rd_want == W_READ) ||
                          (writing && p->wr_want == W_READ));
    watch(p->net_wev, p->state == P_CONNECTING ||
                          (p->state == P_HANDSHAKING &&
                           p->hs_want == W_WRITE) ||
                          (reading && p->rd_want == W_WRITE) ||
                          (writing && p->wr_want == W_WRITE));
}

/* One pass of every move; 1 if any made progress, -1 if p is gone. */
static int one_pass(struct pair *p)
{
    int (*const moves[])(struct pair *) = {plain_in, net_out, net_in,
                                           plain_out};
    int moved = 0;

    if (p->state == P_HANDSHAKING) {
        int rc = handshake(p);
        if (rc < 0)
            return -1;
        moved = rc;
    }
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        int rc = moves[i](p);
        if (rc < 0)
            return -1;
        moved |= rc;
    }
    if (p->net_eof && p->down_len == 0) {
        close_pair(p, "Redis closed the connection");
        return -1;
    }
    return moved;
}

static void service(struct pair *p)
{
    for (int pass = 0; pass < PASSES_MAX; pass++) {
        int rc = one_pass(p);
        if (rc < 0)
            return;
        if (rc == 0) {
            set_interest(p);
            return;
        }
    }
    /* Still moving: let the loop's other work run, then go on (bytes
     * OpenSSL holds would not wake the socket). */
    set_interest(p);
    event_active(p->again, EV_TIMEOUT, 0);
}

/* TCP to Redis failed with errno e (refused, unreachable, ...). */
static void connect_failed(struct pair *p, int e)
{
    char why[300];

    snprintf(why, sizeof why, "connect: %s", strerror(e));
    close_pair(p, why);
}

/* The TCP connect's outcome, then the handshake. */
static int connected(struct pair *p)
{
    int e = 0;
    socklen_t len = sizeof e;

    if (getsockopt(p->net, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        e = errno;
    if (e == EINPROGRESS || e == EINTR)
        return 0;
    if (e != 0) {
        connect_failed(p, e);
        return -1;
    }
    p->state = P_HANDSHAKING;
    return 1;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    struct pair *p = arg;

    (void)what;
    if (p->state == P_CONNECTING && fd == p->net) {
        int rc = connected(p);
        if (rc < 0)
            return;
        if (rc == 0) {
            set_interest(p);
            return;
        }
    }
    service(p);
}

/* ---- a new pair ------------------------------------------------------------- */

/* The name or address the certificate must have; a name is also SNI. */
static int expect_peer(SSL *ssl, const struct chatd_rtls *t)
{
    if (t->host_is_ip)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                             t->host) == 1 ? 0 : -1;
    return SSL_set1_host(ssl, t->host) == 1 &&
           SSL_set_tlsext_host_name(ssl, t->host) == 1 ? 0 : -1;
}

static int make_events(struct pair *p, struct event_base *base)
{
    p->plain_rev = event_new(base, p->plain, EV_READ | EV_PERSIST, on_event,
                             p);
    p->plain_wev = event_new(base, p->plain, EV_WRITE | EV_PERSIST,
                             on_event, p);
    p->net_rev = event_new(base, p->net, EV_READ | EV_PERSIST, on_event, p);
    p->net_wev = event_new(base, p->net, EV_WRITE | EV_PERSIST, on_event, p);
    p->again = event_new(base, -1, 0, on_event, p);
    return p->plain_rev && p->plain_wev && p->net_rev && p->net_wev &&
                   p->again ? 0 : -1;
}

/* The TCP side: non-blocking, no Nagle (hiredis's choice too), started. */
static int open_net(struct pair *p)
{
    const struct chatd_rtls *t = p->t;
    int one = 1;

    p->net = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, 0);
    if (p->net < 0)
        return -1;
    (void)setsockopt(p->net, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(p->net, (const struct sockaddr *)&t->sa, t->salen) == 0)
        p->state = P_HANDSHAKING;
    else if (errno == EINPROGRESS)
        p->state = P_CONNECTING;
    else
        return -1;
    return 0;
}

static void new_pair(struct chatd_rtls *t, int fd)
{
    struct pair *p = calloc(1, sizeof *p);

    if (!p) {
        close(fd);
        snprintf(t->why, sizeof t->why, "out of memory");
        return;
    }
    if (t->npairs == 0)
        t->why[0] = '\0'; /* a new connect cycle: no reason yet */
    p->t = t;
    p->plain = fd;
    p->net = -1;
    p->next = t->pairs;
    /* A pair closed earlier in on_accept's loop was unlinked through its
     * p->t, which the analyzer stops tracking once p escapes to libevent:
     * the head it sees freed here is not the head any more. */
    if (t->pairs)
        t->pairs->prev = p; // NOLINT(clang-analyzer-unix.Malloc)
    t->pairs = p;
    t->npairs++;
    if (open_net(p) != 0) {
        connect_failed(p, errno);
        return;
    }
    p->ssl = SSL_new(t->ctx);
    if (!p->ssl || SSL_set_fd(p->ssl, p->net) != 1 ||
        expect_peer(p->ssl, t) != 0 || make_events(p, t->base) != 0) {
        close_pair(p, "cannot set up a TLS session");
        return;
    }
    SSL_set_connect_state(p->ssl);
    service(p);
}

static void on_pause(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_rtls *t = arg;

    (void)fd;
    (void)what;
    if (event_add(t->accept_ev, NULL) != 0)
        log_warn("redis TLS: cannot accept again");
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_rtls *t = arg;
    struct timeval pause = {0, (suseconds_t)ACCEPT_PAUSE_MS * 1000};

    (void)what;
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0 && errno == EINTR)
            continue;
        if (c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (c < 0) {
            /* Out of descriptors: hiredis's setup deadline ends the try;
             * meanwhile do not spin on the pending connection. */
            snprintf(t->why, sizeof t->why, "accept: %s", strerror(errno));
            event_del(t->accept_ev);
            evtimer_add(t->pause_ev, &pause);
            return;
        }
        if (t->npairs >= PAIRS_MAX) {
            close(c);
            continue;
        }
        new_pair(t, c);
    }
}

int chatd_rtls_start(struct chatd_rtls *t, struct event_base *base)
{
    t->base = base;
    t->accept_ev = event_new(base, t->lfd, EV_READ | EV_PERSIST, on_accept,
                             t);
    t->pause_ev = evtimer_new(base, on_pause, t);
    if (!t->accept_ev || !t->pause_ev || event_add(t->accept_ev, NULL) != 0)
        return -1;
    return 0;
}

void chatd_rtls_free(struct chatd_rtls *t)
{
    if (!t)
        return;
    chatd_rtls_close_all(t);
    free_event(t->accept_ev);
    free_event(t->pause_ev);
    if (t->lfd >= 0)
        close(t->lfd);
    if (t->path[0])
        (void)unlink(t->path);
    if (t->dir[0])
        (void)rmdir(t->dir);
    SSL_CTX_free(t->ctx);
    free(t);
}
