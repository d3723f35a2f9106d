/* See tls_harness.h. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* mkdtemp */

#include "tls_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

static char cert_dir[64];

static void die(const char *what)
{
    fprintf(stderr, "tls harness: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- certificates ---------------------------------------------------------- */

void tt_make_certs(const char *script)
{
    pid_t pid;
    int status;

    snprintf(cert_dir, sizeof cert_dir, "/tmp/chatd-tls-XXXXXX");
    if (!mkdtemp(cert_dir))
        die("mkdtemp");
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        execl("/bin/sh", "sh", script, cert_dir, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "tls harness: %s %s failed\n", script, cert_dir);
        exit(1);
    }
}

void tt_remove_certs(void)
{
    char cmd[128];

    if (!cert_dir[0])
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cert_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "tls harness: could not remove %s\n", cert_dir);
}

const char *tt_path(const char *name)
{
    static char buf[4][256];
    static unsigned next;
    char *p = buf[next++ % 4];

    snprintf(p, sizeof buf[0], "%s/%s", cert_dir, name);
    return p;
}

/* ---- sockets ------------------------------------------------------------------ */

static void nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl");
}

int tt_listener(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("listen");
    *port = ntohs(a.sin_port);
    return fd;
}

int tt_accept(int lfd)
{
    int fd;

    if (!(tt_poll(lfd, POLLIN, TT_WAIT_MS) & POLLIN))
        return -1;
    fd = accept(lfd, NULL, NULL);
    if (fd >= 0)
        nonblocking(fd);
    return fd;
}

void tt_tcp_pair(int *server, int *client)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int port, one = 1;
    int lfd = tt_listener(&port);

    *client = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    if (*client < 0 || connect(*client, (struct sockaddr *)&a, len) < 0)
        die("connect");
    *server = tt_accept(lfd);
    if (*server < 0)
        die("accept");
    /* As chatd and clients do: small records go out at once. */
    setsockopt(*server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    close(lfd);
}

short tt_poll(int fd, short events, int ms)
{
    struct pollfd p = {fd, events, 0};
    int n;

    do
        n = poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    return n > 0 ? p.revents : 0;
}

/* ---- chatd's side ---------------------------------------------------------- */

/* Wait as a WANT_* result asks; -1 if the wait timed out. */
static int wait_want(int fd, long r)
{
    short ev = r == CHATD_TLS_WANT_READ ? POLLIN : POLLOUT;

    return tt_poll(fd, ev, TT_WAIT_MS) ? 0 : -1;
}

int tt_handshake(struct chatd_tls *t, int fd)
{
    for (;;) {
        int r = chatd_tls_handshake(t);
        if (r == CHATD_TLS_DONE || r == CHATD_TLS_ERROR)
            return r;
        if (wait_want(fd, r) != 0)
            return CHATD_TLS_WANT_READ; /* timed out: the test fails */
    }
}

ssize_t tt_read(struct chatd_tls *t, int fd, void *buf, size_t cap)
{
    for (;;) {
        ssize_t n = chatd_tls_read(t, buf, cap);
        if (n > 0 || n == CHATD_TLS_EOF || n == CHATD_TLS_ERROR)
            return n;
        if (wait_want(fd, n) != 0)
            return 0; /* timed out */
    }
}

int tt_read_to_end(struct chatd_tls *t, int fd, char *buf, size_t cap,
                   size_t *len)
{
    char chunk[4096];

    for (;;) {
        ssize_t n = tt_read(t, fd, chunk, sizeof chunk);
        if (n <= 0)
            return (int)n;
        if (*len + (size_t)n <= cap) {
            memcpy(buf + *len, chunk, (size_t)n);
            *len += (size_t)n;
        }
    }
}

int tt_shutdown(struct chatd_tls *t, int fd)
{
    for (;;) {
        int r = chatd_tls_shutdown(t);
        if (r != CHATD_TLS_WANT_WRITE || wait_want(fd, r) != 0)
            return r;
    }
}

int tt_write_all(struct chatd_tls *t, int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = chatd_tls_write(t, p, len);
        if (n == CHATD_TLS_ERROR)
            return CHATD_TLS_ERROR;
        if (n < 0) {
            if (wait_want(fd, n) != 0)
                return (int)n;
            continue;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- the client ------------------------------------------------------------------ */

static void *client_main(void *arg)
{
    struct tt_client *c = arg;

    c->script(c);
    return NULL;
}

void tt_client_start(struct tt_client *c, int fd, tt_script *script)
{
    c->fd = fd;
    c->script = script;
    if (pipe(c->go) < 0)
        die("pipe");
    if (pthread_create(&c->thread, NULL, client_main, c) != 0)
        die("pthread_create");
}

void tt_client_join(struct tt_client *c)
{
    pthread_join(c->thread, NULL);
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    c->ssl = NULL;
    c->ctx = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    close(c->go[0]);
    close(c->go[1]);
}

void tt_client_go(struct tt_client *c)
{
    if (write(c->go[1], "g", 1) != 1)
        die("write");
}

void tt_client_wait_go(struct tt_client *c)
{
    char b;

    if (read(c->go[0], &b, 1) != 1)
        die("read");
}

static int make_ctx(struct tt_client *c)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return -1;
    if (c->old_protocols) {
        /* Debian's default security level would refuse to offer them. */
        SSL_CTX_set_security_level(c->ctx, 0);
        SSL_CTX_set_min_proto_version(c->ctx, TLS1_VERSION);
    }
    if (c->max_version)
        SSL_CTX_set_max_proto_version(c->ctx, c->max_version);
    if (c->ciphers && SSL_CTX_set_cipher_list(c->ctx, c->ciphers) != 1)
        return -1;
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    return SSL_CTX_load_verify_locations(
               c->ctx, c->cafile ? c->cafile : tt_path("ca.pem"), NULL) == 1
               ? 0 : -1;
}

static void note_cn(struct tt_client *c)
{
    X509 *cert = SSL_get1_peer_certificate(c->ssl);

    if (!cert)
        return;
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
                              c->cn, sizeof c->cn);
    X509_free(cert);
}

int tt_client_connect(struct tt_client *c)
{
    if (make_ctx(c) != 0 || !(c->ssl = SSL_new(c->ctx)) ||
        SSL_set_fd(c->ssl, c->fd) != 1 ||
        SSL_set1_host(c->ssl, "localhost") != 1 ||
        (c->session && SSL_set_session(c->ssl, c->session) != 1)) {
        c->error = ERR_get_error();
        return -1;
    }
    if (SSL_connect(c->ssl) != 1) {
        c->error = ERR_get_error();
        return -1;
    }
    c->connected = 1;
    c->reused = SSL_session_reused(c->ssl);
    note_cn(c);
    return 0;
}

/* One read into got; 0 at the end (close_notify, EOF or an error). */
static int read_once(struct tt_client *c)
{
    char buf[4096];
    size_t n = 0;

    if (SSL_read_ex(c->ssl, buf, sizeof buf, &n) != 1) {
        c->saw_close_notify =
            SSL_get_error(c->ssl, 0) == SSL_ERROR_ZERO_RETURN;
        return 0;
    }
    if (c->got_len + n > sizeof c->got)
        n = sizeof c->got - c->got_len;
    memcpy(c->got + c->got_len, buf, n);
    c->got_len += n;
    return 1;
}

void tt_client_read_to_end(struct tt_client *c)
{
    while (read_once(c))
        ;
}

void tt_client_read_n(struct tt_client *c, size_t n)
{
    while (c->got_len < n && read_once(c))
        ;
}

void tt_script_handshake_only(struct tt_client *c)
{
    tt_client_connect(c);
    tt_client_wait_go(c);
}

void tt_script_talk(struct tt_client *c)
{
    size_t n = c->send ? strlen(c->send) : 0;
    size_t w;

    if (tt_client_connect(c) != 0)
        return;
    if (n > 0 && SSL_write_ex(c->ssl, c->send, n, &w) != 1)
        return;
    tt_client_read_to_end(c);
    c->got_session = SSL_get1_session(c->ssl);
    if (c->saw_close_notify)
        SSL_shutdown(c->ssl);
}
