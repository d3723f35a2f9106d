/*
 * chatd - the --filter-exec program as a process. See filter_child.h.
 *
 * An instance is "up" while chatd holds both pipes. It goes down when it
 * closes either (EOF on its output, EPIPE on its input), fails a read, or
 * exits (SIGCHLD). chatd then closes its ends, tells filter.c (down), and
 * waits for the process to be reaped, killing it if it lingers. The one
 * log line per incident is written when the process is reaped, since only
 * then is its exit status known; the restart is armed at the same time,
 * so there is never more than one instance.
 */
#define _GNU_SOURCE /* environ, pipe2 */

#include "filter_child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "filterproto.h"
#include "log.h"
#include "server.h"

/* Bytes read from the program per loop pass: a flood cannot hold the
 * loop, it is just read a piece per pass. */
#define READ_CHUNK 16384

struct chatd_child {
    struct event_base *base;
    struct chatd_child_config cfg;
    pid_t pid;             /* running or not reaped yet; 0: none */
    int up;                /* the pipes are open: lines go out */
    int killed;            /* chatd sent it SIGKILL */
    const char *why;       /* why it went down before it exited */
    int to_fd, from_fd;    /* its stdin and stdout, our ends */
    struct event *read_ev, *write_ev; /* on the pipes, while up */
    struct event *kick_ev; /* writes what send() queued, after the caller */
    struct event *chld_ev; /* SIGCHLD */
    struct event *kill_ev; /* it lost its pipes but did not exit */
    struct event *restart_ev;
    uint64_t started_ms;
    uint64_t backoff_ms;   /* the next restart's delay */
    size_t out_len;
    size_t in_len;
    int discarding;        /* inside a line that was too long */
    char out[CHATD_CHILD_OUTBUF];
    char in[CHATP_FILTER_LINE_MAX];
};

static struct timeval tv_ms(uint64_t ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    return tv;
}

/* ---- starting ------------------------------------------------------------ */

/* fd moved above 0-2 (a chatd started with stdio closed would otherwise
 * hand the program a pipe on the wrong descriptor), close-on-exec. */
static int above_stdio(int fd)
{
    int moved;

    if (fd > 2)
        return fd;
    moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

static int make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    fds[0] = above_stdio(fds[0]);
    fds[1] = above_stdio(fds[1]);
    if (fds[0] >= 0 && fds[1] >= 0)
        return 0;
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return -1;
}

/*
 * /bin/sh -c cmd with stdin from in, stdout to out, in a new process
 * group, SIGPIPE back to its default (chatd ignores it, and an ignored
 * signal stays ignored across exec). Returns 0 with *pid set, or an
 * errno value.
 */
static int spawn_sh(const char *cmd, int in, int out, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t def, none;
    int err;

    if ((err = posix_spawn_file_actions_init(&fa)) != 0)
        return err;
    if ((err = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return err;
    }
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigemptyset(&none);
    err = posix_spawn_file_actions_adddup2(&fa, in, 0);
    if (!err)
        err = posix_spawn_file_actions_adddup2(&fa, out, 1);
    if (!err)
        err = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
                                                 POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETPGROUP);
    if (!err)
        err = posix_spawnattr_setsigdefault(&at, &def);
    if (!err)
        err = posix_spawnattr_setsigmask(&at, &none);
    if (!err)
        err = posix_spawnattr_setpgroup(&at, 0);
    if (!err) {
        char *argv[] = {"sh", "-c", (char *)cmd, NULL};
        err = posix_spawn(pid, "/bin/sh", &fa, &at, argv, environ);
    }
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return err;
}

static void take_bytes(struct chatd_child *c, const char *p, size_t n);
static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_writable(evutil_socket_t fd, short what, void *arg);

/* Watch our ends of the pipes: non-blocking, one persistent read event,
 * a write event armed only while the pipe is full. */
static int watch_pipes(struct chatd_child *c)
{
    if (fcntl(c->to_fd, F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(c->from_fd, F_SETFL, O_NONBLOCK) != 0)
        return -1;
    c->read_ev = event_new(c->base, c->from_fd, EV_READ | EV_PERSIST,
                           on_read, c);
    c->write_ev = event_new(c->base, c->to_fd, EV_WRITE, on_writable, c);
    if (!c->read_ev || !c->write_ev)
        return -1;
    return event_add(c->read_ev, NULL);
}

static void close_pipes(struct chatd_child *c)
{
    if (c->read_ev)
        event_free(c->read_ev);
    if (c->write_ev)
        event_free(c->write_ev);
    c->read_ev = c->write_ev = NULL;
    if (c->to_fd >= 0)
        close(c->to_fd);
    if (c->from_fd >= 0)
        close(c->from_fd);
    c->to_fd = c->from_fd = -1;
    c->out_len = c->in_len = 0;
    c->discarding = 0;
}

/* Kill what is left of the process group; the leader may be gone. */
static void kill_group(pid_t pid, int sig)
{
    if (kill(-pid, sig) != 0 && errno != ESRCH)
        log_debug("filter: kill(-%d, %d): %s", (int)pid, sig, strerror(errno));
}

/* Start an instance. Returns 0, or -1 after logging why. */
static int start(struct chatd_child *c)
{
    int in[2], out[2], err;

    if (make_pipe(in) != 0)
        goto fail;
    if (make_pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        goto fail;
    }
    err = spawn_sh(c->cfg.cmd, in[0], out[1], &c->pid);
    close(in[0]);
    close(out[1]);
    c->to_fd = in[1];
    c->from_fd = out[0];
    if (err != 0) {
        c->pid = 0;
        close_pipes(c);
        errno = err;
        goto fail;
    }
    c->started_ms = chatd_now_ms();
    c->killed = 0;
    c->why = NULL;
    if (watch_pipes(c) != 0) {
        /* Reaping it (SIGCHLD) arms the next try. */
        log_error("filter: cannot watch the program's pipes: stopping it");
        close_pipes(c);
        kill_group(c->pid, SIGKILL);
        c->killed = 1;
        return -1;
    }
    c->up = 1;
    log_info("filter: started '%s' (pid %d)", c->cfg.cmd, (int)c->pid);
    return 0;
fail:
    log_error("filter: cannot start '%s': %s", c->cfg.cmd, strerror(errno));
    return -1;
}

/* ---- going down, reaping, restarting ------------------------------------- */

/* The instance can no longer be used: why is what it did (NULL: it
 * exited). Its process is reaped later (SIGCHLD), killed if it stays. */
static void go_down(struct chatd_child *c, const char *why)
{
    struct timeval tv = tv_ms(CHATD_CHILD_KILL_MS);

    if (!c->up)
        return;
    c->up = 0;
    c->why = why;
    close_pipes(c);
    if (c->pid > 0 && evtimer_add(c->kill_ev, &tv) != 0) {
        kill_group(c->pid, SIGKILL);
        c->killed = 1;
    }
    c->cfg.down(c->cfg.ctx);
}

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_child *c = arg;

    (void)fd;
    (void)what;
    if (c->pid > 0) {
        kill_group(c->pid, SIGKILL);
        c->killed = 1;
    }
}

/* The next restart's delay; the one after doubles. */
static uint64_t next_delay(struct chatd_child *c)
{
    uint64_t delay;

    if (chatd_now_ms() - c->started_ms >= CHATD_CHILD_STABLE_MS)
        c->backoff_ms = CHATD_CHILD_RESTART_FIRST_MS;
    delay = c->backoff_ms;
    c->backoff_ms *= 2;
    if (c->backoff_ms > CHATD_CHILD_RESTART_MAX_MS)
        c->backoff_ms = CHATD_CHILD_RESTART_MAX_MS;
    return delay;
}

static void restart_later(struct chatd_child *c, uint64_t delay)
{
    struct timeval tv = tv_ms(delay);

    if (evtimer_add(c->restart_ev, &tv) != 0)
        log_error("filter: cannot arm the restart timer: the program stays "
                  "down; %s", c->cfg.while_down);
}

/* How the process ended, for the incident's log line. */
static void describe_end(const struct chatd_child *c, int status, char *buf,
                         size_t size)
{
    int n;

    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        n = snprintf(buf, size, "exited with status %d%s", code,
                     code == 127   ? " (command not found?)"
                     : code == 126 ? " (not executable?)"
                                   : "");
    } else if (WIFSIGNALED(status)) {
        n = snprintf(buf, size, "was killed by signal %d (%s)%s",
                     WTERMSIG(status), strsignal(WTERMSIG(status)),
                     c->killed ? " from chatd" : "");
    } else {
        n = snprintf(buf, size, "ended (status 0x%x)", (unsigned)status);
    }
    /* Why chatd had to kill it; one that exited needs no excuse. */
    if (c->killed && c->why && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " after it %s", c->why);
}

/* Read what is left in the pipe of a program that exited: answers it
 * wrote before it went count. Bounded: what the pipe holds, or a few
 * reads if something it left behind keeps writing. */
static void drain(struct chatd_child *c)
{
    char buf[READ_CHUNK];
    ssize_t n;

    for (int i = 0; i < 8 && (n = read(c->from_fd, buf, sizeof buf)) > 0; i++)
        take_bytes(c, buf, (size_t)n);
}

static void reaped(struct chatd_child *c, pid_t pid, int status)
{
    char how[160];
    uint64_t delay;

    c->pid = 0;
    event_del(c->kill_ev);
    if (c->up) {
        drain(c);
        go_down(c, NULL);
    }
    /* Helpers it left behind in its group are of no use now. */
    kill_group(pid, SIGTERM);
    delay = next_delay(c);
    describe_end(c, status, how, sizeof how);
    log_warn("filter: program (pid %d) %s; %s until it restarts in %.1f s",
             (int)pid, how, c->cfg.while_down, (double)delay / 1000.0);
    restart_later(c, delay);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    struct chatd_child *c = arg;
    int status;
    pid_t pid = c->pid;

    (void)sig;
    (void)what;
    if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid)
        reaped(c, pid, status);
}

static void on_restart(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_child *c = arg;

    (void)fd;
    (void)what;
    if (start(c) == 0 || c->pid > 0)
        return; /* up, or being reaped: reaping re-arms */
    restart_later(c, next_delay(c));
}

/* ---- lines in ------------------------------------------------------------ */

/* Take the bytes of one read: complete lines go to the caller, a line
 * that outgrows the buffer is reported once and skipped to its end. */
static void take_bytes(struct chatd_child *c, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;
        if (!c->discarding && seg > sizeof c->in - c->in_len) {
            c->discarding = 1;
            c->in_len = 0;
            c->cfg.line(c->cfg.ctx, NULL, 0);
        }
        if (!c->discarding) {
            memcpy(c->in + c->in_len, p, seg);
            c->in_len += seg;
        }
        if (!nl)
            return;
        if (!c->discarding)
            c->cfg.line(c->cfg.ctx, c->in, c->in_len);
        c->in_len = 0;
        c->discarding = 0;
        p = nl + 1;
        n -= seg + 1;
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_child *c = arg;
    char buf[READ_CHUNK];
    ssize_t n;

    (void)what;
    n = read(fd, buf, sizeof buf);
    if (n > 0)
        take_bytes(c, buf, (size_t)n);
    else if (n == 0)
        go_down(c, "closed its output");
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        go_down(c, "failed a read of its output");
}

/* ---- lines out ----------------------------------------------------------- */

/* Write what is queued; when the pipe is full, wait until it has room. */
static void flush_out(struct chatd_child *c)
{
    while (c->up && c->out_len > 0) {
        ssize_t n = write(c->to_fd, c->out, c->out_len);
        if (n > 0) {
            c->out_len -= (size_t)n;
            memmove(c->out, c->out + n, c->out_len);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (event_add(c->write_ev, NULL) != 0)
                go_down(c, "could not be waited for (event_add)");
            return;
        } else {
            go_down(c, "closed its input");
        }
    }
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush_out(arg);
}

enum chatd_child_sent chatd_child_send(struct chatd_child *c,
                                       const char *data, size_t len)
{
    if (!c->up)
        return CHATD_CHILD_DOWN;
    if (len > sizeof c->out - c->out_len)
        return CHATD_CHILD_FULL;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    /* Written after the caller returns, once per loop pass however many
     * lines were queued in it; a no-op while already active. */
    event_active(c->kick_ev, EV_TIMEOUT, 0);
    return CHATD_CHILD_SENT;
}

/* ---- lifetime ------------------------------------------------------------ */

int chatd_child_new(struct chatd_child **out, struct event_base *base,
                    const struct chatd_child_config *cfg)
{
    struct chatd_child *c = calloc(1, sizeof *c);

    if (!c) {
        log_error("filter: out of memory");
        return -1;
    }
    c->base = base;
    c->cfg = *cfg;
    c->to_fd = c->from_fd = -1;
    c->backoff_ms = CHATD_CHILD_RESTART_FIRST_MS;
    c->kick_ev = event_new(base, -1, 0, on_writable, c);
    c->chld_ev = evsignal_new(base, SIGCHLD, on_sigchld, c);
    c->kill_ev = evtimer_new(base, on_kill, c);
    c->restart_ev = evtimer_new(base, on_restart, c);
    if (!c->kick_ev || !c->chld_ev || !c->kill_ev || !c->restart_ev ||
        event_add(c->chld_ev, NULL) != 0) {
        log_error("filter: cannot set up its events");
        chatd_child_free(c);
        return -1;
    }
    if (start(c) != 0) {
        chatd_child_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

/* Wait up to ms for pid to exit. Returns 1 once it is reaped. */
static int wait_exit(pid_t pid, int ms)
{
    struct timespec tick = {0, 10000000L}; /* 10 ms */

    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        if (waited >= ms)
            return 0;
        nanosleep(&tick, NULL);
    }
}

/* End of input first: a filter is asked to exit by EOF, then told. */
static void stop_process(pid_t pid)
{
    if (wait_exit(pid, CHATD_CHILD_KILL_MS))
        return;
    kill_group(pid, SIGTERM);
    if (wait_exit(pid, CHATD_CHILD_KILL_MS))
        return;
    log_warn("filter: program (pid %d) ignored end of input and SIGTERM: "
             "killing it", (int)pid);
    kill_group(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static void free_event(struct event *ev)
{
    if (ev)
        event_free(ev);
}

void chatd_child_free(struct chatd_child *c)
{
    if (!c)
        return;
    c->up = 0;
    close_pipes(c);
    if (c->pid > 0) {
        stop_process(c->pid);
        log_debug("filter: program (pid %d) stopped", (int)c->pid);
    }
    free_event(c->kick_ev);
    free_event(c->chld_ev);
    free_event(c->kill_ev);
    free_event(c->restart_ev);
    free(c);
}
