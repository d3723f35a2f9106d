/*
 * pollchat - a complete chat server in one file: libchat + poll(2).
 *
 * It shows the whole loop of doc/api.md with real sockets and no event
 * library: read -> chat_peer_feed, timers -> chat_broker_tick, output ->
 * chat_broker_next_ready + chat_peer_peek + writev + chat_peer_consume,
 * and closing -> chat_peer_release. chatd does the same with libevent.
 *
 *     pollchat [PORT]     listens on 127.0.0.1:PORT (default 4243; 0 = any)
 *
 * Ctrl-C shuts down like chatd: everyone gets "Server shutting down...".
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libchat/chat.h>

#define MAX_CONNS 64
#define GRACE_MS 5000 /* how long shutdown waits for output to drain */

typedef struct conn {
    int fd; /* -1: free slot */
    chat_peer *peer;
} conn;

typedef struct server {
    chat_broker *b;
    int listen_fd; /* -1 once shutting down */
    conn conns[MAX_CONNS];
    struct pollfd fds[MAX_CONNS + 1];
} server;

/* Set by the signal handler, read by the loop: the one global we need. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int listen_on(unsigned short port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    socklen_t len = sizeof(sa);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16) ||
        fcntl(fd, F_SETFL, O_NONBLOCK) ||
        getsockname(fd, (struct sockaddr *)&sa, &len)) {
        perror("pollchat: listen");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

static void drop_conn(server *s, conn *c, uint64_t now)
{
    chat_peer_release(s->b, c->peer, now); /* tells the room if still in one */
    close(c->fd);
    c->fd = -1;
    c->peer = NULL;
}

/* Write what the socket takes now; the rest stays in the broker, and the
 * poll set asks for POLLOUT while chat_peer_pending() is non-zero. */
static void write_conn(server *s, conn *c, uint64_t now)
{
    chat_iov iov[16];
    struct iovec v[16];
    size_t k = chat_peer_peek(c->peer, iov, 16);
    for (size_t i = 0; i < k; i++) {
        v[i].iov_base = (void *)iov[i].base; /* writev only reads it */
        v[i].iov_len = iov[i].len;
    }
    ssize_t w = k ? writev(c->fd, v, (int)k) : 0;
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        drop_conn(s, c, now); /* reset by peer, broken pipe */
        return;
    }
    if (w > 0)
        chat_peer_consume(s->b, c->peer, (size_t)w, now);
    chat_close_reason why = chat_peer_close_reason(c->peer);
    if (why && (!chat_peer_pending(c->peer) || !chat_close_reason_flushes(why)))
        drop_conn(s, c, now);
}

static void read_conn(server *s, conn *c, uint64_t now)
{
    char buf[4096];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n > 0)
        chat_peer_feed(s->b, c->peer, buf, (size_t)n, now);
    else if (n == 0)
        chat_peer_eof(s->b, c->peer, now); /* closes once flushed */
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        drop_conn(s, c, now);
}

static void accept_conn(server *s, uint64_t now)
{
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return; /* EAGAIN, or out of fds: try again on the next pass */
    for (size_t i = 0; i < MAX_CONNS; i++) {
        conn *c = &s->conns[i];
        if (c->fd != -1)
            continue;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) ||
            chat_broker_join(s->b, c, now, &c->peer) != CHAT_OK)
            break;
        c->fd = fd;
        return;
    }
    close(fd); /* no slot, or no memory: refuse */
}

/* Fill s->fds; returns how many. fds[0] is the listener (or unused). */
static nfds_t build_poll_set(server *s)
{
    nfds_t n = 1;
    s->fds[0] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    for (size_t i = 0; i < MAX_CONNS; i++) {
        conn *c = &s->conns[i];
        if (c->fd == -1)
            continue;
        short ev = chat_peer_close_reason(c->peer) ? 0 : POLLIN;
        if (chat_peer_pending(c->peer))
            ev |= POLLOUT;
        s->fds[n++] = (struct pollfd){.fd = c->fd, .events = ev};
    }
    return n;
}

static conn *conn_of_fd(server *s, int fd)
{
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (s->conns[i].fd == fd)
            return &s->conns[i];
    return NULL;
}

static int poll_timeout(const server *s, uint64_t now)
{
    uint64_t due = chat_broker_next_deadline(s->b);
    if (stop_requested && s->listen_fd != -1)
        return 0;
    if (due == CHAT_NO_DEADLINE)
        return s->listen_fd == -1 ? 100 : -1;
    return due <= now ? 0 : (int)(due - now > 60000 ? 60000 : due - now);
}

/* One pass of the loop described in broker.h. */
static void pass(server *s)
{
    nfds_t n = build_poll_set(s);
    if (poll(s->fds, n, poll_timeout(s, now_ms())) < 0 && errno != EINTR)
        return;
    uint64_t now = now_ms();
    if (s->listen_fd != -1 && (s->fds[0].revents & POLLIN))
        accept_conn(s, now);
    for (nfds_t i = 1; i < n; i++) {
        conn *c = conn_of_fd(s, s->fds[i].fd);
        if (c && (s->fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            read_conn(s, c, now);
        if (c && c->fd != -1 && (s->fds[i].revents & POLLOUT))
            write_conn(s, c, now);
    }
    chat_broker_tick(s->b, now);
    chat_peer *p;
    while ((p = chat_broker_next_ready(s->b)) != NULL)
        write_conn(s, chat_peer_user(p), now);
}

static size_t live_conns(const server *s)
{
    size_t n = 0;
    for (size_t i = 0; i < MAX_CONNS; i++)
        n += s->conns[i].fd != -1;
    return n;
}

static void run(server *s)
{
    uint64_t give_up = 0;
    while (s->listen_fd != -1 || (live_conns(s) && now_ms() < give_up)) {
        pass(s);
        if (stop_requested && s->listen_fd != -1) {
            close(s->listen_fd);
            s->listen_fd = -1;
            chat_broker_shutdown(s->b, now_ms());
            give_up = now_ms() + GRACE_MS;
        }
    }
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (s->conns[i].fd != -1)
            drop_conn(s, &s->conns[i], now_ms());
}

int main(int argc, char **argv)
{
    static server s;
    struct sigaction sa = {.sa_handler = on_signal};
    unsigned long port = argc > 1 ? strtoul(argv[1], NULL, 10) : 4243;

    if (port > 65535) {
        fprintf(stderr, "usage: pollchat [PORT]\n");
        return 2;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed socket is an EPIPE, not a death */
    for (size_t i = 0; i < MAX_CONNS; i++)
        s.conns[i].fd = -1;
    int err = chat_broker_new(&s.b, NULL);
    if (err) {
        fprintf(stderr, "pollchat: %s\n", chat_strerror(err));
        return 1;
    }
    s.listen_fd = listen_on((unsigned short)port);
    int ok = s.listen_fd != -1;
    if (ok)
        run(&s);
    chat_broker_free(s.b);
    return ok ? 0 : 1;
}
