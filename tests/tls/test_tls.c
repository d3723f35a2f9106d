/*
 * server/tls.c against real OpenSSL clients on loopback TCP: chatd's side
 * non-blocking and driven as its events would (tls_harness.c), the
 * client blocking in a thread of its own, or `openssl s_client`, or raw
 * bytes. Certificates come from mkcerts.sh, run into a temporary
 * directory when the program starts.
 *
 *   test-tls MKCERTS_SH
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tls_harness.h"

static const char *mkcerts;

static void make_certs(void)
{
    tt_make_certs(mkcerts);
}

/* A context for NAME.pem and NAME.key; fails the test if it cannot. */
static struct chatd_tls_ctx *ctx_for(const char *name)
{
    char cert[64], key[64], err[256] = "";
    struct chatd_tls_ctx *ctx;

    snprintf(cert, sizeof cert, "%s.pem", name);
    snprintf(key, sizeof key, "%s.key", name);
    ctx = chatd_tls_ctx_new(tt_path(cert), tt_path(key), err, sizeof err);
    ck_assert_msg(ctx != NULL, "%s", err);
    return ctx;
}

/* chatd's end of a new pair with a client thread running script. */
struct pair {
    int fd;
    struct chatd_tls *t;
};

static struct pair start(struct chatd_tls_ctx *ctx, struct tt_client *c,
                         tt_script *script)
{
    struct pair p;
    int cfd;

    tt_tcp_pair(&p.fd, &cfd);
    tt_client_start(c, cfd, script);
    p.t = chatd_tls_new(ctx, p.fd);
    ck_assert_ptr_nonnull(p.t);
    return p;
}

static void finish(struct pair *p)
{
    chatd_tls_free(p->t);
    close(p->fd);
}

/* Read to the client's end: EOF (not an error), after exactly want. */
static void expect_eof_after(struct pair *p, const char *want)
{
    char buf[256];
    size_t len = 0;

    ck_assert_int_eq(tt_read_to_end(p->t, p->fd, buf, sizeof buf, &len),
                     CHATD_TLS_EOF);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_mem_eq(buf, want, len);
}

/* ---- handshake and data ---------------------------------------------------- */

START_TEST(handshake_data_and_close_notify_both_ways)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {.send = "hello\n"};
    struct pair p = start(ctx, &c, tt_script_talk);
    char buf[64];

    ck_assert_uint_eq(chatd_tls_ctx_handshakes(ctx), 1);
    ck_assert(chatd_tls_handshaking(p.t));
    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    ck_assert(!chatd_tls_handshaking(p.t));
    ck_assert_uint_eq(chatd_tls_ctx_handshakes(ctx), 0);
    ck_assert_str_eq(chatd_tls_version(p.t), "TLSv1.3");
    ck_assert_int_eq(tt_read(p.t, p.fd, buf, sizeof buf), 6);
    ck_assert_mem_eq(buf, "hello\n", 6);
    ck_assert_int_eq(tt_write_all(p.t, p.fd, "world\n", 6), 0);
    /* close_notify out; the client answers with its own: EOF here. */
    ck_assert_int_eq(chatd_tls_shutdown(p.t), CHATD_TLS_DONE);
    expect_eof_after(&p, "");
    tt_client_join(&c);
    ck_assert(c.connected);
    ck_assert_str_eq(c.cn, "server"); /* verified through the chain */
    ck_assert_uint_eq(c.got_len, 6);
    ck_assert_mem_eq(c.got, "world\n", 6);
    ck_assert(c.saw_close_notify);
    SSL_SESSION_free(c.got_session);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

START_TEST(tls12_gets_ecdhe_with_aead)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {.send = "x", .max_version = TLS1_2_VERSION};
    struct pair p = start(ctx, &c, tt_script_talk);
    const char *cipher;
    char buf[8];

    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    ck_assert_str_eq(chatd_tls_version(p.t), "TLSv1.2");
    cipher = chatd_tls_cipher(p.t);
    ck_assert_msg(strncmp(cipher, "ECDHE-", 6) == 0 &&
                      (strstr(cipher, "GCM") || strstr(cipher, "CHACHA20")),
                  "cipher %s", cipher);
    ck_assert_int_eq(tt_read(p.t, p.fd, buf, sizeof buf), 1);
    ck_assert_int_eq(chatd_tls_shutdown(p.t), CHATD_TLS_DONE);
    tt_client_join(&c);
    ck_assert(c.connected && c.saw_close_notify);
    SSL_SESSION_free(c.got_session);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* Only CBC suites (no AEAD) offered: refused, and said so. */
START_TEST(tls12_without_aead_is_refused)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {.max_version = TLS1_2_VERSION,
                          .ciphers = "ECDHE-ECDSA-AES128-SHA:AES128-SHA"};
    struct pair p = start(ctx, &c, tt_script_talk);

    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_ERROR);
    ck_assert_str_eq(chatd_tls_why(p.t), "no cipher in common with the client");
    ck_assert_uint_eq(chatd_tls_ctx_handshakes(ctx), 0);
    tt_client_join(&c);
    ck_assert(!c.connected);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* TLS 1.0 and 1.1 (_i = 0, 1), offered by an OpenSSL client told to. */
START_TEST(tls10_and_tls11_are_refused)
{
    static const int version[] = {TLS1_VERSION, TLS1_1_VERSION};
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {.max_version = version[_i], .old_protocols = 1};
    struct pair p = start(ctx, &c, tt_script_talk);

    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_ERROR);
    ck_assert_str_eq(chatd_tls_why(p.t),
                     "the client offers only TLS 1.1 or older");
    tt_client_join(&c);
    ck_assert(!c.connected);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* ---- openssl s_client: a client no one here wrote -------------------------- */

/* Start `openssl s_client -connect 127.0.0.1:PORT ARGS...`, its stdin the
 * returned *in (a pipe) and its stdout and stderr the file out. */
static pid_t s_client(int port, const char *const *args, int *in, FILE *out)
{
    char addr[32];
    const char *argv[16] = {"openssl", "s_client", "-connect", addr};
    size_t n = 4;
    int p[2];
    pid_t pid;

    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    while (*args && n < 15)
        argv[n++] = *args++;
    argv[n] = NULL;
    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[0], 0);
        dup2(fileno(out), 1);
        dup2(fileno(out), 2);
        close(p[1]);
        execvp("openssl", (char *const *)argv);
        _exit(127);
    }
    close(p[0]);
    *in = p[1];
    return pid;
}

static int wait_status(pid_t pid)
{
    int status;

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char *slurp(FILE *f)
{
    static char buf[16384];
    size_t n;

    fflush(f);
    rewind(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    return buf;
}

START_TEST(s_client_chats_and_closes)
{
    static const char *const args[] = {"-CAfile", NULL, "-verify_return_error",
                                       "-verify_hostname", "localhost",
                                       "-ign_eof", NULL};
    const char *argv[7];
    struct chatd_tls_ctx *ctx = ctx_for("server");
    int port, lfd = tt_listener(&port), in, fd;
    FILE *out = tmpfile();
    struct chatd_tls *t;
    char buf[64];
    size_t len = 0;
    pid_t pid;

    memcpy(argv, args, sizeof argv);
    argv[1] = tt_path("ca.pem");
    pid = s_client(port, argv, &in, out);
    fd = tt_accept(lfd);
    ck_assert_int_ge(fd, 0);
    t = chatd_tls_new(ctx, fd);
    ck_assert_int_eq(tt_handshake(t, fd), CHATD_TLS_DONE);
    ck_assert_int_eq(write(in, "hello from s_client\n", 20), 20);
    ck_assert_int_eq(tt_read(t, fd, buf, sizeof buf), 20);
    ck_assert_mem_eq(buf, "hello from s_client\n", 20);
    ck_assert_int_eq(tt_write_all(t, fd, "hi s_client\n", 12), 0);
    ck_assert_int_eq(chatd_tls_shutdown(t), CHATD_TLS_DONE);
    /* s_client ends on our close_notify: EOF here, with or without its own. */
    ck_assert_int_eq(tt_read_to_end(t, fd, buf, sizeof buf, &len),
                     CHATD_TLS_EOF);
    close(in);
    ck_assert_int_eq(wait_status(pid), 0);
    ck_assert_msg(strstr(slurp(out), "hi s_client\n") != NULL, "%s", slurp(out));
    ck_assert_msg(strstr(slurp(out), "Verify return code: 0 (ok)") != NULL,
                  "%s", slurp(out));
    fclose(out);
    chatd_tls_free(t);
    close(fd);
    close(lfd);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* s_client -tls1_1 and -tls1 (_i = 0, 1) fail; chatd's side says why. */
START_TEST(s_client_tls11_and_tls10_fail)
{
    static const char *const flag[] = {"-tls1_1", "-tls1"};
    const char *args[] = {flag[_i], "-cipher", "DEFAULT@SECLEVEL=0", NULL};
    struct chatd_tls_ctx *ctx = ctx_for("server");
    int port, lfd = tt_listener(&port), in, fd;
    FILE *out = tmpfile();
    struct chatd_tls *t;
    pid_t pid = s_client(port, args, &in, out);

    fd = tt_accept(lfd);
    ck_assert_int_ge(fd, 0);
    t = chatd_tls_new(ctx, fd);
    ck_assert_int_eq(tt_handshake(t, fd), CHATD_TLS_ERROR);
    ck_assert_str_eq(chatd_tls_why(t),
                     "the client offers only TLS 1.1 or older");
    chatd_tls_free(t);
    close(fd);
    close(in);
    ck_assert_int_ne(wait_status(pid), 0);
    fclose(out);
    close(lfd);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* ---- reads: what OpenSSL holds does not wake poll --------------------------- */

START_TEST(pending_bytes_are_drained_without_the_socket)
{
    static char big[1000];
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {.send = big};
    struct pair p;
    char buf[1000];
    size_t got;

    memset(big, 'p', sizeof big - 1); /* one record of 999 bytes */
    p = start(ctx, &c, tt_script_talk);
    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    ck_assert_int_eq(tt_read(p.t, p.fd, buf, 10), 10);
    /* The whole record left the socket: poll says nothing is there... */
    ck_assert(chatd_tls_pending(p.t));
    ck_assert_int_eq(tt_poll(p.fd, POLLIN, 0), 0);
    /* ...and the rest comes from OpenSSL, in reads that never wait. */
    got = 10;
    while (chatd_tls_pending(p.t)) {
        ssize_t n = chatd_tls_read(p.t, buf + got, 100);
        ck_assert_int_gt(n, 0);
        got += (size_t)n;
    }
    ck_assert_uint_eq(got, 999);
    ck_assert_int_eq(chatd_tls_read(p.t, buf, sizeof buf), CHATD_TLS_WANT_READ);
    ck_assert_int_eq(chatd_tls_shutdown(p.t), CHATD_TLS_DONE);
    tt_client_join(&c);
    SSL_SESSION_free(c.got_session);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* ---- writes: one record per call; a retry may move ---------------------------- */

#define BIG_TOTAL ((size_t)256 * 1024)

static char pattern(size_t i)
{
    return (char)('a' + i % 26);
}

/* The client waits for go, then reads BIG_TOTAL bytes, checking each. */
struct big_client {
    struct tt_client c; /* first: the script gets &c */
    size_t total;
    int ok;
};

static void script_read_big(struct tt_client *c)
{
    struct big_client *b = (struct big_client *)c;
    char buf[16384];
    size_t n;

    b->ok = 1;
    if (tt_client_connect(c) != 0)
        return;
    tt_client_wait_go(c);
    while (SSL_read_ex(c->ssl, buf, sizeof buf, &n) == 1) {
        for (size_t i = 0; i < n; i++)
            b->ok &= buf[i] == pattern(b->total + i);
        b->total += n;
    }
    c->saw_close_notify = SSL_get_error(c->ssl, 0) == SSL_ERROR_ZERO_RETURN;
    SSL_shutdown(c->ssl);
}

/*
 * What chatd does: gather into a scratch buffer (more than a record),
 * write once; on WANT_WRITE, gather again later. Here the retry comes from
 * another buffer each time and the old one is overwritten, as chatd's
 * shared scratch is by other connections in between.
 */
START_TEST(writes_are_records_and_retries_may_move)
{
    static char scratch[2][2 * CHATD_TLS_RECORD];
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct big_client b = {.c = {0}};
    struct pair p = start(ctx, &b.c, script_read_big);
    int small = 4096, which = 0, wants = 0;
    size_t off = 0, len = 0;

    setsockopt(p.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    while (off < BIG_TOTAL) {
        size_t want = BIG_TOTAL - off < sizeof scratch[0] ? BIG_TOTAL - off
                                                          : sizeof scratch[0];
        ssize_t n;

        for (size_t i = 0; i < want; i++)
            scratch[which][i] = pattern(off + i);
        ck_assert_uint_ge(want, len); /* never fewer bytes than last time */
        len = want;
        n = chatd_tls_write(p.t, scratch[which], len);
        if (n > 0) {
            ck_assert_int_le(n, CHATD_TLS_RECORD);
            off += (size_t)n;
            len = 0;
            continue;
        }
        ck_assert_int_eq(n, CHATD_TLS_WANT_WRITE);
        if (wants++ == 0)
            tt_client_go(&b.c); /* the socket is full: start reading */
        memset(scratch[which], '#', sizeof scratch[0]);
        which ^= 1;
        ck_assert(tt_poll(p.fd, POLLOUT, TT_WAIT_MS) & POLLOUT);
    }
    ck_assert_int_gt(wants, 0);
    /* The socket may still be full: close_notify waits for room too. */
    ck_assert_int_eq(tt_shutdown(p.t, p.fd), CHATD_TLS_DONE);
    tt_client_join(&b.c);
    ck_assert(b.ok);
    ck_assert_uint_eq(b.total, BIG_TOTAL);
    ck_assert(b.c.saw_close_notify);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* While a record waits for the socket, close_notify cannot jump it. */
START_TEST(shutdown_waits_for_a_pending_record)
{
    static char junk[CHATD_TLS_RECORD];
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {0};
    struct pair p = start(ctx, &c, tt_script_handshake_only);
    int small = 4096;
    ssize_t n;

    setsockopt(p.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    while ((n = chatd_tls_write(p.t, junk, sizeof junk)) > 0)
        ;
    ck_assert_int_eq(n, CHATD_TLS_WANT_WRITE);
    ck_assert_int_eq(chatd_tls_shutdown(p.t), CHATD_TLS_ERROR);
    tt_client_go(&c);
    tt_client_join(&c);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* ---- the ends of a connection ----------------------------------------------------- */

/* Reads "hi\n", writes "bye\n", closes TCP without close_notify. */
static void script_rude_close(struct tt_client *c)
{
    size_t w;

    if (tt_client_connect(c) != 0)
        return;
    tt_client_read_n(c, 3);
    SSL_write_ex(c->ssl, "bye\n", 4, &w);
    close(c->fd);
    c->fd = -1;
}

START_TEST(eof_without_close_notify_is_eof_not_an_error)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {0};
    struct pair p = start(ctx, &c, script_rude_close);

    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    ck_assert_int_eq(tt_write_all(p.t, p.fd, "hi\n", 3), 0);
    expect_eof_after(&p, "bye\n");
    ck_assert_str_eq(chatd_tls_why(p.t), "");
    tt_client_join(&c);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* After our close_notify the client may still send (TLS 1.3 half-close):
 * chatd lingers, reading, until the client's own. */
static void script_late_words(struct tt_client *c)
{
    size_t w;

    if (tt_client_connect(c) != 0)
        return;
    tt_client_read_to_end(c);
    if (c->saw_close_notify)
        SSL_write_ex(c->ssl, "late\n", 5, &w);
    SSL_shutdown(c->ssl);
}

START_TEST(reads_go_on_after_our_close_notify)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {0};
    struct pair p = start(ctx, &c, script_late_words);

    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    ck_assert_int_eq(chatd_tls_shutdown(p.t), CHATD_TLS_DONE);
    ck_assert_int_eq(shutdown(p.fd, SHUT_WR), 0); /* as chatd lingers */
    expect_eof_after(&p, "late\n");
    tt_client_join(&c);
    ck_assert(c.saw_close_notify);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* ---- not TLS at all ---------------------------------------------------------------- */

static const struct {
    const char *bytes;
    size_t len;
    const char *why;
} not_tls[] = {
    {"hello\r\n", 7, "plain text on a TLS port"},
    {"/name alice\n", 12, "plain text on a TLS port"},
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, "plain text on a TLS port"},
    {"\x00\xff\x13\x37 garbage", 12, "not TLS: garbage instead of a ClientHello"},
    {"\xff\xfb\x01", 3, "not TLS: garbage instead of a ClientHello"}, /* telnet */
};

START_TEST(not_tls_fails_at_once_and_says_what)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    int s, c;
    struct chatd_tls *t;

    tt_tcp_pair(&s, &c);
    t = chatd_tls_new(ctx, s);
    ck_assert_int_eq(chatd_tls_handshake(t), CHATD_TLS_WANT_READ);
    ck_assert_int_eq(write(c, not_tls[_i].bytes, not_tls[_i].len),
                     (ssize_t)not_tls[_i].len);
    ck_assert_int_eq(tt_handshake(t, s), CHATD_TLS_ERROR);
    ck_assert_str_eq(chatd_tls_why(t), not_tls[_i].why);
    ck_assert_uint_eq(chatd_tls_ctx_handshakes(ctx), 0);
    /* Dead for good: every call says so, none touches OpenSSL. */
    ck_assert_int_eq(chatd_tls_handshake(t), CHATD_TLS_ERROR);
    ck_assert_int_eq(chatd_tls_read(t, (char[4]){0}, 4), CHATD_TLS_ERROR);
    ck_assert_int_eq(chatd_tls_write(t, "x", 1), CHATD_TLS_ERROR);
    ck_assert_int_eq(chatd_tls_shutdown(t), CHATD_TLS_ERROR);
    ck_assert(!chatd_tls_pending(t));
    chatd_tls_free(t);
    close(s);
    close(c);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* A handshake record of nonsense: OpenSSL's turn to refuse it. */
START_TEST(garbage_after_a_record_header_fails)
{
    static const char rec[] = "\x16\x03\x01\x00\x08 nonsense";
    struct chatd_tls_ctx *ctx = ctx_for("server");
    int s, c;
    struct chatd_tls *t;

    tt_tcp_pair(&s, &c);
    t = chatd_tls_new(ctx, s);
    ck_assert_int_eq(write(c, rec, sizeof rec - 1), (ssize_t)sizeof rec - 1);
    ck_assert_int_eq(tt_handshake(t, s), CHATD_TLS_ERROR);
    ck_assert_str_ne(chatd_tls_why(t), "");
    ck_assert_uint_eq(chatd_tls_ctx_handshakes(ctx), 0);
    chatd_tls_free(t);
    close(s);
    close(c);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* The client leaves before or during the handshake: 0 closes at once,
 * 1 closes after a partial record header, 2 resets after it. */
START_TEST(client_gone_mid_handshake)
{
    static const char *const why[] = {
        "closed before the handshake",
        "closed during the handshake",
        "reset by the client during the handshake",
    };
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct linger rst = {1, 0};
    int s, c;
    struct chatd_tls *t;

    tt_tcp_pair(&s, &c);
    t = chatd_tls_new(ctx, s);
    if (_i > 0) {
        ck_assert_int_eq(write(c, "\x16\x03\x01", 3), 3);
        ck_assert_int_eq(tt_poll(s, POLLIN, TT_WAIT_MS), POLLIN);
        ck_assert_int_eq(chatd_tls_handshake(t), CHATD_TLS_WANT_READ);
    }
    if (_i == 2)
        setsockopt(c, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
    close(c);
    ck_assert_int_eq(tt_handshake(t, s), CHATD_TLS_ERROR);
    ck_assert_str_eq(chatd_tls_why(t), why[_i]);
    ck_assert_uint_eq(chatd_tls_ctx_handshakes(ctx), 0);
    chatd_tls_free(t);
    close(s);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* Renegotiation (TLS 1.2) is refused; the connection does not carry on as
 * if it had happened. */
static void script_renegotiate(struct tt_client *c)
{
    size_t w;

    if (tt_client_connect(c) != 0)
        return;
    SSL_write_ex(c->ssl, "a", 1, &w);
    if (SSL_renegotiate(c->ssl) == 1 && SSL_do_handshake(c->ssl) == 1)
        c->reused = 2; /* "renegotiated": must not happen */
    tt_client_wait_go(c);
}

START_TEST(renegotiation_is_refused)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {.max_version = TLS1_2_VERSION};
    struct pair p = start(ctx, &c, script_renegotiate);
    char buf[16];
    ssize_t n;

    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    ck_assert_int_eq(tt_read(p.t, p.fd, buf, sizeof buf), 1);
    n = tt_read(p.t, p.fd, buf, sizeof buf); /* the new ClientHello */
    ck_assert_msg(n == CHATD_TLS_ERROR || n == CHATD_TLS_EOF, "read %zd", n);
    tt_client_go(&c);
    tt_client_join(&c);
    ck_assert_int_ne(c.reused, 2);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* ---- sessions: stateless tickets resume --------------------------------------- */

START_TEST(a_ticket_resumes_the_session)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c1 = {0}, c2 = {0};
    struct pair p = start(ctx, &c1, tt_script_talk);

    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    ck_assert_int_eq(tt_write_all(p.t, p.fd, "x", 1), 0);
    ck_assert_int_eq(chatd_tls_shutdown(p.t), CHATD_TLS_DONE);
    expect_eof_after(&p, "");
    tt_client_join(&c1);
    finish(&p);
    ck_assert_ptr_nonnull(c1.got_session);
    c2.session = c1.got_session;
    p = start(ctx, &c2, tt_script_talk);
    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    ck_assert_int_eq(chatd_tls_shutdown(p.t), CHATD_TLS_DONE);
    tt_client_join(&c2);
    ck_assert(c2.connected);
    ck_assert(c2.reused);
    SSL_SESSION_free(c1.got_session);
    SSL_SESSION_free(c2.got_session);
    finish(&p);
    chatd_tls_ctx_free(ctx);
}
END_TEST

/* ---- certificates and keys ------------------------------------------------------- */

/* chatd_tls_ctx_new(cert, key) fails and err contains each of want. */
static void refused(const char *cert, const char *key, const char *want1,
                    const char *want2)
{
    char err[512] = "";
    struct chatd_tls_ctx *ctx = chatd_tls_ctx_new(cert, key, err, sizeof err);

    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(err, want1) != NULL, "'%s' not in: %s", want1, err);
    ck_assert_msg(strstr(err, want2) != NULL, "'%s' not in: %s", want2, err);
    ck_assert_msg(strchr(err, '\n') == NULL, "more than a line: %s", err);
    ERR_clear_error();
}

START_TEST(bad_files_are_named)
{
    char server_pem[256], server_key[256], missing[256];

    snprintf(server_pem, sizeof server_pem, "%s", tt_path("server.pem"));
    snprintf(server_key, sizeof server_key, "%s", tt_path("server.key"));
    snprintf(missing, sizeof missing, "%s", tt_path("missing.pem"));
    refused(missing, server_key, missing, "No such file or directory");
    refused(server_pem, missing, missing, "No such file or directory");
    refused(tt_path(""), server_key, tt_path(""), "Is a directory");
    refused(server_key, server_key, server_key, "no PEM certificate");
    refused(server_pem, server_pem, server_pem, "no PEM private key");
    refused(server_pem, tt_path("wrong.key"), tt_path("wrong.key"),
            "does not match the certificate in");
    refused(server_pem, tt_path("other.key"), server_pem, "does not match");
    refused(server_pem, tt_path("enc.key"), tt_path("enc.key"), "encrypted");
}
END_TEST

/* A file chatd may not read: the error says so (skipped as root, who
 * reads anything). */
START_TEST(unreadable_file_is_named)
{
    char copy[256];
    FILE *f;

    if (geteuid() == 0)
        return;
    snprintf(copy, sizeof copy, "%s", tt_path("locked.key"));
    f = fopen(copy, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(chmod(copy, 0), 0);
    refused(tt_path("server.pem"), copy, copy, "Permission denied");
}
END_TEST

START_TEST(reload_changes_new_connections_only)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c1 = {.send = "one\n"}, c2 = {.send = "two\n"},
                     c3 = {.send = "three\n"};
    struct pair p1 = start(ctx, &c1, tt_script_talk), p2, p3;
    char err[256] = "", buf[16];

    ck_assert_int_eq(tt_handshake(p1.t, p1.fd), CHATD_TLS_DONE);
    ck_assert_int_eq(chatd_tls_ctx_reload(ctx, tt_path("other.pem"),
                                          tt_path("other.key"), err,
                                          sizeof err), 0);
    p2 = start(ctx, &c2, tt_script_talk);
    ck_assert_int_eq(tt_handshake(p2.t, p2.fd), CHATD_TLS_DONE);
    /* A reload that fails says why and keeps "other". */
    ck_assert_int_eq(chatd_tls_ctx_reload(ctx, tt_path("other.pem"),
                                          tt_path("wrong.key"), err,
                                          sizeof err), -1);
    ck_assert_msg(strstr(err, "wrong.key") != NULL, "%s", err);
    p3 = start(ctx, &c3, tt_script_talk);
    ck_assert_int_eq(tt_handshake(p3.t, p3.fd), CHATD_TLS_DONE);
    /* The owner lets go: the sessions keep what they use. */
    chatd_tls_ctx_free(ctx);
    ck_assert_int_eq(tt_read(p1.t, p1.fd, buf, sizeof buf), 4);
    ck_assert_int_eq(tt_write_all(p1.t, p1.fd, "still\n", 6), 0);
    ck_assert_int_eq(chatd_tls_shutdown(p1.t), CHATD_TLS_DONE);
    expect_eof_after(&p1, "");
    ck_assert_int_eq(chatd_tls_shutdown(p2.t), CHATD_TLS_DONE);
    expect_eof_after(&p2, "two\n");
    ck_assert_int_eq(chatd_tls_shutdown(p3.t), CHATD_TLS_DONE);
    expect_eof_after(&p3, "three\n");
    tt_client_join(&c1);
    tt_client_join(&c2);
    tt_client_join(&c3);
    ck_assert_str_eq(c1.cn, "server");
    ck_assert_mem_eq(c1.got, "still\n", 6);
    ck_assert_str_eq(c2.cn, "other");
    ck_assert_str_eq(c3.cn, "other");
    SSL_SESSION_free(c1.got_session);
    SSL_SESSION_free(c2.got_session);
    SSL_SESSION_free(c3.got_session);
    finish(&p1);
    finish(&p2);
    finish(&p3);
}
END_TEST

START_TEST(handshakes_in_progress_are_counted)
{
    struct chatd_tls_ctx *ctx = ctx_for("server");
    struct tt_client c = {0};
    struct pair p = start(ctx, &c, tt_script_handshake_only);
    struct chatd_tls *idle = chatd_tls_new(ctx, p.fd); /* never driven */

    ck_assert_uint_eq(chatd_tls_ctx_handshakes(ctx), 2);
    ck_assert_int_eq(tt_handshake(p.t, p.fd), CHATD_TLS_DONE);
    ck_assert_uint_eq(chatd_tls_ctx_handshakes(ctx), 1);
    chatd_tls_free(idle);
    ck_assert_uint_eq(chatd_tls_ctx_handshakes(ctx), 0);
    tt_client_go(&c);
    tt_client_join(&c);
    finish(&p);
    chatd_tls_ctx_free(ctx);
    chatd_tls_ctx_free(NULL);
    chatd_tls_free(NULL);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");

    tcase_add_unchecked_fixture(tc, make_certs, tt_remove_certs);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, handshake_data_and_close_notify_both_ways);
    tcase_add_test(tc, tls12_gets_ecdhe_with_aead);
    tcase_add_test(tc, tls12_without_aead_is_refused);
    tcase_add_loop_test(tc, tls10_and_tls11_are_refused, 0, 2);
    tcase_add_test(tc, s_client_chats_and_closes);
    tcase_add_loop_test(tc, s_client_tls11_and_tls10_fail, 0, 2);
    tcase_add_test(tc, pending_bytes_are_drained_without_the_socket);
    tcase_add_test(tc, writes_are_records_and_retries_may_move);
    tcase_add_test(tc, shutdown_waits_for_a_pending_record);
    tcase_add_test(tc, eof_without_close_notify_is_eof_not_an_error);
    tcase_add_test(tc, reads_go_on_after_our_close_notify);
    tcase_add_loop_test(tc, not_tls_fails_at_once_and_says_what, 0,
                        (int)(sizeof not_tls / sizeof *not_tls));
    tcase_add_test(tc, garbage_after_a_record_header_fails);
    tcase_add_loop_test(tc, client_gone_mid_handshake, 0, 3);
    tcase_add_test(tc, renegotiation_is_refused);
    tcase_add_test(tc, a_ticket_resumes_the_session);
    tcase_add_test(tc, bad_files_are_named);
    tcase_add_test(tc, unreadable_file_is_named);
    tcase_add_test(tc, reload_changes_new_connections_only);
    tcase_add_test(tc, handshakes_in_progress_are_counted);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed;

    if (argc != 2) {
        fprintf(stderr, "usage: %s MKCERTS_SH\n", argv[0]);
        return 2;
    }
    mkcerts = argv[1];
    signal(SIGPIPE, SIG_IGN); /* as chatd: EPIPE, not death */
    sr = srunner_create(tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
