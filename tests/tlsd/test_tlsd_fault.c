/*
 * chatd's tls:// listener against clients that misbehave for real (issue
 * 12): a slowloris sending its ClientHello byte by byte, resets at every
 * point of a handshake, plain text and garbage on the TLS port, a
 * thousand handshakes at once, a reader that never reads a flood, SIGHUP
 * while users talk, handshakes in progress holding --max-clients slots,
 * and a descriptor table so full that chatd turns clients away (never in
 * clear text on a TLS port). Each case ends with chatd exiting 0 on
 * SIGTERM (under valgrind: no memory error, no leak).
 *
 * Where a fault could leak a place among the handshakes in progress, the
 * case runs with a small --tls-handshakes and a real client must still
 * get in afterwards: a count that never came back would turn it away.
 *
 * Run one case: CK_RUN_CASE=slowloris ./test_tlsd_fault.
 */
#define _GNU_SOURCE /* MSG_NOSIGNAL, MSG_DONTWAIT */

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "tlsd.h"

/* ---- helpers ------------------------------------------------------------- */

/* A raw TCP connection to the TLS port, or fail the test. */
static client *raw(void)
{
    client *c = client_connect(tls_port, 0);

    CHECK(c != NULL, "connect to the TLS port: %s", strerror(errno));
    return c;
}

/* A TLS user can still get in (handshake, greeting) and leaves again. */
static void tls_gets_in(const char *after)
{
    const char *why = "";
    tls_user *u = tls_connect(tls_port, 0, &why);

    CHECK(u != NULL, "after %s, a TLS user cannot connect: %s", after, why);
    TLS_EXPECT(u, "Server commands");
    tls_skip_to(u, "You joined main");
    tls_close(u);
}

/* c's connection must end within DEFAULT_WAIT_MS without a byte from the
 * server; what is said is for the failure message. */
static void closed_silently(client *c, const char *what)
{
    CHECK(raw_wait_end(c, DEFAULT_WAIT_MS) == 0, "%s: not closed", what);
    CHECK(c->len == 0, "%s: the server sent %zu bytes ('%.*s')", what, c->len,
          (int)(c->len < 64 ? c->len : 64), c->buf);
}

/* The TLS user a says text and b hears it (both TLS). */
static void tls_said(tls_user *a, tls_user *b, const char *text)
{
    tls_send(a, "%s", text);
    TLS_EXPECT(a, "%s: %s", a->name, text);
    TLS_EXPECT(b, "%s: %s", a->name, text);
}

/* Long-lived users leave main for the room "talk", so that the clients a
 * test connects and drops (each one joins main) are not in their way. */
static void tls_to_talk(tls_user *u)
{
    tls_send(u, "/join talk");
    tls_skip_to(u, "You joined talk");
}

static void tcp_to_talk(client *c)
{
    send_line(c, "/join talk");
    skip_to(c, "You joined talk");
}

/* A user alone in its room is still served: its line comes back. */
static void echoes(client *c, const char *text)
{
    send_line(c, "%s", text);
    EXPECT(c, "%s: %s", c->name, text);
}

/* Wait until chatd holds want descriptors: the connections it was to
 * accept are accepted, the sockets it was to close are closed. */
static void fds_reach(int want, const char *what)
{
    long long deadline = now_ms() + DEFAULT_WAIT_MS;
    int n;

    while ((n = chatd_fds(&srv)) != want && now_ms() < deadline)
        sleep_ms(20);
    CHECK(n == want, "%s: chatd holds %d descriptors, %d before", what, n,
          want);
}

/* ---- slow and broken handshakes -------------------------------------------- */

/*
 * A slowloris: a real ClientHello, one byte every 100 ms, which would take
 * half a minute. --tls-handshake-timeout is a deadline from the accept,
 * not an idle timer: chatd closes the connection once it passes, though
 * bytes keep coming, and no sooner. Meanwhile a TLS user and a TCP user
 * chat as usual, and afterwards a TLS user gets in (--tls-handshakes 1:
 * the slowloris's place came back).
 */
CHAT_CASE(slowloris)
{
    const double timeout = 1.5;
    const char *args[] = {"-v", "--tls-handshake-timeout", secs(timeout),
                          "--tls-handshakes", "1", NULL};
    unsigned char hello[2048];
    size_t len, sent = 0;
    long long t0, took, limit = (long long)(timeout * 1000) *
                                harness_slowdown();
    tls_user *u;
    client *t, *s;

    tls_start(args);
    len = client_hello(hello, sizeof hello);
    u = tls_join();
    tls_to_talk(u);
    t = join();
    tcp_to_talk(t);
    TLS_EXPECT(u, "%s joined talk", t->name);
    s = raw();
    t0 = now_ms();
    while (sent < len) {
        if (client_send_bytes(s, hello + sent, 1) != 0)
            break;
        sent++;
        if (sent % 5 == 0) { /* the others talk on meanwhile */
            tls_send(u, "byte %zu", sent);
            EXPECT(t, "%s: byte %zu", u->name, sent);
            TLS_EXPECT(u, "%s: byte %zu", u->name, sent);
        }
        client_pump(s);
        if (s->eof)
            break;
        sleep_ms(100);
    }
    CHECK(raw_wait_end(s, DEFAULT_WAIT_MS) == 0, "the slowloris was not cut");
    took = now_ms() - t0;
    fprintf(stderr, "slowloris: cut after %lld ms, %zu of %zu bytes sent\n",
            took, sent, len);
    CHECK(sent < len, "the whole ClientHello went out before the cut");
    CHECK(took >= limit - 100, "cut after %lld ms, before the %lld ms "
          "deadline", took, limit);
    CHECK(s->len == 0, "the slowloris was sent %zu bytes", s->len);
    wait_log("TLS handshake failed: too slow", 1, 2000);
    tls_gets_in("a slowloris");
    tls_send(u, "still here");
    EXPECT(t, "%s: still here", u->name);
    client_close(s);
    client_close(t);
    tls_close(u);
}
END_TEST

/* A connection reset at some point of its handshake. */
enum reset_point {
    RESET_SILENT,     /* connected, nothing sent */
    RESET_HALF_HELLO, /* part of the ClientHello sent */
    RESET_HELLO_SENT, /* the ClientHello sent, the answer not read */
    RESET_ANSWERED,   /* the server's first flight received */
};

/* (chatd held fds descriptors before.) */
static void reset_at(enum reset_point at, int fds)
{
    unsigned char hello[2048];
    size_t len = client_hello(hello, sizeof hello);
    client *c = raw();

    fds_reach(fds + 1, "a connection to reset"); /* accepted */

    if (at == RESET_HALF_HELLO)
        CHECK(client_send_bytes(c, hello, len / 2) == 0, "send failed");
    if (at >= RESET_HELLO_SENT)
        CHECK(client_send_bytes(c, hello, len) == 0, "send failed");
    if (at == RESET_ANSWERED) {
        /* ServerHello and the rest of the first flight: a handshake
         * record (0x16) first. */
        long long deadline = now_ms() + DEFAULT_WAIT_MS;
        while (c->len <= 5 && !c->eof && now_ms() < deadline) {
            struct pollfd p = {c->fd, POLLIN, 0};
            if (poll(&p, 1, 100) > 0)
                client_pump(c);
        }
        CHECK(c->len > 5 && (unsigned char)c->buf[0] == 0x16,
              "no ServerHello (%zu bytes)", c->len);
    } else {
        sleep_ms(100); /* let chatd read what was sent */
    }
    client_reset(c);
}

/*
 * Clients that reset at every point of the handshake, five of each, with
 * --max-clients 2 and --tls-handshakes 1: after each, a TLS newcomer gets
 * in, so both the client slot and the handshake place came back; the
 * socket too (chatd's descriptor count is back where it was); a TLS user
 * who was there all along keeps chatting; the log says why, verbosely.
 */
CHAT_CASE(resets_mid_handshake)
{
    const char *args[] = {"-v", "--max-clients", "2", "--tls-handshakes", "1",
                          NULL};
    static const char *const names[] = {"silent", "half a ClientHello",
                                        "a whole ClientHello",
                                        "the server's answer"};
    tls_user *u;
    int fds;

    tls_start(args);
    u = tls_join();
    tls_to_talk(u);
    fds = chatd_fds(&srv);
    for (int i = 0; i < 20; i++) {
        enum reset_point at = (enum reset_point)(i % 4);
        char what[64];
        snprintf(what, sizeof what, "a reset after %s", names[at]);
        reset_at(at, fds);
        fds_reach(fds, what);
        tls_gets_in(what);
        tls_send(u, "after %s", what);
        TLS_EXPECT(u, "%s: after %s", u->name, what);
    }
    wait_log("TLS handshake failed: reset by the client during the "
             "handshake", 5, 2000);
    tls_close(u);
}
END_TEST

/*
 * Clients that do not trust chatd's certificate (they know only another
 * CA, self.pem) abort the handshake with an alert, over TLS 1.3 and 1.2:
 * chatd logs the client's reason and gives the place back (a TLS user
 * gets in after each, --tls-handshakes 1).
 */
CHAT_CASE(client_rejects_the_certificate)
{
    const char *args[] = {"-v", "--tls-handshakes", "1", NULL};
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    tls_start(args);
    CHECK(ctx && SSL_CTX_load_verify_locations(ctx, cert_path("self.pem"),
                                               NULL) == 1, "client context");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    for (int v = 0; v < 2; v++) {
        struct timeval tv = {DEFAULT_WAIT_MS / 1000, 0};
        client *c = raw();
        SSL *s = SSL_new(ctx);
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        SSL_set_max_proto_version(s, v ? TLS1_2_VERSION : TLS1_3_VERSION);
        SSL_set_fd(s, c->fd);
        CHECK(SSL_connect(s) != 1 &&
              SSL_get_verify_result(s) != X509_V_OK,
              "a client of another CA accepted chatd's certificate");
        SSL_free(s);
        ERR_clear_error();
        client_close(c);
        wait_log("TLS handshake failed: tlsv1 alert unknown ca", v + 1,
                 2000);
        tls_gets_in("a client that rejected the certificate");
    }
    SSL_CTX_free(ctx);
}
END_TEST

/*
 * What is not TLS, on the TLS port: a telnet user's line, an HTTP request,
 * binary garbage, a record header that lies about its length, an SSLv2
 * hello. Each is closed at once (well before the 30 s handshake deadline)
 * with no byte of clear text back, the reason logged verbosely; a TLS user
 * gets in after each (--tls-handshakes 1), and a TCP user chats on.
 */
CHAT_CASE(plain_text_and_garbage)
{
    const char *args[] = {"-v", "--tls-handshake-timeout", "30",
                          "--tls-handshakes", "1", NULL};
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
    } junk[] = {
        {"a line of text", "hello, is this the chat?\r\n", 26},
        {"an HTTP request", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", 35},
        {"binary garbage", "\x00\xff\x13\x37\xde\xad\xbe\xef\x01\x02", 10},
        {"a record longer than TLS allows", "\x16\x03\x01\xff\xff\x01\x00", 7},
        {"a record of the wrong type", "\x17\x03\x03\x00\x05hello", 10},
        {"an SSLv2 hello", "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10", 11},
    };
    client *t;

    tls_start(args);
    t = join();
    tcp_to_talk(t);
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        client *c = raw();
        long long t0 = now_ms();
        CHECK(client_send_bytes(c, junk[i].bytes, junk[i].len) == 0, "send");
        CHECK(raw_wait_end(c, DEFAULT_WAIT_MS) == 0, "%s: not closed",
              junk[i].what);
        /* A TLS alert is allowed (an error in TLS's own framing, record
         * type 21); clear text is not. */
        CHECK(c->len == 0 || (c->len >= 7 && c->buf[0] == 0x15),
              "%s: the server sent %zu bytes of something else",
              junk[i].what, c->len);
        fprintf(stderr, "%s: closed after %lld ms, %zu bytes back\n",
                junk[i].what, now_ms() - t0, c->len);
        client_close(c);
        tls_gets_in(junk[i].what);
        echoes(t, junk[i].what);
    }
    wait_log("TLS handshake failed: plain text on a TLS port", 2, 2000);
    wait_log("TLS handshake failed: not TLS: garbage", 1, 2000);
    client_close(t);
}
END_TEST

/* ---- a thousand handshakes ------------------------------------------------- */

enum hs_state { HS_CONNECTING, HS_SHAKING, HS_GREETING, HS_SERVED,
                HS_REFUSED };

struct hs {
    int fd;
    SSL *ssl;
    enum hs_state state;
    short events;
    char got[64];
    size_t n;
};

static SSL_CTX *storm_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    CHECK(ctx && SSL_CTX_load_verify_locations(ctx, cert_path("ca.pem"),
                                               NULL) == 1, "client context");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

/* A refusal must be a reset or a close: anything OpenSSL could read as
 * bytes (clear text is "wrong version number") is not clean. */
static void refused(struct hs *h, int rc)
{
    int e = SSL_get_error(h->ssl, rc);
    unsigned long err = ERR_peek_error();

    CHECK((e == SSL_ERROR_SYSCALL && err == 0) ||
          (e == SSL_ERROR_SSL && ERR_GET_LIB(err) == ERR_LIB_SSL &&
           ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING),
          "a refused handshake: SSL error %d: %s", e,
          err ? ERR_reason_error_string(err) : "-");
    h->state = HS_REFUSED;
}

/* Advance one client as far as it goes without waiting. */
static void hs_step(struct hs *h)
{
    int rc;

    if (h->state == HS_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        CHECK(err == 0, "connect: %s", strerror(err));
        h->state = HS_SHAKING;
    }
    if (h->state == HS_SHAKING) {
        ERR_clear_error();
        rc = SSL_connect(h->ssl);
        if (rc != 1) {
            int e = SSL_get_error(h->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                h->events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                return;
            }
            refused(h, rc);
            return;
        }
        h->state = HS_GREETING;
        h->events = POLLIN;
    }
    while (h->state == HS_GREETING) {
        rc = SSL_read(h->ssl, h->got + h->n, (int)(sizeof h->got - 1 - h->n));
        if (rc <= 0) {
            int e = SSL_get_error(h->ssl, rc);
            CHECK(e == SSL_ERROR_WANT_READ,
                  "a served client lost its connection (SSL error %d)", e);
            return;
        }
        h->n += (size_t)rc;
        h->got[h->n] = '\0';
        if (h->n >= 16) {
            CHECK(strncmp(h->got, "Server commands\n", 16) == 0,
                  "a served client got '%s'", h->got);
            h->state = HS_SERVED;
        }
    }
}

static void hs_free(struct hs *h)
{
    if (h->ssl)
        SSL_free(h->ssl);
    if (h->fd >= 0)
        close(h->fd);
}

/* Open n raw connections to the TLS port that say nothing: handshakes in
 * progress for as long as the deadline allows. */
static void stall(client **c, int n)
{
    for (int i = 0; i < n; i++)
        c[i] = raw();
}

/*
 * A thousand TLS clients connect at once (non-blocking, all in flight
 * together) to a chatd capped at 64 handshakes in progress. Every one is
 * served (handshake done, "Server commands") or refused cleanly (closed
 * or reset, not a byte of anything else) within a bounded time; many are
 * served; a TCP user's lines keep going round the whole time. Afterwards
 * no place was lost: with 63 handshakes stalled, a real client still gets
 * in; with 64, it is refused (closed before any TLS), and a TCP user still
 * joins, as the cap is on handshakes, not users.
 */
CHAT_CASE(thousand_handshakes)
{
    enum { CAP = 64 };
    const char *args[] = {"--tls-handshakes", "64",
                          "--tls-handshake-timeout", secs(20), NULL};
    static struct hs h[1000];
    static struct pollfd pfd[1000];
    static int idx[1000];
    client *stalled[CAP];
    struct rlimit rl;
    int n = 1000, served = 0, refusals = 0, rounds = 0, fds;
    long long t0, deadline, next_talk;
    client *a, *b;
    SSL_CTX *ctx;

    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    CHECK(rl.rlim_cur > 1100, "the fd limit (%llu) is too low for 1000 "
          "clients", (unsigned long long)rl.rlim_cur);
    tls_start(args);
    join_two(&a, &b);
    tcp_to_talk(a);
    tcp_to_talk(b);
    EXPECT(a, "%s joined talk", b->name);
    ctx = storm_ctx();
    t0 = now_ms();
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sa;
        loopback(&sa, tls_port);
        h[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(h[i].fd >= 0, "socket: %s", strerror(errno));
        CHECK(connect(h[i].fd, (struct sockaddr *)&sa, sizeof sa) == 0 ||
              errno == EINPROGRESS, "connect: %s", strerror(errno));
        h[i].ssl = SSL_new(ctx);
        SSL_set_fd(h[i].ssl, h[i].fd);
        SSL_set_tlsext_host_name(h[i].ssl, "localhost");
        SSL_set1_host(h[i].ssl, "localhost");
        h[i].state = HS_CONNECTING;
        h[i].events = POLLOUT;
    }
    deadline = now_ms() + 30000LL * harness_slowdown();
    next_talk = now_ms();
    for (;;) {
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (h[i].state == HS_SERVED || h[i].state == HS_REFUSED)
                continue;
            pfd[k].fd = h[i].fd;
            pfd[k].events = h[i].events;
            pfd[k].revents = 0;
            idx[k++] = i;
        }
        if (k == 0)
            break;
        CHECK(now_ms() < deadline, "%d of %d clients neither served nor "
              "refused after %lld ms", k, n, now_ms() - t0);
        if (now_ms() >= next_talk) { /* the TCP users, meanwhile */
            say_heard(a, "still talking", b);
            rounds++;
            next_talk = now_ms() + 100;
        }
        if (poll(pfd, (nfds_t)k, 50) <= 0)
            continue;
        for (int j = 0; j < k; j++)
            if (pfd[j].revents)
                hs_step(&h[idx[j]]);
    }
    for (int i = 0; i < n; i++) {
        served += h[i].state == HS_SERVED;
        refusals += h[i].state == HS_REFUSED;
        hs_free(&h[i]);
    }
    SSL_CTX_free(ctx);
    fprintf(stderr, "1000 handshakes: %d served, %d refused in %lld ms; "
            "%d TCP round trips meanwhile\n", served, refusals,
            now_ms() - t0, rounds);
    CHECK(served + refusals == n, "lost count");
    CHECK(served >= CAP, "only %d served", served);
    CHECK(rounds >= 2, "the TCP users talked %d times", rounds);
    say_heard(b, "after the storm", a);

    /* The cap, exactly, and nothing left counted from the storm. */
    fds = chatd_fds(&srv);
    stall(stalled, CAP - 1);
    fds_reach(fds + CAP - 1, "63 stalled handshakes");
    tls_gets_in("63 handshakes in progress");
    fds_reach(fds + CAP - 1, "the 64th handshake gone");
    stalled[CAP - 1] = raw();
    fds_reach(fds + CAP, "64 stalled handshakes");
    {
        const char *why = "";
        tls_user *u = tls_connect(tls_port, 0, &why);
        CHECK(u == NULL, "a 65th handshake was let in");
        fprintf(stderr, "the 65th handshake: %s\n", why);
    }
    client *c = join();
    echoes(c, "a TCP user is no handshake");
    for (int i = 0; i < CAP; i++)
        client_close(stalled[i]);
    tls_gets_in("the stalled handshakes left");
    client_close(c);
    client_close(a);
    client_close(b);
}
END_TEST

/*
 * --tls-handshake-timeout bounds the handshake, not the session: TLS users
 * quiet for 2.5 times that long, right after joining and again after they
 * talked (libevent re-arms a persistent event's old timeout whenever it
 * fires), are still there, and chat.
 */
CHAT_CASE(quiet_user_outlives_handshake_deadline)
{
    const double timeout = 1;
    const char *args[] = {"-v", "--tls-handshake-timeout", secs(timeout),
                          NULL};
    tls_user *a, *b;

    tls_start(args);
    a = tls_join();
    b = tls_join();
    TLS_EXPECT(a, "%s joined main", b->name);
    for (int i = 0; i < 2; i++) {
        sleep_ms((int)(2500 * timeout) * harness_slowdown());
        tls_said(a, b, "still here?");
        tls_said(b, a, "yes");
    }
    CHECK(!chatd_log_contains(&srv, "disconnected"), "someone was cut");
    tls_close(a);
    tls_close(b);
}
END_TEST

/* ---- slots and descriptors --------------------------------------------------- */

/*
 * A handshake in progress holds a --max-clients slot: with one TCP user
 * and one silent connection on the TLS port (--max-clients 2), a TCP
 * newcomer is told the server is full, and a TLS newcomer is closed
 * without a byte (no clear text on a TLS port). Once the silent one's
 * handshake deadline passes, its slot comes back: a newcomer is greeted.
 */
CHAT_CASE(handshakes_hold_slots)
{
    const double timeout = 2;
    const char *args[] = {"-v", "--max-clients", "2",
                          "--tls-handshake-timeout", secs(timeout), NULL};
    unsigned char hello[2048];
    size_t len;
    int fds;
    client *t, *silent, *x;

    tls_start(args);
    len = client_hello(hello, sizeof hello);
    t = join();
    fds = chatd_fds(&srv);
    silent = raw();
    fds_reach(fds + 1, "the silent connection");
    x = connect_client();
    EXPECT(x, "Server is full, try again later");
    expect_eof(x);
    client_close(x);
    x = raw();
    CHECK(client_send_bytes(x, hello, len) == 0, "send");
    closed_silently(x, "a TLS newcomer to a full server");
    client_close(x);
    wait_log("TLS handshake failed: too slow", 1, (int)(timeout * 1000) + 3000);
    CHECK(raw_wait_end(silent, DEFAULT_WAIT_MS) == 0 && silent->len == 0,
          "the silent connection was not closed silently");
    client_close(silent);
    x = join();
    EXPECT(t, "%s joined main", x->name);
    say_heard(x, "my turn", t);
    send_line(x, "/quit");
    EXPECT(x, "Bye!");
    expect_eof(x);
    client_close(x);
    tls_gets_in("the silent handshake timed out");
    client_close(t);
}
END_TEST

/*
 * Out of descriptors (chatd under a limit of 32, --max-clients 1000 so
 * the limit is what fills): TCP newcomers are told "Server is full, try
 * again later", but on the tls:// and https:// ports a newcomer gets not
 * a byte, whether it sends a ClientHello or plain HTTP: the line would be
 * clear text on a TLS port. The users inside chat on.
 */
CHAT_CASE(full_no_clear_text)
{
    const char *args[] = {"--max-clients", "1000", "--listen",
                          "https://127.0.0.1:0", NULL};
    enum { MAX = 60 };
    unsigned char hello[2048];
    size_t len;
    client *c[MAX];
    int n, https;

    tls_start_nofile(args, 32);
    https = listen_port(&srv, "https");
    CHECK(https > 0, "no https:// listener");
    len = client_hello(hello, sizeof hello);
    n = fill_until_full(c, MAX);
    for (int round = 0; round < 3; round++) {
        int ports[2] = {tls_port, https};
        for (int p = 0; p < 2; p++) {
            client *x = client_connect(ports[p], 0);
            const char *what = p ? "https://" : "tls://";
            CHECK(x != NULL, "connect: %s", strerror(errno));
            if (round == 1)
                CHECK(client_send_bytes(x, "GET / HTTP/1.1\r\n\r\n", 18) == 0, "send");
            else if (round == 2)
                CHECK(client_send_bytes(x, hello, len) == 0, "send");
            closed_silently(x, what);
            client_close(x);
        }
    }
    wait_log("out of file descriptors", 1, 2000);
    still_chats(c[0]);
    for (int i = 0; i < n; i++)
        client_close(c[i]);
}
END_TEST

/*
 * A TLS user that never reads while a TLS user floods the room
 * (--write-timeout 1, --max-clients 2): its output stops moving, the
 * write timeout cuts it (the room is told it left) and chatd closes its
 * socket before it reads anything at all (chatd's descriptor count goes
 * back). The witness: a TLS newcomer is greeted, not turned away. Only
 * then does the non-reader read: what had been sent, then the end.
 */
CHAT_CASE(non_reader_cut)
{
    const char *args[] = {"-v", "--rate", "0", "--high-water", "1M",
                          "--write-timeout", secs(1), "--max-clients", "2",
                          NULL};
    enum { LINES = 16, LEN = 302 };
    static char burst[LINES * LEN];
    char left[128], why[160], mine[80];
    long long until;
    int fds, cut = 0;
    tls_user *f, *stuck, *n;

    tls_start(args);
    f = tls_join();
    fds = chatd_fds(&srv);
    stuck = tls_join_small();
    TLS_EXPECT(f, "%s joined main", stuck->name);
    snprintf(left, sizeof left, "%s left main", stuck->name);
    snprintf(mine, sizeof mine, "%s: ", f->name);
    for (size_t i = 0; i < sizeof burst; i++)
        burst[i] = i % LEN == LEN - 1 ? '\n' : 'x';
    until = now_ms() + 6LL * DEFAULT_WAIT_MS;
    while (!cut && now_ms() < until) {
        int back = 0;
        const char *line;
        CHECK(tls_send_bytes(f, burst, sizeof burst) == 0, "flood: send");
        while (back < LINES && (line = tls_line(f, DEFAULT_WAIT_MS))) {
            cut |= strcmp(line, left) == 0;
            back += strncmp(line, mine, strlen(mine)) == 0;
        }
        CHECK(back == LINES, "the flood stopped coming back");
    }
    CHECK(cut, "'%s' never came", left);
    snprintf(why, sizeof why, "(%s) disconnected: write-timeout", stuck->name);
    wait_log(why, 1, 2000);
    fds_reach(fds, "the cut non-reader");
    n = tls_join();
    TLS_EXPECT(f, "%s joined main", n->name);
    tls_said(n, f, "a seat was free");
    tls_expect_eof(stuck);
    tls_close(stuck);
    tls_close(n);
    tls_close(f);
}
END_TEST

/* ---- SIGHUP ---------------------------------------------------------------------- */

/* A new TLS connection gets the certificate with this serial. */
static void serves(const char *serial, const char *when)
{
    const char *why = "";
    tls_user *u = tls_connect(tls_port, 0, &why);

    CHECK(u != NULL, "%s: cannot connect: %s", when, why);
    CHECK(strcmp(u->serial, serial) == 0, "%s: serial %s, want %s", when,
          u->serial, serial);
    tls_close(u);
}

/* a sends "line N" for N in [from, from + count) without reading; later
 * burst_read has both read them all, in order: traffic in flight across
 * whatever happens in between. */
static void burst_send(tls_user *a, int from, int count)
{
    for (int i = from; i < from + count; i++)
        tls_send(a, "line %d", i);
}

/* r reads what a sent as lines [0, n) and b as [n, 2n): each sender's
 * lines in order, however the two interleave. */
static void burst_read(tls_user *r, const tls_user *a, const tls_user *b,
                       int n)
{
    int next[2] = {0, n};
    const tls_user *by[2] = {a, b};

    while (next[0] < n || next[1] < 2 * n) {
        const char *line = tls_next(r);
        int k, i;
        for (k = 0; k < 2; k++) {
            size_t len = strlen(by[k]->name);
            if (strncmp(line, by[k]->name, len) == 0 &&
                sscanf(line + len, ": line %d", &i) == 1)
                break;
        }
        CHECK(k < 2 && i == next[k], "%s: got '%s', want line %d or %d",
              r->name, line, next[0], next[1]);
        next[k]++;
    }
}

/*
 * SIGHUP while two TLS users talk: chatd is started with copies of
 * server.pem/.key, which the test overwrites with other.pem/.key, then
 * signals. Lines sent across the signal all arrive; new connections get
 * other's serial; the sessions already open go on. Then reloads that
 * fail (a file that is not a certificate, a key of another certificate)
 * keep other's certificate, and the log says why, naming the file; a
 * good file again is taken again.
 */
CHAT_CASE(sighup_during_traffic)
{
    char server[80], other[80], line[512];
    tls_user *a, *b;
    client *t;

    const char *args[] = {"--rate", "0", NULL};

    tls_start(args);
    snprintf(server, sizeof server, "%s", cert_serial("server.pem"));
    snprintf(other, sizeof other, "%s", cert_serial("other.pem"));
    CHECK(strcmp(server, other) != 0, "the two certificates share a serial");
    a = tls_join();
    b = tls_join();
    TLS_EXPECT(a, "%s joined main", b->name);
    tls_to_talk(a);
    tls_to_talk(b);
    TLS_EXPECT(a, "%s joined talk", b->name);
    CHECK(strcmp(a->serial, server) == 0, "serial %s, want %s", a->serial,
          server);
    serves(server, "before SIGHUP");

    cert_copy("other.pem", "cert.pem");
    cert_copy("other.key", "cert.key");
    burst_send(a, 0, 50);
    chatd_signal(&srv, SIGHUP);
    burst_send(b, 50, 50);
    wait_log("SIGHUP: reloaded", 1, 5000);
    burst_read(a, a, b, 50);
    burst_read(b, a, b, 50);
    serves(other, "after SIGHUP");
    tls_said(a, b, "same sessions");
    t = join();
    tcp_to_talk(t);
    TLS_EXPECT(a, "%s joined talk", t->name);
    TLS_EXPECT(b, "%s joined talk", t->name);

    cert_write("cert.pem", "-----BEGIN CERTIFICATE-----\nbroken\n");
    chatd_signal(&srv, SIGHUP);
    wait_log("SIGHUP: keeping the old certificate", 1, 5000);
    CHECK(chatd_log_line(&srv, "keeping the old certificate", line,
                         sizeof line) && strstr(line, cert_path("cert.pem")),
          "the log does not name the file: %s", line);
    serves(other, "after a SIGHUP with a broken certificate");
    tls_said(b, a, "still fine");

    cert_copy("server.pem", "cert.pem"); /* cert.key is other's */
    chatd_signal(&srv, SIGHUP);
    wait_log("SIGHUP: keeping the old certificate", 2, 5000);
    CHECK(log_count("does not match the certificate") == 1,
          "a mismatched key was not reported as such");
    serves(other, "after a SIGHUP with a key of another certificate");

    cert_copy("server.key", "cert.key");
    chatd_signal(&srv, SIGHUP);
    wait_log("SIGHUP: reloaded", 2, 5000);
    serves(server, "after a good SIGHUP again");
    tls_said(a, b, "the end");
    send_line(t, "and me");
    TLS_EXPECT(a, "%s: and me", t->name);
    client_close(t);
    tls_close(a);
    tls_close(b);
}
END_TEST

/* ---- closing ------------------------------------------------------------------------- */

/*
 * The end of a TLS session is TLS's own: after /quit's "Bye!" and after
 * SIGTERM's "Server shutting down...", the client reads close_notify, not
 * just the socket's end (which a truncation attack could fake). A client
 * that ends its side with close_notify, or with a bare TCP half-close (no
 * close_notify: just gone, as on plain TCP), has its last line said and
 * read back, the room told it left, then close_notify.
 */
CHAT_CASE(close_notify)
{
    tls_user *q, *s, *n, *h;

    tls_start(NULL);
    q = tls_join();
    s = tls_join();
    TLS_EXPECT(q, "%s joined main", s->name);
    tls_send(q, "/quit");
    TLS_EXPECT(q, "Bye!");
    tls_expect_eof(q);
    CHECK(q->notify, "no close_notify after Bye!");
    TLS_EXPECT(s, "%s left main", q->name);

    n = tls_join();
    h = tls_join();
    TLS_EXPECT(s, "%s joined main", n->name);
    TLS_EXPECT(s, "%s joined main", h->name);
    TLS_EXPECT(n, "%s joined main", h->name);
    tls_send(n, "notify and go");
    CHECK(SSL_shutdown(n->ssl) == 0, "close_notify not sent");
    TLS_EXPECT(n, "%s: notify and go", n->name);
    tls_expect_eof(n);
    CHECK(n->notify, "no close_notify after the client's");
    TLS_EXPECT(h, "%s: notify and go", n->name);
    TLS_EXPECT(h, "%s left main", n->name);
    tls_send(h, "half-close and go");
    CHECK(shutdown(h->io.fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    TLS_EXPECT(h, "%s: half-close and go", h->name);
    tls_expect_eof(h);
    CHECK(h->notify, "no close_notify after a bare half-close");
    TLS_EXPECT(s, "%s: notify and go", n->name);
    TLS_EXPECT(s, "%s left main", n->name);
    TLS_EXPECT(s, "%s: half-close and go", h->name);
    TLS_EXPECT(s, "%s left main", h->name);

    chatd_signal(&srv, SIGTERM);
    TLS_EXPECT(s, "Server shutting down...");
    tls_expect_eof(s);
    CHECK(s->notify, "no close_notify after the shutdown line");
    expect_exit_0();
    tls_close(q);
    tls_close(s);
    tls_close(n);
    tls_close(h);
}
END_TEST

/*
 * A handshake in progress has nothing to be delivered, so it must not hold
 * a shutdown (as a request still arriving on http:// does not): with a
 * silent connection and a half-sent ClientHello on the tls:// and https://
 * ports, and 30 s for both the handshakes and the grace period, SIGTERM
 * ends chatd as soon as the TLS user has its last line; the handshakes are
 * closed without a byte.
 */
CHAT_CASE(sigterm_does_not_wait_for_handshakes)
{
    const char *args[] = {"--listen", "https://127.0.0.1:0",
                          "--tls-handshake-timeout", "30",
                          "--shutdown-grace", "30", NULL};
    unsigned char hello[2048];
    size_t len;
    int fds, https;
    client *h[4];
    tls_user *u;
    long long t0;

    tls_start(args);
    https = listen_port(&srv, "https");
    len = client_hello(hello, sizeof hello);
    u = tls_join();
    fds = chatd_fds(&srv);
    for (int i = 0; i < 4; i++) {
        h[i] = client_connect(i % 2 ? https : tls_port, 0);
        CHECK(h[i] != NULL, "connect: %s", strerror(errno));
        if (i >= 2)
            CHECK(client_send_bytes(h[i], hello, len / 2) == 0, "send");
    }
    fds_reach(fds + 4, "four handshakes in progress");
    t0 = now_ms();
    chatd_signal(&srv, SIGTERM);
    TLS_EXPECT(u, "Server shutting down...");
    tls_expect_eof(u);
    tls_close(u); /* chatd need not linger for it */
    for (int i = 0; i < 4; i++)
        closed_silently(h[i], i % 2 ? "https://, mid-handshake"
                                    : "tls://, mid-handshake");
    expect_exit_0();
    fprintf(stderr, "chatd exited %lld ms after SIGTERM\n", now_ms() - t0);
    CHECK(now_ms() - t0 < 20000, "the handshakes held the shutdown");
    for (int i = 0; i < 4; i++)
        client_close(h[i]);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

/* CHAT_CASES: the CHAT_CASE lines above, as meson read them. */
#include "tlsd-fault_cases.h"

int main(void)
{
    const harness_case cases[] = {CHAT_CASES};

    return tlsd_main("tlsd-fault", cases, sizeof cases / sizeof cases[0]);
}
