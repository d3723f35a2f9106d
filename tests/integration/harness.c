/* Test harness: a real chatd over loopback. See harness.h. */
#define _GNU_SOURCE /* prctl, MSG_NOSIGNAL */

#include "harness.h"

#include <arpa/inet.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_ARGS 64

/* The chatd processes alive now, for harness_dump_logs(). */
#define MAX_PROCS 8
static chatd_proc *live[MAX_PROCS];

long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int harness_wrapped(void)
{
    const char *w = getenv("CHATD_WRAPPER");

    return w && *w;
}

int harness_slowdown(void)
{
    const char *s = getenv("CHATD_SLOWDOWN");
    int n = s ? atoi(s) : 0;

    if (n > 0)
        return n;
    return harness_wrapped() ? 4 : 1;
}

static const char *chatd_path(void)
{
    const char *p = getenv("CHATD");

    return p && *p ? p : "chatd";
}

static void track(chatd_proc *d, int on)
{
    for (int i = 0; i < MAX_PROCS; i++) {
        if (on && !live[i]) {
            live[i] = d;
            return;
        }
        if (!on && live[i] == d)
            live[i] = NULL;
    }
}

/* Read a whole (small) file into buf, NUL-terminated. */
static size_t read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    size_t n = 0;

    if (fd >= 0) {
        ssize_t r;
        while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0)
            n += (size_t)r;
        close(fd);
    }
    buf[n] = '\0';
    return n;
}

void chatd_print_log(const chatd_proc *d)
{
    static char buf[1 << 16];

    read_file(d->log_path, buf, sizeof buf);
    fprintf(stderr, "---- chatd log ----\n%s---- end ----\n", buf);
}

void harness_dump_logs(void)
{
    for (int i = 0; i < MAX_PROCS; i++)
        if (live[i])
            chatd_print_log(live[i]);
}

/* In the child: stdio, a clean signal state, no inherited sockets. */
static void child_setup(pid_t parent, int out_fd, int err_fd, long nofile)
{
    sigset_t none;
    int devnull = open("/dev/null", O_RDONLY);

#ifdef __linux__
    /* If the test dies (failed assertion, timeout), chatd dies with it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
#else
    (void)parent;
#endif
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    /* Client sockets of the test must not live on in chatd. */
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    if (nofile > 0) {
        struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/*
 * Append the words of $CHATD_WRAPPER to argv (split on spaces). Returns
 * the new count. The words point into a static copy of the variable.
 */
static int add_wrapper(const char **argv, int n)
{
    static char words[1024];
    const char *w = getenv("CHATD_WRAPPER");
    char *save = NULL;

    if (!w || !*w)
        return n;
    snprintf(words, sizeof words, "%s", w);
    for (char *t = strtok_r(words, " ", &save); t && n < MAX_ARGS / 2;
         t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    return n;
}

static pid_t spawn(const char *const *args, int with_port, int out_fd,
                   int err_fd, long nofile)
{
    const char *argv[MAX_ARGS];
    /* Under a descriptor limit, valgrind keeps descriptors of its own
     * above the limit it shows chatd, and silently closes any socket the
     * kernel hands out there: clients past the limit would see a bare
     * close, not what chatd does. So that test runs chatd unwrapped. */
    int n = nofile > 0 ? 0 : add_wrapper(argv, 0);
    pid_t parent = getpid(), pid;

    argv[n++] = chatd_path();
    if (with_port) {
        argv[n++] = "-p";
        argv[n++] = "0";
    }
    for (; args && *args && n < MAX_ARGS - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    pid = fork();
    if (pid != 0)
        return pid;
    child_setup(parent, out_fd, err_fd, nofile);
    /* A wrapper is looked up in $PATH; $CHATD is a path already. */
    execvp(argv[0], (char *const *)argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int make_temp(char *path, size_t size)
{
    const char *dir = getenv("TMPDIR");

    snprintf(path, size, "%s/chatd-test-XXXXXX", dir && *dir ? dir : "/tmp");
    return mkstemp(path);
}

/* "... listening on 127.0.0.1:4242" -> 4242, or -1. */
static int find_port(const char *log)
{
    const char *p = strstr(log, "listening on ");
    const char *end, *colon = NULL;

    if (!p || !(end = strchr(p, '\n')))
        return -1;
    for (const char *q = p; q < end; q++)
        if (*q == ':')
            colon = q;
    return colon ? atoi(colon + 1) : -1;
}

static int reap(chatd_proc *d, int flags)
{
    if (d->pid <= 0)
        return 1;
    if (waitpid(d->pid, &d->status, flags) == d->pid) {
        d->pid = 0;
        track(d, 0);
        return 1;
    }
    return 0;
}

/* Start chatd (with -p 0 first if with_port) and wait for its first
 * "listening on" line. */
static int start_proc(chatd_proc *d, const char *const *args, long nofile,
                      int with_port)
{
    static char log[1 << 16];
    long long deadline = now_ms() + DEFAULT_WAIT_MS;
    int fd;

    memset(d, 0, sizeof *d);
    d->port = -1;
    fd = make_temp(d->log_path, sizeof d->log_path);
    if (fd < 0)
        return -1;
    d->pid = spawn(args, with_port, fd, fd, nofile);
    close(fd);
    if (d->pid < 0)
        return -1;
    track(d, 1);
    while (now_ms() < deadline) {
        read_file(d->log_path, log, sizeof log);
        d->port = find_port(log);
        if (d->port > 0)
            return 0;
        if (reap(d, WNOHANG))
            return -1;
        sleep_ms(10);
    }
    return -1;
}

int chatd_start_nofile(chatd_proc *d, const char *const *args, long nofile)
{
    return start_proc(d, args, nofile, 1);
}

int chatd_start(chatd_proc *d, const char *const *args)
{
    return start_proc(d, args, 0, 1);
}

int chatd_start_listen(chatd_proc *d, const char *const *args)
{
    return start_proc(d, args, 0, 0);
}

/* Wait up to timeout_ms, unscaled. Returns 0 if chatd exited. */
static int wait_exit(chatd_proc *d, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    while (!reap(d, WNOHANG)) {
        if (now_ms() >= deadline)
            return -1;
        sleep_ms(10);
    }
    return 0;
}

int chatd_wait(chatd_proc *d, int timeout_ms)
{
    return wait_exit(d, timeout_ms * harness_slowdown());
}

void chatd_signal(chatd_proc *d, int sig)
{
    if (d->pid > 0)
        kill(d->pid, sig);
}

void chatd_stop(chatd_proc *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        reap(d, 0);
    }
    if (d->log_path[0]) {
        unlink(d->log_path);
        d->log_path[0] = '\0';
    }
}

int chatd_log_contains(const chatd_proc *d, const char *needle)
{
    static char log[1 << 16];

    read_file(d->log_path, log, sizeof log);
    return strstr(log, needle) != NULL;
}

char *chatd_log_line(const chatd_proc *d, const char *needle, char *buf,
                     size_t size)
{
    static char log[1 << 16];
    const char *p, *start, *end;
    size_t n;

    read_file(d->log_path, log, sizeof log);
    if (!(p = strstr(log, needle)))
        return NULL;
    for (start = p; start > log && start[-1] != '\n'; start--)
        ;
    end = strchr(p, '\n');
    n = end ? (size_t)(end - start) : strlen(start);
    if (n >= size)
        n = size - 1;
    memcpy(buf, start, n);
    buf[n] = '\0';
    return buf;
}

long chatd_rss_kib(const chatd_proc *d)
{
    char path[64], buf[4096];
    const char *p;

    if (d->pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%ld/status", (long)d->pid);
    read_file(path, buf, sizeof buf);
    p = strstr(buf, "\nVmRSS:");
    return p ? atol(p + 8) : -1;
}

long chatd_cpu_ms(const chatd_proc *d)
{
    char path[64], buf[1024];
    unsigned long utime, stime;
    long tick = sysconf(_SC_CLK_TCK);
    const char *p;

    if (d->pid <= 0 || tick <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)d->pid);
    read_file(path, buf, sizeof buf);
    /* The command name is in parentheses and may hold spaces: fields
     * 14 and 15 (utime, stime) are the 12th and 13th after it. */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%lu %lu", &utime, &stime) != 2)
        return -1;
    return (long)((utime + stime) * 1000 / (unsigned long)tick);
}

int chatd_run(const char *const *args, int timeout_ms, char *out,
              size_t out_size, char *err, size_t err_size)
{
    chatd_proc d;
    char out_path[256];
    int out_fd, err_fd, status = -1;

    memset(&d, 0, sizeof d);
    out_fd = make_temp(out_path, sizeof out_path);
    err_fd = make_temp(d.log_path, sizeof d.log_path);
    if (out_fd >= 0 && err_fd >= 0) {
        d.pid = spawn(args, 0, out_fd, err_fd, 0);
        if (d.pid > 0) {
            track(&d, 1);
            if (wait_exit(&d, timeout_ms) == 0 && WIFEXITED(d.status))
                status = WEXITSTATUS(d.status);
        }
    }
    if (out_fd >= 0) {
        close(out_fd);
        read_file(out_path, out, out_size);
        unlink(out_path);
    }
    if (err_fd >= 0) {
        close(err_fd);
        read_file(d.log_path, err, err_size);
    }
    chatd_stop(&d);
    return status;
}

/* ---- clients --------------------------------------------------------- */

static client *connect_to(int port, int ipv6, int rcvbuf)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    client *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    memset(&ss, 0, sizeof ss);
    if (ipv6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        goto fail;
    /* Each write a segment of its own: byte-at-a-time must mean it. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (connect(c->fd, (struct sockaddr *)&ss, len) != 0)
        goto fail;
    return c;
fail:
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return NULL;
}

int harness_ipv6_works(void)
{
    struct sockaddr_in6 a;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

client *client_connect(int port, int ipv6)
{
    return connect_to(port, ipv6, 0);
}

client *client_connect_small(int port, int rcvbuf)
{
    return connect_to(port, 0, rcvbuf);
}

void client_close(client *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c);
}

void client_reset(client *c)
{
    struct linger lg = {1, 0};

    if (!c)
        return;
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client_close(c);
}

int client_send_bytes(client *c, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int client_send(client *c, const char *s)
{
    return client_send_bytes(c, s, strlen(s));
}

const char *client_try_line(client *c)
{
    char *nl = memchr(c->buf, '\n', c->len);
    size_t n;

    if (!nl)
        return NULL;
    n = (size_t)(nl - c->buf);
    if (n >= sizeof c->line)
        n = sizeof c->line - 1; /* longer lines are cut for comparison */
    memcpy(c->line, c->buf, n);
    c->line[n] = '\0';
    c->len -= (size_t)(nl + 1 - c->buf);
    memmove(c->buf, nl + 1, c->len);
    return c->line;
}

int client_pump(client *c)
{
    ssize_t n;

    if (c->eof || c->len == sizeof c->buf)
        return 0;
    n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
    if (n > 0) {
        c->len += (size_t)n;
        return (int)n;
    }
    if (n == 0) {
        c->eof = 1;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    c->eof = 1; /* a reset ends the stream too */
    return -1;
}

const char *client_line(client *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    const char *line;

    while (!(line = client_try_line(c))) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        long long left = deadline - now_ms();
        if (c->eof || left <= 0)
            return NULL;
        if (poll(&pfd, 1, (int)left) > 0)
            client_pump(c);
    }
    return line;
}

const char *client_next(client *c)
{
    const char *line = client_line(c, DEFAULT_WAIT_MS);

    return line ? line : c->eof ? "<eof>" : "<timeout>";
}

int client_wait_eof(client *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    while (!c->eof) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        long long left = deadline - now_ms();
        if (left <= 0)
            return -1;
        if (poll(&pfd, 1, (int)left) > 0)
            client_pump(c);
        c->len = 0; /* discard */
    }
    return 0;
}

static int greet_fail(client *c, const char *what, const char *got)
{
    char tmp[256];

    snprintf(tmp, sizeof tmp, "%.255s", got); /* got may be c->line */
    snprintf(c->line, sizeof c->line, "greeting: %.200s, got '%s'", what, tmp);
    return -1;
}

int client_greet(client *c, const char *room)
{
    char want[128];
    const char *line = client_next(c);

    if (strcmp(line, "Server commands") != 0)
        return greet_fail(c, "expected 'Server commands'", line);
    while (strncmp(line = client_next(c), "You are ", 8) != 0)
        if (line[0] != '/')
            return greet_fail(c, "expected a help line or 'You are'", line);
    snprintf(c->name, sizeof c->name, "%s", line + 8);
    snprintf(want, sizeof want, "You joined %s", room ? room : "main");
    while (strcmp(line = client_next(c), want) != 0)
        if (!strcmp(line, "<eof>") || !strcmp(line, "<timeout>"))
            return greet_fail(c, want, line);
    return 0;
}

/* ---- one chatd per test (see harness.h) ---- */

chatd_proc srv;

void expect_line(const char *file, int line, client *c, const char *fmt, ...)
{
    char want[1024];
    va_list ap;
    const char *got;

    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    got = client_next(c);
    CHECK(strcmp(got, want) == 0, "%s:%d: expected '%s', got '%s'", file,
          line, want, got);
}

void start(const char *const *args)
{
    CHECK(chatd_start(&srv, args) == 0, "chatd did not start (status %d)",
          srv.status);
}

/*
 * Teardown: a chatd still running must also shut down cleanly on SIGTERM
 * with whatever the test left connected (exit 0; under a sanitizer or
 * valgrind wrapper that also means no leaks).
 */
void stop(void)
{
    int ok = 1;

    if (srv.pid > 0) {
        chatd_signal(&srv, SIGTERM);
        ok = chatd_wait(&srv, 10000) == 0 && WIFEXITED(srv.status) &&
             WEXITSTATUS(srv.status) == 0;
        if (!ok)
            chatd_print_log(&srv);
    }
    chatd_stop(&srv);
    ck_assert_msg(ok, "chatd did not exit 0 on SIGTERM (status %d)",
                  srv.status);
}

client *connect_client(void)
{
    client *c = client_connect(srv.port, 0);

    CHECK(c != NULL, "connect to 127.0.0.1:%d: %s", srv.port, strerror(errno));
    return c;
}

/* Connect and read the greeting up to "You joined main". */
client *join(void)
{
    client *c = connect_client();

    CHECK(client_greet(c, NULL) == 0, "%s", c->line);
    return c;
}

void join_two(client **a, client **b)
{
    *a = join();
    *b = join();
    EXPECT(*a, "%s joined main", (*b)->name);
}

void say_heard(client *c, const char *text, client *other)
{
    send_line(c, "%s", text);
    EXPECT(c, "%s: %s", c->name, text);
    EXPECT(other, "%s: %s", c->name, text);
}

client *join_slow(void)
{
    client *c = client_connect_small(srv.port, 4096);

    CHECK(c != NULL, "connect: %s", strerror(errno));
    CHECK(client_greet(c, NULL) == 0, "%s", c->line);
    return c;
}

void send_line(client *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < sizeof buf - 1, "line too long");
    buf[n++] = '\n';
    CHECK(client_send_bytes(c, buf, (size_t)n) == 0, "send: %s",
          strerror(errno));
}

void skip_to(client *c, const char *want)
{
    const char *line;

    while (strcmp(line = client_next(c), want) != 0)
        CHECK(line[0] != '<', "waiting for '%s': %s", want, line);
}

void expect_eof(client *c)
{
    CHECK(client_wait_eof(c, DEFAULT_WAIT_MS) == 0,
          "expected the server to close the connection");
}

void expect_exit_0(void)
{
    CHECK(chatd_wait(&srv, 10000) == 0, "chatd did not exit");
    CHECK(WIFEXITED(srv.status) && WEXITSTATUS(srv.status) == 0,
          "chatd exit status %d, want 0", srv.status);
}

int fill_until_full(client **c, int tries)
{
    int n = 0, full = 0;

    for (int i = 0; i < tries; i++) {
        client *x = connect_client();
        const char *first = client_next(x);
        if (strcmp(first, "Server is full, try again later") == 0) {
            expect_eof(x);
            client_close(x);
            full++;
            continue;
        }
        CHECK(full == 0, "accepted after being full: '%s'", first);
        CHECK(strcmp(first, "Server commands") == 0, "got '%s'", first);
        c[n++] = x;
    }
    CHECK(n > 0 && full > 0, "%d accepted, %d turned away", n, full);
    return n;
}

void still_chats(client *c)
{
    send_line(c, "/name Keeper");
    for (const char *l; !strstr(l = client_next(c), " is now Keeper");)
        CHECK(l[0] != '<', "first client: %s", l);
}

long dropped_count(const char *line)
{
    long n;
    int end = 0;

    if (sscanf(line, "Server is very busy and dropped %ld messages, sorry!%n",
               &n, &end) == 1 && end > 0 && line[end] == '\0')
        return n;
    return -1;
}

long drain_slow(client *slow, const char *sender, long expected)
{
    char prefix[80];
    long dropped = 0, got = 0, last = -1;
    size_t plen = (size_t)snprintf(prefix, sizeof prefix, "%s: flood ",
                                   sender);

    while (got + dropped < expected) {
        const char *line = client_next(slow);
        long n = dropped_count(line);
        CHECK(strcmp(line, "<eof>") && strcmp(line, "<timeout>"),
              "slow reader: %s after %ld lines + %ld dropped of %ld", line,
              got, dropped, expected);
        if (n >= 0) {
            CHECK(n > 0, "a 'dropped 0 messages' notice");
            dropped += n;
            continue;
        }
        if (strncmp(line, prefix, plen) == 0) {
            long i = atol(line + plen);
            CHECK(i > last, "flood line %ld after %ld: out of order", i, last);
            last = i;
        }
        got++;
    }
    fprintf(stderr, "slow reader: %ld lines received, %ld dropped\n", got,
            dropped);
    return dropped;
}

/* ---- the runner (see harness.h) ---- */

/* Whether the case is one the run asked for: all, or $CK_RUN_CASE. */
static int case_wanted(const harness_case *c, const char *only)
{
    return only == NULL || *only == '\0' || strcmp(only, c->name) == 0;
}

/* Whether the case can run here; says why not on stderr. */
static int case_runnable(const harness_case *c)
{
    if (c->need->met == NULL || c->need->met())
        return 1;
    fprintf(stderr, "%s: skipped, %s() is false on this machine\n", c->name,
            c->need->what);
    return 0;
}

/* Add the wanted, runnable cases to s; counts them in *added, *skipped. */
static void add_cases(Suite *s, const harness_case *cases, size_t n,
                      int timeout_s, int *added, int *skipped)
{
    const char *only = getenv("CK_RUN_CASE");

    for (size_t i = 0; i < n; i++) {
        TCase *tc;
        if (!case_wanted(&cases[i], only))
            continue;
        if (!case_runnable(&cases[i])) {
            (*skipped)++;
            continue;
        }
        tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, NULL, stop);
        tcase_set_timeout(tc, timeout_s);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
        (*added)++;
    }
}

int harness_main(const char *suite, const harness_case *cases, size_t n,
                 int timeout_s)
{
    Suite *s = suite_create(suite);
    SRunner *sr = srunner_create(s); /* owns s from here */
    int added = 0, skipped = 0, failed = 0, run = 0;

    add_cases(s, cases, n, timeout_s, &added, &skipped);
    if (added > 0) {
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        run = srunner_ntests_run(sr);
    }
    srunner_free(sr);
    if (run == 0 && skipped > 0)
        return 77; /* meson's SKIP: the case asked for cannot run here */
    if (run == 0) {
        fprintf(stderr, "no test case ran: check CK_RUN_CASE\n");
        return EXIT_FAILURE;
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void flood_until_line(client *s, const char *want)
{
    enum { LINES = 16, LEN = 301 };
    static char burst[LINES * LEN];
    long long until = now_ms() + 4LL * DEFAULT_WAIT_MS;
    char mine[80];
    const char *line;

    for (size_t i = 0; i < sizeof burst; i++)
        burst[i] = i % LEN == LEN - 1 ? '\n' : 'f';
    snprintf(mine, sizeof mine, "%s: ", s->name);
    while (now_ms() < until) {
        int back = 0;
        CHECK(client_send_bytes(s, burst, sizeof burst) == 0, "send: %s",
              strerror(errno));
        while (back < LINES && (line = client_line(s, DEFAULT_WAIT_MS))) {
            if (strcmp(line, want) == 0)
                return;
            back += strncmp(line, mine, strlen(mine)) == 0;
        }
        CHECK(back == LINES, "the flood stopped coming back: '%s'", s->line);
    }
    CHECK(0, "'%s' never came", want);
}
