/*
 * chat-cli: the connection. Resolving and connecting (every address of the
 * host in turn), reading the server's lines through libchat's framer,
 * claiming the name in either server mode, reconnecting with backoff, and
 * the scripted ending: half-close, then drain.
 *
 * Claiming a name without knowing the server's mode: we send "/name N" at
 * once. A default-mode server greets first ("Server commands"), then
 * renames us. A login-mode server greets no one and answers "/name N", like
 * any line that is not a valid name, with the name error; seeing that error
 * as the very first line is how we know to send the bare name instead. This
 * needs no timing guess and costs the login server one refused line.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "cli.h"
#include "netaddr.h"

#define CONNECT_TIMEOUT_MS 10000 /* an address that never answers */
#define QUIET_MS 1000            /* after half-close: silence that ends the drain */
#define QUIT_WAIT_MS 2000        /* after /quit: how long we wait for the close */
#define HINT_MS 1500             /* no greeting this long: maybe login mode */
#define RX_MAX_LINE 4096         /* server lines are under 500 bytes */
#define OUTPUT_HIGH 65536        /* stop reading piped stdin above this */

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void try_next_address(struct cli *c);

static void arm(struct event *ev, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    event_add(ev, &tv);
}

static void fail_nomem(struct cli *c)
{
    cli_notice(c, "out of memory");
    cli_exit(c, 1);
}

/* Queue line + "\n" on buf; out of memory ends the client. */
static void put_line(struct cli *c, struct evbuffer *buf, const char *prefix,
                     const char *line, size_t len)
{
    if (evbuffer_add(buf, prefix, strlen(prefix)) < 0 ||
        evbuffer_add(buf, line, len) < 0 || evbuffer_add(buf, "\n", 1) < 0)
        fail_nomem(c);
}

static struct evbuffer *out_buf(const struct cli *c)
{
    return bufferevent_get_output(c->bev);
}

int cli_conn_output_full(const struct cli *c)
{
    return c->bev && evbuffer_get_length(out_buf(c)) >= OUTPUT_HIGH;
}

/* ---- the scripted ending ---------------------------------------------- */

/*
 * Piped input is over and all of it is on the wire: half-close, so the
 * server sees EOF, answers what it still has to, and closes; we keep
 * reading until it does or goes quiet. Over TLS the half-close is
 * close_notify (the socket itself stays open for the server's answer).
 */
static void maybe_half_close(struct cli *c)
{
    if (!c->stdin_eof || c->half_closed || c->interactive ||
        c->state != CLI_READY || evbuffer_get_length(c->held) > 0 ||
        evbuffer_get_length(out_buf(c)) > 0)
        return;
    if (c->opt.tls ? cli_tls_close_notify(c) < 0
                   : shutdown(bufferevent_getfd(c->bev), SHUT_WR) < 0) {
        cli_notice(c, "shutdown: %s", c->opt.tls ? "TLS close failed"
                                                 : strerror(errno));
        cli_exit(c, 1);
        return;
    }
    c->half_closed = 1;
    arm(c->quiet_ev, QUIET_MS);
}

void cli_conn_input_done(struct cli *c)
{
    c->stdin_eof = 1;
    if (c->bev)
        maybe_half_close(c);
    else if (!c->retry_ev || !event_pending(c->retry_ev, EV_TIMEOUT, NULL))
        cli_exit(c, 0);
}

/* ---- sending ----------------------------------------------------------- */

/* The session can take user lines: restore the room, then flush held lines. */
static void become_ready(struct cli *c)
{
    c->state = CLI_READY;
    if (c->want_room[0]) {
        put_line(c, out_buf(c), "/join ", c->want_room, strlen(c->want_room));
        c->want_room[0] = '\0';
    }
    if (evbuffer_add_buffer(out_buf(c), c->held) < 0)
        fail_nomem(c);
    cli_input_update(c);
    maybe_half_close(c);
}

/* /quit is on its way: take no more input, wait for the server to close. */
static void start_quit(struct cli *c)
{
    c->quitting = 1;
    arm(c->quit_ev, QUIT_WAIT_MS);
    cli_input_stop(c);
}

void cli_conn_send_user(struct cli *c, const char *line, size_t len)
{
    if (c->exiting || c->quitting)
        return;
    if (c->state == CLI_DOWN) {
        cli_notice(c, "not connected: line not sent");
        return;
    }
    put_line(c, c->state == CLI_READY ? out_buf(c) : c->held, "", line, len);
    if (cli_is_quit(line, len))
        start_quit(c);
}

/* Ctrl-D, Ctrl-C or a signal: say /quit if there is a session, else go. */
void cli_conn_leave(struct cli *c)
{
    cli_input_stop(c);
    if (c->quitting || c->state != CLI_READY) {
        cli_exit(c, 0);
        return;
    }
    cli_conn_send_user(c, "/quit", 5);
}

/* ---- connecting -------------------------------------------------------- */

static void drop_bev(struct cli *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    c->bev = NULL;
    c->state = CLI_DOWN;
    event_del(c->hint_ev);
}

static int can_retry(const struct cli *c)
{
    return c->opt.reconnect && c->connections > 0 && !c->quitting &&
           !c->exiting;
}

static void schedule_retry(struct cli *c, const char *why)
{
    uint32_t rnd = 0, ms;

    evutil_secure_rng_get_bytes(&rnd, sizeof rnd);
    ms = cli_backoff_ms(c->attempt++, rnd);
    cli_notice(c, "%s; reconnecting in %.1f s", why, ms / 1000.0);
    arm(c->retry_ev, ms);
}

/* msg is the whole sentence: the caller knows whether it was DNS or TCP. */
static void connect_failed(struct cli *c, const char *msg)
{
    drop_bev(c);
    if (can_retry(c)) {
        schedule_retry(c, msg);
        return;
    }
    cli_notice(c, "%s", msg);
    cli_exit(c, 1);
}

static int resolve(struct cli *c)
{
    char msg[512];
    int rc;

    if (c->ai_list)
        freeaddrinfo(c->ai_list);
    c->ai_list = c->ai_next = NULL;
    rc = chatp_resolve(c->opt.host, c->opt.port, 0, &c->ai_list);
    if (rc == 0) {
        c->ai_next = c->ai_list;
        return 0;
    }
    snprintf(msg, sizeof msg, "cannot resolve host %s: %s", c->opt.host,
             chatp_resolve_strerror(rc));
    connect_failed(c, msg);
    return -1;
}

/*
 * connect() ourselves rather than in bufferevent_socket_connect, so that a
 * refusal reported at once keeps its errno for the message.
 */
static int start_connect(struct cli *c, const struct addrinfo *ai)
{
    struct timeval tv = {CONNECT_TIMEOUT_MS / 1000, 0};
    evutil_socket_t fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

    if (fd < 0 || evutil_make_socket_nonblocking(fd) < 0 ||
        evutil_make_socket_closeonexec(fd) < 0 ||
        (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
        c->last_err = errno;
        if (fd >= 0)
            close(fd);
        return -1;
    }
    c->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        c->last_err = ENOMEM;
        close(fd);
        return -1;
    }
    c->state = CLI_CONNECTING;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_set_timeouts(c->bev, NULL, &tv);
    /* NULL address: the socket is already connecting; report when done. */
    if (bufferevent_socket_connect(c->bev, NULL, 0) < 0) {
        c->last_err = errno;
        drop_bev(c);
        return -1;
    }
    return 0;
}

static void try_next_address(struct cli *c)
{
    char msg[512];

    while (c->ai_next) {
        const struct addrinfo *ai = c->ai_next;

        c->ai_next = ai->ai_next;
        if (start_connect(c, ai) == 0)
            return;
    }
    snprintf(msg, sizeof msg, "cannot connect to %s port %s: %s", c->opt.host,
             c->opt.port, strerror(c->last_err ? c->last_err : ECONNREFUSED));
    connect_failed(c, msg);
}

int cli_conn_start(struct cli *c)
{
    c->last_err = 0;
    if (resolve(c) < 0)
        return -1;
    try_next_address(c);
    return 0;
}

/* TCP is up: over TLS, the handshake comes first. */
static void start_tls(struct cli *c)
{
    struct timeval tv = {CONNECT_TIMEOUT_MS / 1000, 0};

    if (cli_tls_start(c, &tv) < 0) {
        fail_nomem(c);
        return;
    }
    c->state = CLI_HANDSHAKE;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
}

static void tls_failed(struct cli *c, short what)
{
    char msg[512];

    if (what & BEV_EVENT_TIMEOUT)
        snprintf(msg, sizeof msg, "TLS handshake with %s port %s failed: "
                 "timed out", c->opt.host, c->opt.port);
    else
        cli_tls_failure(c, msg, sizeof msg);
    connect_failed(c, msg);
}

static void on_connected(struct cli *c)
{
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    chat_framer_free(c->rx);
    c->rx = NULL;
    if (chat_framer_new(&c->rx, RX_MAX_LINE, 0, NULL) < 0) {
        fail_nomem(c);
        return;
    }
    cli_input_prompt(c); /* no longer "(offline)" */
    if (c->connections > 0)
        cli_notice(c, "reconnected to %s port %s", c->opt.host, c->opt.port);
    else if (cli_input_start(c) < 0)
        return;
    c->connections++;
    c->got_line = 0;
    c->in_help = 0;
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (c->want_name[0]) {
        put_line(c, out_buf(c), "/name ", c->want_name, strlen(c->want_name));
        c->state = CLI_PROBING;
        return;
    }
    if (c->interactive)
        arm(c->hint_ev, HINT_MS);
    become_ready(c);
}

/* ---- the server's lines ------------------------------------------------ */

static void show_and_track(struct cli *c, const char *line, size_t len)
{
    unsigned t = cli_track(&c->sess, line, len);

    if (t & CLI_TRACK_HELLO)
        c->attempt = 0; /* a session began: the next loss starts over */
    if (t & (CLI_TRACK_NAME | CLI_TRACK_ROOM))
        cli_input_prompt(c);
    cli_show_server_line(c, line, len);
}

/* First reply to our "/name N": see the comment at the top. */
static int probe_reply(struct cli *c, const char *line, size_t len)
{
    if (cli_line_is(line, len, CLI_LINE_BAD_NAME)) {
        put_line(c, out_buf(c), "", c->want_name, strlen(c->want_name));
        c->state = CLI_LOGIN;
        return 1; /* the error answered our probe, not the user: hide it */
    }
    become_ready(c);
    return 0;
}

static int refuses_name(const char *line, size_t len)
{
    static const char taken[] = " is already taken";
    size_t t = strlen(taken);

    return cli_line_is(line, len, CLI_LINE_BAD_NAME) ||
           (len > t && memcmp(line + len - t, taken, t) == 0);
}

/* Login mode, name sent: the greeting means it was accepted. */
static void login_reply(struct cli *c, const char *line, size_t len)
{
    if (cli_line_is(line, len, CLI_LINE_GREETING)) {
        become_ready(c);
        return;
    }
    if (!refuses_name(line, len))
        return;
    if (!c->interactive) {
        /* Every later input line would be taken as a name: stop here. */
        cli_notice(c, "the server refused the name %s", c->want_name);
        cli_exit(c, 1);
        return;
    }
    c->want_name[0] = '\0';
    become_ready(c);
    cli_notice(c, "the server wants a name first: type one");
}

/*
 * At the prompt, a reconnect does not repeat the help text the user has
 * seen: the greeting line and the "/..." lines after it are skipped.
 */
static int skip_help(struct cli *c, const char *line, size_t len)
{
    if (!c->interactive || c->connections < 2)
        return 0;
    if (!c->got_line && cli_line_is(line, len, CLI_LINE_GREETING)) {
        c->in_help = 1;
        return 1;
    }
    if (c->in_help && len > 0 && line[0] == '/')
        return 1;
    c->in_help = 0;
    return 0;
}

static void handle_line(struct cli *c, const char *line, size_t len)
{
    int skip = skip_help(c, line, len);

    c->got_line = 1;
    event_del(c->hint_ev);
    if (c->state == CLI_PROBING && probe_reply(c, line, len))
        return;
    if (!skip)
        show_and_track(c, line, len);
    if (c->state == CLI_LOGIN)
        login_reply(c, line, len);
}

static int on_server_frame(void *arg, chat_frame_event ev, const char *line,
                           size_t len)
{
    struct cli *c = arg;

    if (ev == CHAT_FRAME_LINE)
        handle_line(c, line, len);
    else if (ev == CHAT_FRAME_TOO_LONG)
        cli_notice(c, "skipped a line from the server over %d bytes",
                   RX_MAX_LINE);
    else if (ev == CHAT_FRAME_NOMEM)
        cli_notice(c, "out of memory: lost a line from the server");
    return c->exiting; /* stop feeding once we are leaving */
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct cli *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char buf[4096];
    int n;

    while (!c->exiting && (n = evbuffer_remove(in, buf, sizeof buf)) > 0)
        chat_framer_feed(c->rx, buf, (size_t)n, on_server_frame, c);
    if (fflush(stdout) != 0 || ferror(stdout))
        cli_exit(c, 1); /* stdout is gone (a closed pipe): nothing to say */
    if (c->half_closed && !c->exiting)
        arm(c->quiet_ev, QUIET_MS);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct cli *c = arg;

    (void)bev;
    maybe_half_close(c);
    cli_input_update(c);
}

/* ---- losing the connection --------------------------------------------- */

static void lost(struct cli *c, const char *why)
{
    if (c->rx)
        chat_framer_finish(c->rx, on_server_frame, c);
    fflush(stdout);
    drop_bev(c);
    evbuffer_drain(c->held, evbuffer_get_length(c->held));
    if (c->quitting || c->half_closed) {
        cli_exit(c, 0);
        return;
    }
    /* What to restore on the next connection. */
    if (c->sess.name[0])
        memcpy(c->want_name, c->sess.name, sizeof c->want_name);
    if (c->sess.room[0])
        memcpy(c->want_room, c->sess.room, sizeof c->want_room);
    cli_input_update(c);
    cli_input_prompt(c);
    if (can_retry(c)) {
        char msg[256];

        snprintf(msg, sizeof msg, "connection lost: %s", why);
        schedule_retry(c, msg);
        return;
    }
    cli_notice(c, "connection lost: %s", why);
    cli_exit(c, 1);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct cli *c = arg;
    int err = EVUTIL_SOCKET_ERROR();

    (void)bev;
    if (c->state == CLI_HANDSHAKE) {
        if (what & BEV_EVENT_CONNECTED)
            on_connected(c);
        else
            tls_failed(c, what);
        return;
    }
    if (c->state == CLI_CONNECTING) {
        if (what & BEV_EVENT_CONNECTED) {
            if (c->opt.tls)
                start_tls(c);
            else
                on_connected(c);
            return;
        }
        c->last_err = (what & BEV_EVENT_TIMEOUT) ? ETIMEDOUT : err;
        drop_bev(c);
        try_next_address(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        if (c->opt.tls)
            cli_tls_keep_session(c); /* a clean end: worth resuming */
        lost(c, "the server closed the connection");
    } else if (what & BEV_EVENT_ERROR) {
        const char *why = c->opt.tls ? cli_tls_error(c) : NULL;
        lost(c, why ? why : evutil_socket_error_to_string(err));
    }
}

/* ---- timers and lifetime ----------------------------------------------- */

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cli_conn_start(arg);
}

static void on_quiet(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cli_exit(arg, 0); /* half-closed and the server went quiet: done */
}

static void on_hint(evutil_socket_t fd, short what, void *arg)
{
    struct cli *c = arg;

    (void)fd;
    (void)what;
    if (!c->got_line && c->state == CLI_READY)
        cli_notice(c, "no greeting from the server yet; if it wants a name "
                      "first (login mode), type your name");
}

int cli_conn_init(struct cli *c)
{
    c->held = evbuffer_new();
    c->retry_ev = evtimer_new(c->base, on_retry, c);
    c->quiet_ev = evtimer_new(c->base, on_quiet, c);
    c->quit_ev = evtimer_new(c->base, on_quiet, c);
    c->hint_ev = evtimer_new(c->base, on_hint, c);
    if (!c->held || !c->retry_ev || !c->quiet_ev || !c->quit_ev || !c->hint_ev)
        return -1;
    if (cli_tls_init(c) < 0)
        return -2; /* said why */
    if (c->opt.name)
        snprintf(c->want_name, sizeof c->want_name, "%s", c->opt.name);
    return 0;
}

void cli_conn_free(struct cli *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    chat_framer_free(c->rx);
    if (c->ai_list)
        freeaddrinfo(c->ai_list);
    if (c->held)
        evbuffer_free(c->held);
    if (c->retry_ev)
        event_free(c->retry_ev);
    if (c->quiet_ev)
        event_free(c->quiet_ev);
    if (c->quit_ev)
        event_free(c->quit_ev);
    if (c->hint_ev)
        event_free(c->hint_ev);
    cli_tls_free(c);
}
