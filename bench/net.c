/*
 * chat-bench: the connections. Raw libevent events and one read buffer for
 * everything: bufferevents would copy every received byte once more, and
 * the generator shares the machine with the server it measures.
 *
 * Setup: the first client finds an address that accepts (every address
 * of the host in turn); the rest follow it, at most --concurrency setups
 * at a time. A setup reads the greeting up to "You joined {room}", sends
 * "/join ROOM" unless that is already the client's room, and ends at
 * "You joined ROOM" (redis: redis.c). Output is queued per connection and
 * written once per read callback or timer pass, so a sender's burst is one
 * write. With --tls, a TLS handshake (tls.c) comes between TCP and the
 * greeting, and reads and writes go through the connection's SSL.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "bench.h"
#include "netaddr.h"

#define CONNECT_TIMEOUT_S 10

static const char *const bot_rooms[] = {
    "lobby", "pizza", "music", "games", "books", "movies", "travel", "code",
};

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_line_is(const char *line, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(line, s, len) == 0;
}

int bench_line_starts(const char *line, size_t len, const char *s)
{
    size_t n = strlen(s);

    return len >= n && memcmp(line, s, n) == 0;
}

void bench_room_name(const struct bench *b, unsigned i, char *buf,
                     size_t size)
{
    size_t nbots = sizeof bot_rooms / sizeof *bot_rooms;

    if (b->opt.bots && i < nbots)
        snprintf(buf, size, "%s", bot_rooms[i]);
    else
        snprintf(buf, size, "room%u", i + 1);
}

void bench_note_line(struct bench_conn *c, const char *line, size_t len)
{
    size_t n = len < sizeof c->last_line - 1 ? len : sizeof c->last_line - 1;

    memcpy(c->last_line, line, n);
    c->last_line[n] = '\0';
}

int bench_resolve(struct bench *b)
{
    int rc = chatp_resolve(b->opt.host, b->opt.port, 0, &b->ai_list);

    if (rc == 0)
        return 0;
    bench_fatal(b, "cannot resolve host %s: %s", b->opt.host,
                chatp_resolve_strerror(rc));
    return -1;
}

/* ---- output ------------------------------------------------------------ */

static void conn_lost(struct bench_conn *c, int err);

static int out_grow(struct bench_outbuf *o, size_t need)
{
    size_t cap;
    char *p;

    if (o->off > 0) { /* slide the unsent bytes to the front first */
        memmove(o->data, o->data + o->off, o->len - o->off);
        o->len -= o->off;
        o->off = 0;
        if (o->cap - o->len >= need)
            return 0;
    }
    cap = o->cap ? o->cap : 512;
    while (cap - o->len < need)
        cap *= 2;
    p = realloc(o->data, cap);
    if (!p)
        return -1;
    o->data = p;
    o->cap = cap;
    return 0;
}

char *bench_send_reserve(struct bench_conn *c, size_t len)
{
    struct bench_outbuf *o = &c->out;
    char *p;

    if (c->state == CONN_CLOSED || c->b->fatal)
        return NULL;
    if (o->cap - o->len < len && out_grow(o, len) < 0) {
        bench_fatal(c->b, "out of memory");
        return NULL;
    }
    p = o->data + o->len;
    o->len += len;
    c->last_send_ns = c->b->now_ns;
    return p;
}

void bench_send(struct bench_conn *c, const char *data, size_t len)
{
    char *p = bench_send_reserve(c, len);

    if (p)
        memcpy(p, data, len);
}

void bench_conn_flushed(struct bench_conn *c)
{
    struct bench_outbuf *o = &c->out;

    if (o->off == o->len) {
        o->off = o->len = 0;
        event_del(c->wev);
    } else if (event_add(c->wev, NULL) < 0) {
        bench_fatal(c->b, "cannot watch a socket for writing");
    }
}

void bench_flush(struct bench_conn *c)
{
    struct bench_outbuf *o = &c->out;
    ssize_t n;

    if (c->state == CONN_CLOSED || c->state == CONN_CONNECTING ||
        c->state == CONN_HANDSHAKE || o->len == o->off)
        return;
    if (c->ssl) {
        bench_tls_flush(c);
        return;
    }
    n = write(c->fd, o->data + o->off, o->len - o->off);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_lost(c, errno);
        return;
    }
    if (n > 0)
        o->off += (size_t)n;
    bench_conn_flushed(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct bench_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->ssl)
        bench_tls_writable(c);
    else
        bench_flush(c);
}

/* ---- closing ----------------------------------------------------------- */

void bench_conn_close(struct bench_conn *c)
{
    if (c->state == CONN_CLOSED || c->state == CONN_NEW)
        return;
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    c->rev = c->wev = NULL;
    if (c->ssl)
        bench_tls_close(c);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    chat_framer_free(c->rx);
    c->rx = NULL;
    c->state = CONN_CLOSED;
    c->b->open--;
}

void bench_conns_free(struct bench *b)
{
    if (!b->conns)
        return;
    for (unsigned i = 0; i < b->opt.clients; i++) {
        bench_conn_close(&b->conns[i]);
        free(b->conns[i].out.data);
        free(b->conns[i].from);
    }
    free(b->conns);
    b->conns = NULL;
}

/* The server closed the connection (err 0) or it failed (err: errno). */
static void conn_lost(struct bench_conn *c, int err)
{
    bench_conn_lost(c, err ? strerror(err) : NULL);
}

void bench_conn_lost(struct bench_conn *c, const char *error)
{
    struct bench *b = c->b;
    enum bench_conn_state was = c->state;
    char why[160];

    bench_conn_close(c);
    if (b->opt.bots && (was == CONN_READY || b->phase == PHASE_DRAIN)) {
        bench_bot_closed(c);
        return;
    }
    if (c->last_line[0])
        snprintf(why, sizeof why, "; its last line: %s", c->last_line);
    else
        why[0] = '\0';
    if (!error)
        error = "the server closed it";
    if (was != CONN_READY)
        bench_fatal(b, "connection %u: %s during setup%s", c->id + 1, error,
                    why);
    else if (b->phase != PHASE_DONE)
        bench_fatal(b, "connection %u: %s%s", c->id + 1, error, why);
}

/* ---- the setup --------------------------------------------------------- */

void bench_conn_ready(struct bench_conn *c)
{
    struct bench *b = c->b;

    c->state = CONN_READY;
    c->last_line[0] = '\0';
    b->inflight--;
    b->joined++;
    b->last_setup_ns = b->now_ns;
    if (b->opt.bots)
        bench_bot_ready(c);
    if (b->joined < b->opt.clients) {
        bench_connect_more(b);
        return;
    }
    b->setup_end_ns = b->now_ns;
    if (b->opt.bots)
        bench_bots_start(b);
    else
        b->settling = 1; /* the tick starts the senders once it is quiet */
}

/* "You joined X" or "You are in X" with X our room (any case)? */
static int names_room(const struct bench_conn *c, const char *line,
                      size_t len, const char *prefix)
{
    char room[CHAT_NAME_MAX + 1];
    size_t n = strlen(prefix);

    if (!bench_line_starts(line, len, prefix))
        return 0;
    bench_room_name(c->b, c->room, room, sizeof room);
    return len - n == strlen(room) && strncasecmp(line + n, room, len - n) == 0;
}

static void setup_line(struct bench_conn *c, const char *line, size_t len)
{

    if (bench_line_starts(line, len, "You are ") && len - 8 < sizeof c->name) {
        memcpy(c->name, line + 8, len - 8);
        c->name[len - 8] = '\0';
        return;
    }
    if (names_room(c, line, len, "You joined ") ||
        (c->state == CONN_JOINING && names_room(c, line, len, "You are in "))) {
        bench_conn_ready(c);
        return;
    }
    if (c->state == CONN_GREETING && bench_line_starts(line, len, "You joined ")) {
        char room[CHAT_NAME_MAX + 1], cmd[CHAT_NAME_MAX + 8];

        bench_room_name(c->b, c->room, room, sizeof room);
        snprintf(cmd, sizeof cmd, "/join %s\n", room);
        bench_send(c, cmd, strlen(cmd));
        c->state = CONN_JOINING;
        return;
    }
    bench_note_line(c, line, len);
}

static int on_frame(void *arg, chat_frame_event ev, const char *line,
                    size_t len)
{
    struct bench_conn *c = arg;

    if (ev != CHAT_FRAME_LINE)
        return c->b->fatal;
    if (c->b->opt.target == BENCH_TARGET_REDIS)
        bench_redis_line(c, line, len);
    else if (c->state != CONN_READY)
        setup_line(c, line, len);
    else if (c->b->opt.bots)
        bench_bot_line(c, line, len);
    else
        bench_load_line(c, line, len);
    return c->b->fatal; /* an error stops the run: stop reading too */
}

char bench_rx_buf[BENCH_RX_BUF];

void bench_conn_received(struct bench_conn *c, const char *buf, size_t n)
{
    c->got_data = 1;
    c->b->now_ns = c->b->last_rx_ns = bench_now_ns();
    chat_framer_feed(c->rx, buf, n, on_frame, c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct bench_conn *c = arg;
    ssize_t n;

    (void)what;
    if (c->ssl) {
        bench_tls_readable(c);
        return;
    }
    n = read(fd, bench_rx_buf, sizeof bench_rx_buf);
    if (n > 0) {
        bench_conn_received(c, bench_rx_buf, (size_t)n);
        bench_flush(c);
    } else if (n == 0) {
        conn_lost(c, 0);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_lost(c, errno);
    }
}

/* ---- connecting -------------------------------------------------------- */

static void fail_connect(struct bench_conn *c, int err);

void bench_conn_up(struct bench_conn *c)
{
    struct bench *b = c->b;

    c->state = CONN_GREETING;
    c->last_send_ns = b->now_ns = bench_now_ns();
    if (b->opt.target == BENCH_TARGET_REDIS) { /* redis does not greet */
        bench_redis_start(c);
        bench_flush(c);
    }
    if (b->probing) { /* this address works: everyone uses it */
        b->probing = 0;
        bench_connect_more(b);
    }
}

static void on_connect(evutil_socket_t fd, short what, void *arg)
{
    struct bench_conn *c = arg;
    struct bench *b = c->b;
    int err = 0;
    socklen_t len = sizeof err;

    if (what & EV_TIMEOUT)
        err = ETIMEDOUT;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        fail_connect(c, err);
        return;
    }
    event_free(c->wev);
    c->wev = event_new(b->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->rev = event_new(b->base, fd, EV_READ | EV_PERSIST, on_read, c);
    if (!c->wev || !c->rev ||
        chat_framer_new(&c->rx, BENCH_MAX_RX_LINE, 0, NULL) != CHAT_OK ||
        event_add(c->rev, NULL) < 0) {
        bench_fatal(b, "out of memory");
        return;
    }
    if (!b->opt.tls)
        bench_conn_up(c);
    else if (bench_tls_start(c) < 0)
        bench_fatal(b, "out of memory");
}

static int start_connect(struct bench_conn *c, const struct addrinfo *ai)
{
    struct bench *b = c->b;
    struct timeval tv = {CONNECT_TIMEOUT_S, 0};
    int one = 1, fd;

    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return errno;
    /* Senders write small lines and want them on the wire now. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (evutil_make_socket_nonblocking(fd) < 0 ||
        evutil_make_socket_closeonexec(fd) < 0 ||
        (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
        int err = errno;
        close(fd);
        return err;
    }
    c->fd = fd;
    c->state = CONN_CONNECTING;
    b->open++;
    c->wev = event_new(b->base, fd, EV_WRITE, on_connect, c);
    if (!c->wev || event_add(c->wev, &tv) < 0)
        return ENOMEM;
    return 0;
}

static unsigned long long fd_limit(void)
{
    struct rlimit rl;

    return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long long)rl.rlim_cur
                                              : 0;
}

static void connect_error(struct bench *b, const struct bench_conn *c,
                          int err)
{
    if (err == EMFILE || err == ENFILE)
        bench_fatal(b, "out of file descriptors after %u connections "
                    "(limit %llu; see ulimit -n)", b->open, fd_limit());
    else if (err == EADDRNOTAVAIL)
        bench_fatal(b, "out of local ports after %u connections", b->open);
    else if (b->probing)
        bench_fatal(b, "cannot connect to %s port %s: %s", b->opt.host,
                    b->opt.port, strerror(err));
    else
        bench_fatal(b, "connection %u: cannot connect to %s port %s: %s",
                    c->id + 1, b->opt.host, b->opt.port, strerror(err));
}

/* A connection could not be made: try the next address, or stop. */
static void fail_connect(struct bench_conn *c, int err)
{
    struct bench *b = c->b;

    bench_conn_close(c);
    while (b->probing && b->ai->ai_next) {
        b->ai = b->ai->ai_next;
        c->state = CONN_NEW;
        c->fd = -1;
        err = start_connect(c, b->ai);
        if (err == 0)
            return;
        bench_conn_close(c);
    }
    connect_error(b, c, err);
}

void bench_connect_more(struct bench *b)
{
    while (!b->fatal && !b->probing && b->started < b->opt.clients &&
           b->inflight < b->opt.concurrency && b->phase == PHASE_SETUP) {
        struct bench_conn *c = &b->conns[b->started++];
        int err;

        if (!b->ai) { /* the first one finds the address */
            b->ai = b->ai_list;
            b->probing = 1;
        }
        b->inflight++;
        err = start_connect(c, b->ai);
        if (err)
            fail_connect(c, err);
    }
}
