/*
 * Integration tests: each case starts a real chatd on port 0 and drives
 * it over loopback as users would (doc/protocol.md). Waits are bounded, never
 * timed: a slow machine makes these slower, not flaky.
 *
 * Run one case: CK_RUN_CASE=flood ./test_chatd (meson does, per case).
 */
#define _GNU_SOURCE

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* ---- floods -------------------------------------------------------------- */

#define FLOOD_PAD 240
#define FLOOD_WINDOW 8 /* lines: about 2 KiB, under --high-water 4096 */

static void flood_text(char *buf, size_t size, int i)
{
    char pad[FLOOD_PAD + 1];

    memset(pad, 'x', FLOOD_PAD);
    pad[FLOOD_PAD] = '\0';
    snprintf(buf, size, "flood %06d %s", i, pad);
}

/* A flood in progress (run_flood_other). */
struct flood {
    client *sender;
    client *reader; /* checked line by line; NULL: pace on the sender */
    int count;      /* lines to send */
    int sent;
    int paced;      /* lines the pacing client has accounted for */
    size_t out_len, out_off;
    char out[8192];
    char *other;       /* if set: other lines allowed, the last kept here */
    size_t other_size;
};

/* Queue the next line of the flood into f->out. */
static void flood_next(struct flood *f)
{
    char text[FLOOD_PAD + 32];

    flood_text(text, sizeof text, f->sent++);
    f->out_len = (size_t)snprintf(f->out, sizeof f->out, "%s\n", text);
    f->out_off = 0;
}

static void flood_write(struct flood *f)
{
    ssize_t n = send(f->sender->fd, f->out + f->out_off,
                     f->out_len - f->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);

    CHECK(n >= 0 || errno == EAGAIN || errno == EINTR, "flood send: %s",
          strerror(errno));
    if (n > 0)
        f->out_off += (size_t)n;
}

/* Check the lines that arrived at the pacing client; drop the others. */
static void flood_read(struct flood *f, client *c)
{
    char want[FLOOD_PAD + 128], text[FLOOD_PAD + 32];
    client *pacer = f->reader ? f->reader : f->sender;
    const char *line;

    client_pump(c);
    while ((line = client_try_line(c)) != NULL) {
        if (c != pacer)
            continue; /* the sender's own echoes, when a reader paces */
        flood_text(text, sizeof text, f->paced);
        snprintf(want, sizeof want, "%s: %s", f->sender->name, text);
        if (f->other && strstr(line, ": flood ") == NULL) {
            snprintf(f->other, f->other_size, "%s", line);
            continue;
        }
        CHECK(strcmp(line, want) == 0, "pacer: expected '%.40s...', got '%.60s'",
              want, line);
        f->paced++;
    }
    CHECK(!c->eof, "the server closed a flood client");
}

/*
 * Send count lines from sender as fast as the pacing client (reader, or
 * the sender itself) takes them. At most FLOOD_WINDOW lines are in flight
 * to it, fewer bytes than any high-water mark used here, so the pacing
 * client can never be a slow consumer and must get every line in order.
 * Anyone else who is not reading falls behind. With other set, lines
 * other than the flood's may come to the pacing client (the last one is
 * copied there); otherwise they fail the test.
 */
static void run_flood_other(client *sender, client *reader, int count,
                            char *other, size_t other_size)
{
    struct flood f = {sender, reader, count, 0, 0, 0, 0, {0}, other,
                      other_size};
    long long deadline = now_ms() + 40000;

    while (f.paced < count) {
        struct pollfd p[2] = {{sender->fd, POLLIN, 0}, {-1, POLLIN, 0}};
        if (f.out_off == f.out_len && f.sent < count && f.sent - f.paced < FLOOD_WINDOW)
            flood_next(&f);
        if (f.out_off < f.out_len)
            p[0].events |= POLLOUT;
        if (reader)
            p[1].fd = reader->fd;
        CHECK(now_ms() < deadline, "flood stalled at %d/%d sent, %d read",
              f.sent, count, f.paced);
        poll(p, 2, 1000);
        if (p[0].revents & POLLOUT)
            flood_write(&f);
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            flood_read(&f, sender);
        if (reader && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            flood_read(&f, reader);
    }
}

static void run_flood(client *sender, client *reader, int count)
{
    run_flood_other(sender, reader, count, NULL, 0);
}

/* ---- user stories -------------------------------------------------------- */

/* A new user gets the help, a name and the default room, in that order. */
CHAT_CASE(greeting)
{
    client *a;
    const char *line;
    int help_lines = 0;

    start(NULL);
    a = connect_client();
    EXPECT(a, "Server commands");
    while ((line = client_next(a))[0] == '/')
        help_lines++;
    CHECK(help_lines >= 8, "only %d help lines", help_lines);
    CHECK(strncmp(line, "You are ", 8) == 0, "expected 'You are', got '%s'",
          line);
    const char *name = line + 8;
    size_t len = strlen(name);
    CHECK(len >= 2 && len <= 24 && strspn(name,
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
          == len, "bad random name '%s'", name);
    char saved[64];
    snprintf(saved, sizeof saved, "%s", name);
    EXPECT(a, "You joined main");
    send_line(a, "/users");
    EXPECT(a, "Users - %s", saved);
    client_close(a);
}
END_TEST

/* --room sets the room new users join. */
CHAT_CASE(room_flag)
{
    const char *args[] = {"--room", "Lobby", NULL};
    client *a;

    start(args);
    a = connect_client();
    CHECK(client_greet(a, "Lobby") == 0, "%s", a->line);
    send_line(a, "/rooms");
    EXPECT(a, "Rooms - Lobby (1)");
    client_close(a);
}
END_TEST

/* Two users chat in one room, then in different rooms; joins, leaves
 * and the room's history on coming back. */
CHAT_CASE(chat_rooms)
{
    client *a, *b;

    start(NULL);
    join_two(&a, &b);
    say_heard(a, "hello everyone", b);

    send_line(b, "/join pizza");
    EXPECT(b, "You joined pizza");
    EXPECT(a, "%s left main", b->name);
    send_line(a, "main only");
    EXPECT(a, "%s: main only", a->name);
    /* b's next line is its own: "main only" never reached pizza. */
    send_line(b, "pizza only");
    EXPECT(b, "%s: pizza only", b->name);

    send_line(b, "/join main");
    EXPECT(a, "%s joined main", b->name);
    EXPECT(b, "%s: hello everyone", a->name); /* history, oldest first */
    EXPECT(b, "%s: main only", a->name);
    EXPECT(b, "You joined main");

    send_line(a, "/quit");
    EXPECT(a, "Bye!");
    expect_eof(a);
    EXPECT(b, "%s left main", a->name);
    client_close(a);
    client_close(b);
}
END_TEST

/*
 * One user floods while another never reads: the reader who keeps up gets
 * every line in order, the server keeps serving, and the non-reader, once
 * it reads, gets lines plus "dropped {n}" notices adding up to the total.
 */
CHAT_CASE(flood)
{
    const char *args[] = {"--high-water", "4096", "--rate", "0",
                          "--write-timeout", "50", NULL};
    const int count = 40000;
    client *slow, *r, *s, *t;
    long dropped;

    start(args);
    slow = join_slow(); /* the kernel absorbs little of the flood for it */
    r = join();
    s = join();
    EXPECT(slow, "%s joined main", r->name);
    EXPECT(slow, "%s joined main", s->name);
    EXPECT(r, "%s joined main", s->name);

    run_flood(s, r, count);

    /* Still responsive: a newcomer is greeted and heard. */
    t = join();
    EXPECT(r, "%s joined main", t->name);
    say_heard(t, "still there?", r);

    dropped = drain_slow(slow, s->name, count + 2 /* joined notices */);
    CHECK(dropped > 0, "the non-reader never fell behind");
    say_heard(slow, "caught up", r);
    client_close(slow);
    client_close(r);
    client_close(s);
    client_close(t);
}
END_TEST

static void send_bytewise(client *c, const char *s)
{
    for (; *s; s++) {
        CHECK(client_send_bytes(c, s, 1) == 0, "send: %s", strerror(errno));
        sleep_ms(2); /* separate segments, separate reads */
    }
}

/* A command and a chat line arriving one byte per read. */
CHAT_CASE(byte_at_a_time)
{
    client *a;
    char old[64];

    start(NULL);
    a = join();
    snprintf(old, sizeof old, "%s", a->name);
    send_bytewise(a, "/name Bytey\n");
    EXPECT(a, "%s is now Bytey", old);
    send_bytewise(a, "one byte at a time\r\n");
    EXPECT(a, "Bytey: one byte at a time");
    client_close(a);
}
END_TEST

/* SIGTERM: everyone gets the shutdown line, then EOF; exit status 0. */
CHAT_CASE(sigterm)
{
    client *a, *b;

    start(NULL);
    join_two(&a, &b);
    chatd_signal(&srv, SIGTERM);
    EXPECT(a, "Server shutting down...");
    EXPECT(b, "Server shutting down...");
    expect_eof(a);
    expect_eof(b);
    client_close(a); /* as nc or telnet do on EOF */
    client_close(b);
    expect_exit_0();
    CHECK(chatd_log_contains(&srv, "shutting down"), "no shutdown log line");
    CHECK(client_connect(srv.port, 0) == NULL, "still accepting after exit");
}
END_TEST

/* --login: the first valid line is the name; bad and taken names retry. */
CHAT_CASE(login)
{
    const char *args[] = {"--login", NULL};
    client *a, *b;

    start(args);
    a = connect_client();
    send_line(a, "x");
    EXPECT(a, "Name must be 2-24 characters: letters, digits, _ or -");
    send_line(a, "Alice");
    CHECK(client_greet(a, NULL) == 0, "%s", a->line);
    CHECK(strcmp(a->name, "Alice") == 0, "name is '%s'", a->name);

    b = connect_client();
    send_line(b, "alice");
    EXPECT(b, "alice is already taken");
    send_line(b, "Bob");
    CHECK(client_greet(b, NULL) == 0, "%s", b->line);
    EXPECT(a, "Bob joined main");
    client_close(a);
    client_close(b);
}
END_TEST

/* --login-timeout: no name in time, the connection is closed. */
CHAT_CASE(login_timeout)
{
    const char *args[] = {"--login", "--login-timeout", "0.5", NULL};
    client *a;

    start(args);
    a = connect_client();
    expect_eof(a);
    client_close(a);
}
END_TEST

/* A last message then a half-close (printf 'hi\n' | nc -N): delivered. */
CHAT_CASE(half_close)
{
    client *a, *b, *c;

    start(NULL);
    join_two(&a, &b);
    send_line(b, "see you");
    CHECK(shutdown(b->fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    EXPECT(a, "%s: see you", b->name);
    EXPECT(a, "%s left main", b->name);
    EXPECT(b, "%s: see you", b->name); /* still reading after half-close */
    expect_eof(b);

    /* A last line without a newline counts too. */
    c = join();
    EXPECT(a, "%s joined main", c->name);
    CHECK(client_send(c, "no newline") == 0, "send");
    CHECK(shutdown(c->fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    EXPECT(a, "%s: no newline", c->name);
    EXPECT(a, "%s left main", c->name);
    expect_eof(c);
    client_close(a);
    client_close(b);
    client_close(c);
}
END_TEST

/* --idle-timeout: a user who sends nothing is told and disconnected. */
CHAT_CASE(idle_timeout)
{
    const char *args[] = {"--idle-timeout", "1", NULL};
    client *a;

    start(args);
    a = join();
    EXPECT(a, "Disconnected for inactivity");
    expect_eof(a);
    client_close(a);
}
END_TEST

/* --max-clients 1: the second connection is turned away; the first is
 * unaffected, and its slot is free again once it leaves. */
CHAT_CASE(max_clients)
{
    const char *args[] = {"--max-clients", "1", NULL};
    client *a, *b, *c;

    start(args);
    a = join();
    b = connect_client();
    EXPECT(b, "Server is full, try again later");
    expect_eof(b);
    send_line(a, "still here");
    EXPECT(a, "%s: still here", a->name);
    send_line(a, "/quit");
    EXPECT(a, "Bye!");
    expect_eof(a);
    c = join();
    client_close(a);
    client_close(b);
    client_close(c);
}
END_TEST

/* -b ::1: listens on IPv6 loopback and logs [::1]:PORT. Where the machine
 * has no IPv6 loopback the case is not run: meson reports SKIP (exit 77). */
CHAT_CASE_IF(ipv6, harness_ipv6_works)
{
    const char *args[] = {"-b", "::1", NULL};
    char line[256];
    client *a;

    start(args);
    CHECK(chatd_log_line(&srv, "listening on [::1]:", line, sizeof line),
          "no 'listening on [::1]:PORT' line");
    a = client_connect(srv.port, 1);
    CHECK(a != NULL, "connect to [::1]:%d: %s", srv.port, strerror(errno));
    CHECK(client_greet(a, NULL) == 0, "%s", a->line);
    client_close(a);
}
END_TEST

/* Bad flags and values: one message on stderr, exit status 2. */
CHAT_CASE(bad_flags)
{
    static const char *const cases[][4] = {
        {"--bogus"},           {"-x"},
        {"--port"},            {"--port", "abc"},
        {"--port", "-1"},      {"--port", "65536"},
        {"--port", ""},        {"--history", "-3"},
        {"--history", "1e3"},  {"--rate", "1.5"},
        {"--burst", "many"},   {"--idle-timeout", "soon"},
        {"--idle-timeout", "-1"}, {"--shutdown-grace", "0.0001"},
        {"--high-water", "1"}, {"--high-water", "10X"},
        {"--max-clients", "99999999999"}, {"--room", "x"},
        {"--room", "no spaces"}, {"stray-argument"},
        {"--write-timeout", "30s"}, {"--login-timeout", " 5"},
        /* the flags that need --redis, without it */
        {"--node-id", "n1"},   {"--redis-lease", "1000"},
        {"--redis-prefix", "x:"}, {"--redis-password-file", "/dev/null"},
        {"-v", "--node-id", "n1"},
        {"--redis-cafile", "/dev/null"}, {"--redis-insecure"},
        /* rediss:// (TLS) flags: with redis://, half a pair, at odds,
         * a CA file that cannot be read (before the loop runs) */
        {"--redis", "redis://127.0.0.1:1", "--redis-insecure"},
        {"--redis=rediss://127.0.0.1:1", "--redis-cert", "/dev/null"},
        {"--redis=rediss://127.0.0.1:1", "--redis-insecure",
         "--redis-cafile=/dev/null"},
        {"--redis=rediss://127.0.0.1:1", "--redis-cafile", "/nonexistent"},
    };
    char out[4096], err[4096];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int status = chatd_run(cases[i], DEFAULT_WAIT_MS, out, sizeof out,
                               err, sizeof err);
        const char *nl = strchr(err, '\n');
        CHECK(status == 2, "%s %s: exit status %d, want 2 (stderr: %s)",
              cases[i][0], cases[i][1] ? cases[i][1] : "", status, err);
        CHECK(strncmp(err, "chatd: ", 7) == 0 && nl && nl[1] == '\0',
              "%s %s: want one 'chatd: ' line on stderr, got '%s'",
              cases[i][0], cases[i][1] ? cases[i][1] : "", err);
        CHECK(out[0] == '\0', "%s: unexpected stdout '%s'", cases[i][0], out);
    }
}
END_TEST

/* --help and --version print to stdout and exit 0. */
CHAT_CASE(help_version)
{
    const char *help[] = {"--help", NULL}, *h[] = {"-h", NULL};
    const char *version[] = {"--version", NULL};
    char out[8192], err[1024];

    CHECK(chatd_run(help, DEFAULT_WAIT_MS, out, sizeof out, err, sizeof err)
          == 0, "--help: exit status not 0");
    CHECK(strncmp(out, "Usage: chatd", 12) == 0, "--help printed '%s'", out);
    CHECK(strstr(out, "--shutdown-grace") != NULL, "--help lacks a flag");
    CHECK(err[0] == '\0', "--help wrote to stderr: %s", err);
    CHECK(chatd_run(h, DEFAULT_WAIT_MS, out, sizeof out, err, sizeof err) == 0,
          "-h: exit status not 0");
    CHECK(chatd_run(version, DEFAULT_WAIT_MS, out, sizeof out, err,
                    sizeof err) == 0, "--version: exit status not 0");
    CHECK(strncmp(out, "chatd ", 6) == 0, "--version printed '%s'", out);
}
END_TEST

/*
 * Out of file descriptors (EMFILE): new connections are told the server
 * is full and closed, open clients keep chatting, and once descriptors
 * are free again new users get in.
 */
CHAT_CASE(fd_exhaustion)
{
    const char *args[] = {"--max-clients", "1000", NULL};
    enum { MAX = 40 };
    client *c[MAX];
    int n;

    CHECK(chatd_start_nofile(&srv, args, 24) == 0, "chatd did not start");
    n = fill_until_full(c, MAX);
    CHECK(chatd_log_contains(&srv, "out of file descriptors"),
          "no log line about running out of descriptors");

    /* The first users still chat (their greeting and joins are queued). */
    still_chats(c[0]);
    /* Free some descriptors; a newcomer gets in (after chatd notices). */
    for (int i = 1; i < 4 && i < n; i++)
        client_close(c[i]);
    for (int tries = 0;; tries++) {
        client *x = connect_client();
        const char *first = client_next(x);
        if (strcmp(first, "Server commands") == 0) {
            client_close(x);
            break;
        }
        client_close(x);
        CHECK(tries < 50, "never accepted again: '%s'", first);
        sleep_ms(100);
    }
    client_close(c[0]);
    for (int i = 4; i < n; i++)
        client_close(c[i]);
}
END_TEST

/* --write-timeout: a reader whose output has not moved for that long is
 * disconnected; the others go on. */
CHAT_CASE(write_timeout)
{
    const char *args[] = {"--high-water", "4096", "--rate", "0",
                          "--write-timeout", "1", NULL};
    char other[256] = "", left[128];
    client *stuck, *s;

    start(args);
    stuck = join_slow();
    s = join();
    /* On a busy machine the timeout may strike during the flood. */
    run_flood_other(s, NULL, 40000, other, sizeof other);
    sleep_ms(2500); /* not reading for longer than the timeout */
    CHECK(client_wait_eof(stuck, DEFAULT_WAIT_MS) == 0,
          "a stuck reader was not disconnected");
    snprintf(left, sizeof left, "%s left main", stuck->name);
    if (strcmp(other, left) != 0)
        EXPECT(s, "%s", left);
    client_close(stuck);
    client_close(s);
}
END_TEST

/*
 * A shutdown that cannot finish: a client that never reads holds a flood
 * in its backlog when SIGTERM arrives; the reading client s is told and
 * closed. grace is --shutdown-grace.
 */
static void shutdown_with_stuck_client(const char *grace, client **stuck,
                                       client **s)
{
    const char *args[] = {"--high-water", "4096", "--rate", "0",
                          "--shutdown-grace", grace, NULL};

    start(args);
    *stuck = join_slow();
    *s = join();
    run_flood(*s, NULL, 40000);
    chatd_signal(&srv, SIGTERM);
    EXPECT(*s, "Server shutting down...");
    expect_eof(*s);
}

/* A client that never reads cannot hold a shutdown past the grace. */
CHAT_CASE(shutdown_grace)
{
    client *stuck, *s;

    shutdown_with_stuck_client("1", &stuck, &s);
    expect_exit_0();
    CHECK(chatd_log_contains(&srv, "grace period over"),
          "the grace period did not end the shutdown");
    client_close(stuck);
    client_close(s);
}
END_TEST

/* A second signal during a long shutdown exits at once, status 0. */
CHAT_CASE(second_signal)
{
    client *stuck, *s;

    shutdown_with_stuck_client("60", &stuck, &s);
    CHECK(chatd_wait(&srv, 300) != 0, "exited before the second signal");
    chatd_signal(&srv, SIGINT);
    expect_exit_0();
    CHECK(chatd_log_contains(&srv, "exiting now"), "no 'exiting now' log");
    client_close(stuck);
    client_close(s);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

/* CHAT_CASES: the CHAT_CASE lines above, as meson read them. */
#include "integration_cases.h"

int main(void)
{
    const harness_case cases[] = {CHAT_CASES};

    return harness_main("integration", cases, sizeof cases / sizeof cases[0],
                        55);
}
