/* See tlsd.h. */
#define _GNU_SOURCE /* mkdtemp, MSG_NOSIGNAL */

#include "tlsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* ---- certificates -------------------------------------------------------- */

static char cert_dir[64];
static pid_t cert_owner; /* the process that made them removes them */

static void remove_certs(void)
{
    char cmd[128];

    if (getpid() != cert_owner)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cert_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "tlsd: could not remove %s\n", cert_dir);
}

static void make_certs(void)
{
    const char *script = getenv("MKCERTS");
    char cmd[512];

    ck_assert_msg(script && *script, "$MKCERTS must name tests/tls/mkcerts.sh");
    snprintf(cert_dir, sizeof cert_dir, "/tmp/chatd-tlsd-XXXXXX");
    ck_assert_msg(mkdtemp(cert_dir) != NULL, "mkdtemp: %s", strerror(errno));
    cert_owner = getpid();
    atexit(remove_certs);
    snprintf(cmd, sizeof cmd, "sh '%s' '%s'", script, cert_dir);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
    cert_copy("server.pem", "cert.pem");
    cert_copy("server.key", "cert.key");
}

const char *cert_path(const char *name)
{
    static char buf[8][256];
    static unsigned next;
    char *p = buf[next++ % 8];

    if (!cert_dir[0])
        make_certs();
    snprintf(p, sizeof buf[0], "%s/%s", cert_dir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "w");

    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_msg(fwrite(data, 1, len, f) == len && fclose(f) == 0,
                  "writing %s failed", path);
}

void cert_copy(const char *from, const char *to)
{
    static char data[1 << 16];
    FILE *f = fopen(cert_path(from), "r");
    size_t n;

    ck_assert_msg(f != NULL, "%s: %s", from, strerror(errno));
    n = fread(data, 1, sizeof data, f);
    fclose(f);
    write_file(cert_path(to), data, n);
}

void cert_write(const char *name, const char *text)
{
    write_file(cert_path(name), text, strlen(text));
}

/* The serial of x in hex into buf. */
static void serial_hex(X509 *x, char *buf, size_t size)
{
    BIGNUM *bn = x ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)
                   : NULL;
    char *hex = bn ? BN_bn2hex(bn) : NULL;

    snprintf(buf, size, "%s", hex ? hex : "?");
    OPENSSL_free(hex);
    BN_free(bn);
}

const char *cert_serial(const char *name)
{
    static char buf[80];
    FILE *f = fopen(cert_path(name), "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f)
        fclose(f);
    ck_assert_msg(x != NULL, "no certificate in %s", name);
    serial_hex(x, buf, sizeof buf);
    X509_free(x);
    return buf;
}

/* ---- chatd ------------------------------------------------------------------- */

int tls_port = -1;

int listen_port(const chatd_proc *d, const char *scheme)
{
    char needle[64], line[512];
    const char *colon;

    snprintf(needle, sizeof needle, "listening on %s://", scheme);
    if (!chatd_log_line(d, needle, line, sizeof line))
        return -1;
    colon = strrchr(line, ':');
    return colon ? atoi(colon + 1) : -1;
}

#define MAX_ARGS 40

static void start_with(const char *const *args, long nofile)
{
    static char cert[256], key[256];
    const char *argv[MAX_ARGS] = {"--listen", "tls://127.0.0.1:0",
                                  "--tls-cert", cert, "--tls-key", key};
    int n = 6, rc;

    snprintf(cert, sizeof cert, "%s", cert_path("cert.pem"));
    snprintf(key, sizeof key, "%s", cert_path("cert.key"));
    for (; args && *args && n < MAX_ARGS - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    rc = nofile > 0 ? chatd_start_nofile(&srv, argv, nofile)
                    : chatd_start(&srv, argv);
    CHECK(rc == 0, "chatd did not start (status %d)", srv.status);
    /* The plain listener logs first; the TLS one right after it. */
    long long deadline = now_ms() + DEFAULT_WAIT_MS;
    while ((tls_port = listen_port(&srv, "tls")) <= 0 && now_ms() < deadline)
        sleep_ms(10);
    CHECK(tls_port > 0, "no 'listening on tls://' line");
}

void tls_start(const char *const *args)
{
    start_with(args, 0);
}

void tls_start_nofile(const char *const *args, long nofile)
{
    start_with(args, nofile);
}

const char *secs(double s)
{
    static char buf[4][24];
    static unsigned next;
    char *b = buf[next++ % 4];

    snprintf(b, sizeof buf[0], "%.3f", s * harness_slowdown());
    return b;
}

int chatd_fds(const chatd_proc *d)
{
    char path[64];
    DIR *dir;
    int n = 0;

    snprintf(path, sizeof path, "/proc/%ld/fd", (long)d->pid);
    if (d->pid <= 0 || !(dir = opendir(path)))
        return -1;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

int log_count(const char *needle)
{
    static char log[1 << 20];
    FILE *f = fopen(srv.log_path, "r");
    size_t n = f ? fread(log, 1, sizeof log - 1, f) : 0;
    int count = 0;

    if (f)
        fclose(f);
    log[n] = '\0';
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
        count++;
    return count;
}

void wait_log(const char *needle, int count, int wait_ms)
{
    long long deadline = now_ms() + (long long)wait_ms * harness_slowdown();

    while (log_count(needle) < count) {
        CHECK(now_ms() < deadline, "chatd logged '%s' %d times, want %d",
              needle, log_count(needle), count);
        sleep_ms(20);
    }
}

/* ---- a TLS user -------------------------------------------------------------- */

/* Users still open, freed at exit (LeakSanitizer runs on the test). */
#define MAX_USERS 64
static tls_user *users[MAX_USERS];
static SSL_CTX *client_ctx;

static void free_users(void)
{
    for (int i = 0; i < MAX_USERS; i++)
        tls_close(users[i]);
    SSL_CTX_free(client_ctx);
    client_ctx = NULL;
}

static void track_user(tls_user *u, int on)
{
    static int registered;

    if (!registered) {
        atexit(free_users);
        registered = 1;
    }
    for (int i = 0; i < MAX_USERS; i++) {
        if (on ? users[i] == NULL : users[i] == u) {
            users[i] = on ? u : NULL;
            return;
        }
    }
}

/* The test CA, the name "localhost": what a careful client checks. */
static SSL_CTX *ctx(void)
{
    if (client_ctx)
        return client_ctx;
    client_ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_msg(client_ctx != NULL, "SSL_CTX_new failed");
    ck_assert_msg(SSL_CTX_load_verify_locations(client_ctx,
                                                cert_path("ca.pem"),
                                                NULL) == 1,
                  "cannot load the test CA");
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
    return client_ctx;
}

static SSL *new_ssl(void)
{
    SSL *s = SSL_new(ctx());

    ck_assert_msg(s != NULL, "SSL_new failed");
    SSL_set_tlsext_host_name(s, "localhost");
    SSL_set1_host(s, "localhost");
    return s;
}

/* Wait as OpenSSL asked after rc; 0, or -1 for an error or the deadline. */
static int wait_ssl(tls_user *u, int rc, long long deadline)
{
    int e = SSL_get_error(u->ssl, rc);
    struct pollfd p = {u->io.fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN,
                       0};
    long long left = deadline - now_ms();

    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        return -1;
    if (left <= 0)
        return -1;
    return poll(&p, 1, (int)left) >= 0 || errno == EINTR ? 0 : -1;
}

void loopback(struct sockaddr_in *a, int port)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* A connected non-blocking socket, or -1. */
static int tcp_connect(int port, int rcvbuf)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    loopback(&a, port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

tls_user *tls_connect(int port, int rcvbuf, const char **why)
{
    static char reason[256];
    long long deadline = now_ms() + DEFAULT_WAIT_MS;
    tls_user *u = calloc(1, sizeof *u);
    int rc;

    ck_assert_msg(u != NULL, "out of memory");
    u->io.fd = -1;
    track_user(u, 1);
    u->io.fd = tcp_connect(port, rcvbuf);
    if (u->io.fd < 0) {
        snprintf(reason, sizeof reason, "connect: %s", strerror(errno));
        goto fail;
    }
    u->ssl = new_ssl();
    SSL_set_fd(u->ssl, u->io.fd);
    while ((rc = SSL_connect(u->ssl)) != 1) {
        int err = errno;
        if (wait_ssl(u, rc, deadline) != 0) {
            unsigned long e = ERR_peek_error();
            snprintf(reason, sizeof reason, "handshake: %s",
                     now_ms() >= deadline ? "timed out"
                     : e ? ERR_reason_error_string(e)
                     : err ? strerror(err) : "closed by the server");
            ERR_clear_error();
            goto fail;
        }
    }
    X509 *x = SSL_get1_peer_certificate(u->ssl);
    serial_hex(x, u->serial, sizeof u->serial);
    X509_free(x);
    return u;
fail:
    snprintf(u->why, sizeof u->why, "%s", reason);
    if (why)
        *why = reason;
    tls_close(u);
    return NULL;
}

static tls_user *join_with(int rcvbuf)
{
    const char *why = "";
    tls_user *u = tls_connect(tls_port, rcvbuf, &why);
    const char *line;

    CHECK(u != NULL, "TLS connection to port %d: %s", tls_port, why);
    TLS_EXPECT(u, "Server commands");
    while (strncmp(line = tls_next(u), "You are ", 8) != 0)
        CHECK(line[0] == '/', "greeting: expected a help line, got '%s'",
              line);
    snprintf(u->name, sizeof u->name, "%s", line + 8);
    tls_skip_to(u, "You joined main"); /* after the room's history */
    return u;
}

tls_user *tls_join(void)
{
    return join_with(0);
}

tls_user *tls_join_small(void)
{
    return join_with(4096);
}

int tls_send_bytes(tls_user *u, const void *data, size_t len)
{
    long long deadline = now_ms() + DEFAULT_WAIT_MS;

    while (len > 0) {
        int rc = SSL_write(u->ssl, data, len > INT32_MAX ? INT32_MAX
                                                         : (int)len);
        if (rc > 0) {
            data = (const char *)data + rc;
            len -= (size_t)rc;
        } else if (wait_ssl(u, rc, deadline) != 0) {
            ERR_clear_error();
            return -1;
        }
    }
    return 0;
}

/* fmt's text and a newline into buf (1 KiB): its length, or fail. */
__attribute__((format(printf, 2, 0)))
static size_t format_line(char *buf, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, 1023, fmt, ap);

    CHECK(n >= 0 && n < 1023, "line too long");
    buf[n] = '\n';
    return (size_t)n + 1;
}

void tls_send(tls_user *u, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    n = format_line(buf, fmt, ap);
    va_end(ap);
    CHECK(tls_send_bytes(u, buf, n) == 0, "TLS user %s: send failed",
          u->name);
}

const char *tls_line(tls_user *u, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    client *io = &u->io;
    const char *line;

    while (!(line = client_try_line(io))) {
        int rc;
        if (io->eof || io->len == sizeof io->buf)
            return NULL;
        rc = SSL_read(u->ssl, io->buf + io->len,
                      (int)(sizeof io->buf - io->len));
        if (rc > 0) {
            io->len += (size_t)rc;
        } else if (wait_ssl(u, rc, deadline) != 0) {
            int e = SSL_get_error(u->ssl, rc);
            ERR_clear_error();
            /* close_notify, EOF or a reset; else the deadline passed */
            io->eof = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
            u->notify = e == SSL_ERROR_ZERO_RETURN;
            return NULL;
        }
    }
    return line;
}

const char *tls_next(tls_user *u)
{
    const char *line = tls_line(u, DEFAULT_WAIT_MS);

    return line ? line : u->io.eof ? "<eof>" : "<timeout>";
}

void tls_expect(const char *file, int line, tls_user *u, const char *fmt, ...)
{
    char want[1024];
    va_list ap;
    const char *got;

    va_start(ap, fmt);
    want[format_line(want, fmt, ap) - 1] = '\0';
    va_end(ap);
    got = tls_next(u);
    CHECK(strcmp(got, want) == 0, "%s:%d: TLS user %s: expected '%s', got "
          "'%s'", file, line, u->name, want, got);
}

void tls_skip_to(tls_user *u, const char *want)
{
    const char *line;

    while (strcmp(line = tls_next(u), want) != 0)
        CHECK(line[0] != '<', "TLS user %s waiting for '%s': %s", u->name,
              want, line);
}

void tls_expect_eof(tls_user *u)
{
    long long deadline = now_ms() + DEFAULT_WAIT_MS;

    while (!u->io.eof) {
        long long left = deadline - now_ms();
        CHECK(left > 0, "TLS user %s: the server did not close", u->name);
        if (!tls_line(u, (int)left))
            u->io.len = 0; /* a partial line is dropped too */
    }
}

void tls_close(tls_user *u)
{
    if (!u)
        return;
    track_user(u, 0);
    if (u->ssl) {
        if (SSL_is_init_finished(u->ssl))
            (void)SSL_shutdown(u->ssl);
        SSL_free(u->ssl);
        ERR_clear_error();
    }
    if (u->io.fd >= 0)
        close(u->io.fd);
    free(u);
}

/* ---- raw bytes --------------------------------------------------------------- */

size_t client_hello(unsigned char *buf, size_t cap)
{
    SSL *s = new_ssl();
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    int n;

    ck_assert_msg(in && out, "BIO_new failed");
    SSL_set_bio(s, in, out); /* s owns both */
    ck_assert_msg(SSL_connect(s) == -1 &&
                  SSL_get_error(s, -1) == SSL_ERROR_WANT_READ,
                  "the client did not wait for the server");
    n = BIO_read(out, buf, (int)cap);
    SSL_free(s);
    ERR_clear_error();
    ck_assert_msg(n > 5 && buf[0] == 0x16, "no ClientHello (%d bytes)", n);
    return (size_t)n;
}

int raw_wait_end(client *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    for (;;) {
        char chunk[4096];
        struct pollfd p = {c->fd, POLLIN, 0};
        long long left = deadline - now_ms();
        ssize_t n;

        if (left <= 0)
            return -1;
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        n = recv(c->fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            c->eof = 1;
            return 0;
        }
        if (n > 0) {
            size_t room = sizeof c->buf - c->len;
            size_t k = (size_t)n < room ? (size_t)n : room;
            memcpy(c->buf + c->len, chunk, k);
            c->len += k;
        }
    }
}

int tlsd_main(const char *suite, const harness_case *cases, size_t n)
{
    signal(SIGPIPE, SIG_IGN);
    return harness_main(suite, cases, n, 55 * harness_slowdown());
}
