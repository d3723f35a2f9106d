/*
 * Hostile and broken clients of chatd's http:// listener, for real: a
 * slowloris, idle requests holding --max-clients, WebSocket users that
 * never read (while a flood runs, or while they flood pings), a 2 MiB
 * message, clients gone mid-frame, and the idle and rate limits a
 * WebSocket user must meet exactly as a telnet user does (doc/protocol.md,
 * "Limits"). As in tests/fault, each case ends with chatd exiting 0 on
 * SIGTERM (under valgrind: no memory error, no leak), waits are bounded
 * and scaled by harness_slowdown(), and memory is only measured on a plain
 * build (not under $CHATD_WRAPPER or a sanitizer).
 *
 * Every case skips (77) where chatd has no http:// listener.
 * Run one case: CK_RUN_CASE=http_slowloris ./test_ws_fault.
 */
#define _GNU_SOURCE /* MSG_NOSIGNAL, MSG_DONTWAIT */

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "wsclient.h"

/* ---- helpers ------------------------------------------------------------- */

/* Seconds as an option value, scaled for a slow wrapper. */
static const char *secs(int s)
{
    static char buf[4][16];
    static int next;
    char *b = buf[next++ % 4];

    snprintf(b, sizeof buf[0], "%d", s * harness_slowdown());
    return b;
}

/* A new TCP user must be turned away as the server is full. */
static void turned_away(void)
{
    client *x = track(connect_client());

    EXPECT(x, "Server is full, try again later");
    expect_eof(x);
    drop(x);
}

/* Send all of len bytes without blocking for long; returns 0, or -1 once
 * the server is gone (EPIPE, ECONNRESET) or deadline passed. */
static int send_until(client *c, const void *data, size_t len,
                      long long deadline)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        struct pollfd pfd = {c->fd, POLLOUT, 0};
        long long left = deadline - now_ms();
        if (left <= 0)
            return -1;
        poll(&pfd, 1, left > 100 ? 100 : (int)left);
    }
    return 0;
}

/* chatd logged that the user name disconnected, and why. */
static void wait_disconnected(const char *name, const char *why)
{
    char needle[128];

    snprintf(needle, sizeof needle, "(%s) disconnected: %s", name, why);
    wait_log(needle);
}

/* ---- slow requests --------------------------------------------------------- */

/*
 * A slowloris sends a request head one byte a second and never finishes:
 * --http-timeout (2 s) is for the whole head, however steadily its bytes
 * trickle in, so it is answered 408 and closed then. Meanwhile a telnet
 * user and a WebSocket user chat and the page is served, unaffected.
 */
CHAT_CASE_IF(http_slowloris, chatd_has_http)
{
    static const char head[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "User-Agent: slowloris\r\nX-a: b\r\n";
    const int timeout_s = 2 * harness_slowdown();
    const char *args[] = {"--http-timeout", secs(2), NULL};
    client *tcp, *ws, *loris;
    http_resp r;
    size_t sent = 0;
    int ended = 0;

    start_http(args);
    tcp = tcp_join();
    ws = ws_join();
    EXPECT(tcp, "%s joined main", ws->name);
    loris = http_connect();
    long long t0 = now_ms();
    /* One byte a second, for up to three timeouts; chat in between. */
    while (!ended && now_ms() - t0 < 3000LL * timeout_s + 2000 &&
           sent < sizeof head - 1) {
        long long tick = now_ms();
        if (client_send_bytes(loris, head + sent, 1) != 0) {
            ended = 1;
            break;
        }
        sent++;
        ws_send(ws, "tick %zu", sent);
        WS_EXPECT(ws, "%s: tick %zu", ws->name, sent);
        EXPECT(tcp, "%s: tick %zu", ws->name, sent);
        while (!ended && now_ms() - tick < 1000) {
            struct pollfd pfd = {loris->fd, POLLIN, 0};
            if (poll(&pfd, 1, 50) > 0)
                ended = 1;
        }
    }
    long long took = now_ms() - t0;
    CHECK(ended, "the slowloris is still connected after %lld ms and %zu "
          "bytes (--http-timeout %d s): the head's deadline is re-armed by "
          "every byte", took, sent, timeout_s);
    CHECK(http_read(loris, &r, 1) == 0, "the slowloris' answer: %s", r.head);
    CHECK(r.status == 408, "the slowloris got: %s", r.head);
    http_free(&r);
    CHECK(took < 1000LL * timeout_s + 1500LL * harness_slowdown(),
          "the slowloris was answered after %lld ms, --http-timeout is %d s",
          took, timeout_s);
    expect_eof(loris);
    /* Others were never held up; the page is still served. */
    http_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK(r.status == 200, "GET / after the slowloris: %s", r.head);
    http_free(&r);
    ws_send(ws, "done");
    WS_EXPECT(ws, "%s: done", ws->name);
    EXPECT(tcp, "%s: done", ws->name);
}
END_TEST

/*
 * Connections still in their HTTP phase hold slots of --max-clients (3):
 * three silent requests fill the server, so a telnet newcomer is told
 * "Server is full, try again later" and an HTTP one gets 503; once the
 * three time out (408), newcomers get in again, by TCP and by WebSocket.
 */
CHAT_CASE_IF(http_phase_counts_toward_max_clients, chatd_has_http)
{
    const char *args[] = {"-v", "--max-clients", "3", "--http-timeout",
                          secs(2), NULL};
    client *idle[3], *tcp, *ws;
    http_resp r;

    start_http(args);
    for (int i = 0; i < 3; i++)
        idle[i] = http_connect();
    wait_log("(3 open)"); /* chatd has accepted all three */
    turned_away();
    http_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK(r.status == 503, "an HTTP newcomer at --max-clients: %s", r.head);
    http_free(&r);
    for (int i = 0; i < 3; i++) {
        CHECK(http_read(idle[i], &r, 1) == 0, "idle request %d: %s", i,
              r.head);
        CHECK(r.status == 408, "idle request %d: %s", i, r.head);
        http_free(&r);
        expect_eof(idle[i]);
        drop(idle[i]);
    }
    tcp = tcp_join();
    ws = ws_join();
    EXPECT(tcp, "%s joined main", ws->name);
}
END_TEST

/*
 * The other way round: users fill --max-clients (2), and a WebSocket
 * newcomer is refused at the HTTP phase (503, nothing joins); when one
 * user leaves, the upgrade works again.
 */
CHAT_CASE_IF(ws_newcomer_when_full, chatd_has_http)
{
    static const char *const args[] = {"--max-clients", "2", NULL};
    client *a, *b, *ws;
    http_resp r;

    start_http(args);
    a = tcp_join();
    b = ws_join();
    EXPECT(a, "%s joined main", b->name);
    http_request("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 &r);
    CHECK(r.status == 503, "a WebSocket newcomer at --max-clients: %s",
          r.head);
    http_free(&r);
    ws_send(b, "/quit");
    WS_EXPECT(b, "Bye!");
    WS_EXPECT_CLOSE(b, 1000, 0);
    EXPECT(a, "%s left main", b->name);
    ws = ws_join();
    EXPECT(a, "%s joined main", ws->name);
}
END_TEST

/* ---- quiet users ------------------------------------------------------------- */

/*
 * --http-timeout bounds the request head, nothing after it: a WebSocket
 * user who only reads (most browser users, most of the time) stays
 * connected and keeps receiving, well past it (1 s here, waited out three
 * times over). Anything else would also leave the broker a peer whose
 * connection is gone.
 */
CHAT_CASE_IF(quiet_ws_user_outlives_http_timeout, chatd_has_http)
{
    const char *args[] = {"--http-timeout", secs(1), NULL};
    client *ws, *tcp;

    start_http(args);
    ws = ws_join();
    tcp = tcp_join();
    WS_EXPECT(ws, "%s joined main", tcp->name);
    for (int i = 0; i < 3; i++) {
        sleep_ms(1000 * harness_slowdown());
        send_line(tcp, "are you there? %d", i);
        EXPECT(tcp, "%s: are you there? %d", tcp->name, i);
        WS_EXPECT(ws, "%s: are you there? %d", tcp->name, i);
    }
    ws_send(ws, "yes");
    WS_EXPECT(ws, "%s: yes", ws->name);
    EXPECT(tcp, "%s: yes", ws->name);
}
END_TEST

/* ---- readers that never read ----------------------------------------------- */

/*
 * A WebSocket user stops reading while a telnet user floods the room: past
 * --high-water their share is dropped, the backlog stops moving, and after
 * --write-timeout (2 s) they are cut, exactly like a telnet user. Their
 * slot is given back: with --max-clients 2, a newcomer was turned away
 * before and gets in after.
 */
CHAT_CASE_IF(ws_non_reader_cut_by_write_timeout, chatd_has_http)
{
    const char *args[] = {"-v", "--max-clients", "2", "--write-timeout",
                          secs(2), "--high-water", "64K", "--rate", "0",
                          NULL};
    char left[96];
    client *sender, *deaf, *late;

    start_http(args);
    sender = tcp_join();
    deaf = ws_open(NULL, 4096);
    /* Its name, from the greeting it is sent (read once, then never). */
    ws_skip_to(deaf, "/quit - leave the chat");
    const char *you = ws_next(deaf);
    CHECK(strncmp(you, "You are ", 8) == 0, "greeting: %s", you);
    snprintf(deaf->name, sizeof deaf->name, "%s", you + 8);
    EXPECT(sender, "%s joined main", deaf->name);
    turned_away();

    snprintf(left, sizeof left, "%s left main", deaf->name);
    flood_until_line(sender, left);
    wait_disconnected(deaf->name, "write-timeout");
    /* Its slot is free again: a newcomer gets in. */
    late = tcp_join();
    snprintf(left, sizeof left, "%s joined main", late->name);
    skip_to(sender, left);
    /* Only now does the deaf one read: what was sent, then the end. */
    CHECK(client_wait_eof(deaf, DEFAULT_WAIT_MS) == 0,
          "the cut connection was not closed");
    drop(deaf);
}
END_TEST

/*
 * A WebSocket user sends one text message of 2 MiB: it is answered
 * "Messages can only be 400 bytes long" as on TCP, the user stays, and
 * chatd does not hold the message (its memory does not grow by more than
 * a few hundred KiB, three times over). Fragmented into 64 frames, the
 * same.
 */
CHAT_CASE_IF(two_mib_message, chatd_has_http)
{
    const size_t size = 2u << 20;
    char *big = malloc(size);
    client *tcp, *ws;
    long rss0 = -1, rss;

    CHECK(big != NULL, "out of memory");
    memset(big, 'm', size);
    start_http(NULL);
    tcp = tcp_join();
    ws = ws_join();
    EXPECT(tcp, "%s joined main", ws->name);
    ws_send(ws, "warm up");
    WS_EXPECT(ws, "%s: warm up", ws->name);
    EXPECT(tcp, "%s: warm up", ws->name);
    rss0 = chatd_rss_kib(&srv);
    for (int round = 0; round < 3; round++) {
        CHECK(ws_send_frame(ws, WS_FIN | WS_TEXT, big, size, 1) == 0,
              "sending 2 MiB");
        WS_EXPECT(ws, "Messages can only be 400 bytes long");
        ws_send(ws, "still here %d", round);
        WS_EXPECT(ws, "%s: still here %d", ws->name, round);
        EXPECT(tcp, "%s: still here %d", ws->name, round);
    }
    for (int i = 0; i < 64; i++) {
        unsigned b0 = (i == 0 ? WS_TEXT : WS_CONT) | (i == 63 ? WS_FIN : 0);
        CHECK(ws_send_frame(ws, b0, big, size / 64, 1) == 0, "fragment %d", i);
    }
    WS_EXPECT(ws, "Messages can only be 400 bytes long");
    ws_send(ws, "after the fragments");
    WS_EXPECT(ws, "%s: after the fragments", ws->name);
    EXPECT(tcp, "%s: after the fragments", ws->name);
    rss = chatd_rss_kib(&srv);
    fprintf(stderr, "chatd RSS %ld KiB before 8 MiB of messages, %ld after\n",
            rss0, rss);
    if (memory_measurable())
        CHECK(rss - rss0 < 384, "chatd grew by %ld KiB taking 2 MiB messages",
              rss - rss0);
    free(big);
}
END_TEST

/*
 * A WebSocket client floods pings and never reads the pongs. Pongs wait in
 * its outbox like replies (never dropped), so the backlog grows; past four
 * times --high-water (16K here) the client is cut as a slow consumer, and
 * chatd's memory stays bounded on the way.
 */
CHAT_CASE_IF(ping_flood_non_reader, chatd_has_http)
{
    static const char *const args[] = {"-v", "--high-water", "16K", NULL};
    unsigned char batch[64 * 131];
    char payload[125];
    size_t n = 0;
    long sent = 0, rss0, peak = 0;
    int gone = 0;
    client *tcp, *ws;

    memset(payload, 'P', sizeof payload);
    for (int i = 0; i < 64; i++)
        n += ws_build_frame(batch + n, sizeof batch - n, WS_FIN | WS_PING,
                            payload, sizeof payload, 1);
    start_http(args);
    tcp = tcp_join();
    ws = ws_open(NULL, 4096);
    ws_skip_to(ws, "/quit - leave the chat");
    const char *you = ws_next(ws);
    CHECK(strncmp(you, "You are ", 8) == 0, "greeting: %s", you);
    snprintf(ws->name, sizeof ws->name, "%s", you + 8);
    EXPECT(tcp, "%s joined main", ws->name);
    rss0 = chatd_rss_kib(&srv);
    /* Pings until it is cut, for up to 20 s: however much the kernel's
     * buffers hold on loopback (megabytes), past them the backlog grows
     * until 4 x 16K. */
    long long deadline = now_ms() + 20000LL * harness_slowdown();
    while (!gone && now_ms() < deadline) {
        if (send_until(ws, batch, n, deadline) != 0) {
            gone = 1;
            break;
        }
        sent += 64;
        if (sent % 1024 == 0) {
            long rss = chatd_rss_kib(&srv);
            if (rss > peak)
                peak = rss;
            gone = chatd_log_contains(&srv, "disconnected: slow");
        }
    }
    fprintf(stderr, "%ld pings sent (%s); chatd RSS %ld KiB before, peak "
            "%ld\n", sent, gone ? "cut" : "not cut", rss0, peak);
    wait_disconnected(ws->name, "slow");
    EXPECT(tcp, "%s left main", ws->name);
    if (memory_measurable())
        CHECK(peak - rss0 < 1024, "chatd grew by %ld KiB under a ping flood",
              peak - rss0);
    drop(ws);
}
END_TEST

/* ---- clients gone mid-frame ------------------------------------------------ */

/* Connect a WebSocket user, let it send raw bytes and vanish (FIN, or RST
 * when reset): the witness hears only that it left. */
static void vanish_after(client *tcp, const void *bytes, size_t len,
                         int reset)
{
    client *ws = ws_join();
    char left[96];

    EXPECT(tcp, "%s joined main", ws->name);
    snprintf(left, sizeof left, "%s left main", ws->name);
    if (len)
        CHECK(client_send_bytes(ws, bytes, len) == 0, "send");
    sleep_ms(50);
    if (reset)
        drop_reset(ws);
    else
        drop(ws);
    EXPECT(tcp, "%s", left);
}

/*
 * Clients that disconnect in the middle of a frame: after one header
 * byte, inside the extended length, inside the mask, with a payload cut
 * short, after the first fragment of a message, and by a reset. Each time
 * the room hears only that they left (a message cut off is not a
 * message), and chatd carries on.
 */
CHAT_CASE_IF(disconnect_mid_frame, chatd_has_http)
{
    unsigned char f[600];
    char text[300];
    size_t n;
    client *tcp;

    memset(text, 'c', sizeof text);
    start_http(NULL);
    tcp = tcp_join();
    n = ws_build_frame(f, sizeof f, WS_FIN | WS_TEXT, text, sizeof text, 1);
    vanish_after(tcp, f, 1, 0);      /* one header byte */
    vanish_after(tcp, f, 3, 0);      /* half the 16-bit length */
    vanish_after(tcp, f, 6, 0);      /* inside the mask */
    vanish_after(tcp, f, n - 10, 0); /* payload cut short */
    vanish_after(tcp, f, n - 10, 1); /* the same, reset */
    n = ws_build_frame(f, sizeof f, WS_TEXT, "half a message", 14, 1);
    vanish_after(tcp, f, n, 0);      /* a whole first fragment */
    vanish_after(tcp, f, n, 1);
    /* chatd carries on. */
    send_line(tcp, "/users");
    EXPECT(tcp, "Users - %s", tcp->name);
    client *ws = ws_join();
    EXPECT(tcp, "%s joined main", ws->name);
    ws_send(ws, "all good");
    WS_EXPECT(ws, "%s: all good", ws->name);
    EXPECT(tcp, "%s: all good", ws->name);
}
END_TEST

/* ---- limits, as on TCP --------------------------------------------------- */

/*
 * --idle-timeout (1 s): a WebSocket user who sends nothing gets
 * "Disconnected for inactivity", then a close frame (1000), and the room
 * is told, exactly when a silent telnet user is; one who keeps talking
 * stays.
 */
CHAT_CASE_IF(idle_timeout_ws, chatd_has_http)
{
    const char *args[] = {"--idle-timeout", secs(1), NULL};
    const int idle_ms = 1000 * harness_slowdown();
    client *quiet_ws, *quiet_tcp, *talker;
    int heard_ws = 0, heard_tcp = 0, i = 0;
    char left_ws[96], left_tcp[96];

    start_http(args);
    quiet_ws = ws_join();
    quiet_tcp = tcp_join();
    talker = ws_join();
    snprintf(left_ws, sizeof left_ws, "%s left main", quiet_ws->name);
    snprintf(left_tcp, sizeof left_tcp, "%s left main", quiet_tcp->name);
    /* The talker says something every 200 ms for three timeouts. */
    for (long long t0 = now_ms(); now_ms() - t0 < 3 * idle_ms; i++) {
        ws_send(talker, "alive %d", i);
        for (long long tick = now_ms(); now_ms() - tick < 200;) {
            const char *got = ws_frame(talker, 50);
            if (!strcmp(got, left_ws))
                heard_ws++;
            else if (!strcmp(got, left_tcp))
                heard_tcp++;
            else
                CHECK(!strcmp(got, "<timeout>") ||
                          !strncmp(got, talker->name, strlen(talker->name)),
                      "the talker got '%s'", got);
        }
    }
    CHECK(heard_ws == 1 && heard_tcp == 1,
          "the talker heard the quiet WebSocket user leave %d times, the "
          "quiet telnet user %d times", heard_ws, heard_tcp);
    ws_skip_to(quiet_ws, "Disconnected for inactivity");
    WS_EXPECT_CLOSE(quiet_ws, 1000, 0);
    skip_to(quiet_tcp, "Disconnected for inactivity");
    expect_eof(quiet_tcp);
    ws_send(talker, "still here");
    WS_EXPECT(talker, "%s: still here", talker->name);
}
END_TEST

/* Lines one after another in a single write, as a paste or a bot sends
 * them: the first --burst (3) pass, the rest are dropped with one notice;
 * on WebSocket exactly as on TCP. */
static void burst_of_six(client *c, int ws, client *other)
{
    unsigned char buf[1024];
    char text[32];
    size_t n = 0;

    for (int i = 1; i <= 6; i++) {
        int len = snprintf(text, sizeof text, "burst %d", i);
        if (ws)
            n += ws_build_frame(buf + n, sizeof buf - n, WS_FIN | WS_TEXT,
                                text, (size_t)len, 1);
        else
            n += (size_t)snprintf((char *)buf + n, sizeof buf - n, "%s\n",
                                  text);
    }
    CHECK(client_send_bytes(c, buf, n) == 0, "send");
    for (int i = 1; i <= 3; i++) {
        if (ws)
            WS_EXPECT(c, "%s: burst %d", c->name, i);
        else
            EXPECT(c, "%s: burst %d", c->name, i);
        if (other)
            WS_EXPECT(other, "%s: burst %d", c->name, i);
    }
    if (ws) {
        WS_EXPECT(c, "You are sending too fast, slow down");
        const char *got = ws_frame(c, 500);
        CHECK(!strcmp(got, "<timeout>"), "after the notice: '%s'", got);
    } else {
        EXPECT(c, "You are sending too fast, slow down");
        CHECK(client_line(c, 500) == NULL, "after the notice: '%s'", c->line);
    }
}

CHAT_CASE_IF(rate_limit_ws, chatd_has_http)
{
    static const char *const args[] = {"--rate", "1", "--burst", "3", NULL};
    client *ws, *tcp;

    start_http(args);
    ws = ws_join();
    burst_of_six(ws, 1, NULL);
    tcp = tcp_join();
    WS_EXPECT(ws, "%s joined main", tcp->name);
    burst_of_six(tcp, 0, ws);
    /* Nothing of lines 4-6 reached anyone. */
    const char *got = ws_frame(ws, 300);
    CHECK(!strcmp(got, "<timeout>"), "the WebSocket user got '%s'", got);
}
END_TEST

/* ---- closing ------------------------------------------------------------- */

/* Keep writing to c (what, every 300 ms) until the server has closed the
 * socket for good (a send fails); returns how long that took, or -1 if it
 * had not after wait_ms. Whatever chatd sent is discarded unread. */
static long long trickle_until_closed(client *c, const void *what,
                                      size_t len, int wait_ms)
{
    long long t0 = now_ms();

    while (now_ms() - t0 < wait_ms) {
        client_pump(c);
        c->len = 0;
        if (send(c->fd, what, len, MSG_NOSIGNAL) < 0 &&
            (errno == EPIPE || errno == ECONNRESET))
            return now_ms() - t0;
        sleep_ms(300);
    }
    return -1;
}

/*
 * After its last words (an HTTP answer; "Bye!" and the close frame),
 * chatd half-closes and waits up to two seconds for the client's end
 * (doc/protocol.md, "Closing is clean"). A client that never closes but
 * keeps sending must not stretch that wait forever: each such connection
 * is a descriptor that no longer counts toward --max-clients.
 */
CHAT_CASE_IF(linger_is_bounded, chatd_has_http)
{
    const int wait_ms = 6000 * harness_slowdown();
    unsigned char ping[16];
    size_t n = ws_build_frame(ping, sizeof ping, WS_FIN | WS_PING, "p", 1, 1);
    http_resp r;
    client *c, *ws;
    long long took;

    start_http(NULL);
    c = http_connect();
    CHECK(client_send(c, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
    CHECK(http_read(c, &r, 1) == 0 && r.status == 404, "GET /nope: %s",
          r.head);
    http_free(&r);
    took = trickle_until_closed(c, "x", 1, wait_ms);
    CHECK(took >= 0, "an answered HTTP connection is still open %d ms later: "
          "every byte the client sends re-arms the 2 s linger", wait_ms);
    drop(c);

    ws = ws_join();
    ws_send(ws, "/quit");
    WS_EXPECT(ws, "Bye!");
    CHECK(!strcmp(ws_next(ws), "<close 1000>"), "after Bye!: %s", ws->line);
    took = trickle_until_closed(ws, ping, n, wait_ms);
    CHECK(took >= 0, "a WebSocket that said Bye! is still open %d ms later: "
          "every frame the client sends re-arms the 2 s linger", wait_ms);
    drop(ws);
}
END_TEST

/* ---- shutdown ------------------------------------------------------------- */

/*
 * SIGTERM with a WebSocket user and a request still arriving: the user
 * gets "Server shutting down..." and close 1001, and chatd exits 0 at
 * once. A request head that has not arrived has nothing to be delivered,
 * so it must not hold the shutdown for --shutdown-grace (10 s here).
 */
CHAT_CASE_IF(shutdown_with_request_pending, chatd_has_http)
{
    const char *args[] = {"-v", "--http-timeout", secs(30),
                          "--shutdown-grace", secs(10), NULL};
    client *ws, *pending;

    start_http(args);
    ws = ws_join();
    pending = http_connect();
    CHECK(client_send(pending, "GET / HTTP/1.1\r\n") == 0, "send");
    wait_log("(2 open)"); /* chatd has accepted it */
    long long t0 = now_ms();
    chatd_signal(&srv, SIGTERM);
    WS_EXPECT(ws, "Server shutting down...");
    WS_EXPECT_CLOSE(ws, 1001, 0);
    drop(ws);
    expect_exit_0();
    long long took = now_ms() - t0;
    CHECK(took < 3000LL * harness_slowdown(),
          "chatd took %lld ms to exit: a pending request held the shutdown "
          "for the grace period", took);
    expect_eof(pending);
    drop(pending);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

/* CHAT_CASES: the CHAT_CASE lines above, as meson read them. */
#include "ws-fault_cases.h"

int main(void)
{
    const harness_case cases[] = {CHAT_CASES};

    return harness_main("ws-fault", cases, sizeof cases / sizeof cases[0],
                        55 * harness_slowdown());
}
