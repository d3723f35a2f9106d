/*
 * chatd's listeners (--listen URL) end to end, with programs no one here
 * wrote: the async-std book's a-chat client and the tokio tutorial's
 * chat-bots (../shared/seed-peers/bin, $SEED_PEERS; a case skips, exit 77,
 * where they are absent), a telex session over a plain socket, and the
 * listener errors. Waits are bounded, never timed.
 *
 * Run one case: CK_RUN_CASE=telex_session ./test_listeners (meson does).
 */
#define _GNU_SOURCE /* unshare, CLONE_NEWNET */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* The address the a-chat client has hard-coded. */
#define A_CHAT_PORT 8080

/* Room for one "listening on" address. */
#define LABEL_MAX 160

/* ---- what chatd logged ------------------------------------------------------ */

/* The addresses of srv's "listening on" lines so far (up to max), in order. */
static int listening_on(char (*out)[LABEL_MAX], int max)
{
    static const char key[] = "listening on ";
    FILE *f = fopen(srv.log_path, "r");
    char line[512];
    int n = 0;

    while (f && n < max && fgets(line, sizeof line, f)) {
        char *p = strstr(line, key);
        if (!p)
            continue;
        p += sizeof key - 1;
        p[strcspn(p, "\n")] = '\0';
        snprintf(out[n++], LABEL_MAX, "%s", p);
    }
    if (f)
        fclose(f);
    return n;
}

/* Wait for n "listening on" lines (chatd logs them once all are open). */
static void wait_listening(char (*out)[LABEL_MAX], int n)
{
    long long deadline = now_ms() + DEFAULT_WAIT_MS;

    while (listening_on(out, n) < n) {
        CHECK(now_ms() < deadline, "fewer than %d 'listening on' lines", n);
        sleep_ms(10);
    }
}

/* The port of a logged address: "127.0.0.1:P", "[::1]:P" or
 * "tcp://HOST:P?dialect=D". */
static int port_of(const char *label)
{
    size_t end = strcspn(label, "?");
    const char *colon = NULL;

    for (size_t i = 0; i < end; i++)
        if (label[i] == ':')
            colon = label + i;
    return colon ? atoi(colon + 1) : -1;
}

/* A connection to a listener that is not srv.port's. */
static client *connect_port(int port)
{
    client *c = client_connect(port, 0);

    CHECK(c != NULL, "connect to 127.0.0.1:%d: %s", port, strerror(errno));
    return c;
}

/* ---- ports ------------------------------------------------------------------ */

/* A socket listening on 127.0.0.1 at port (0: any); its port in *got. */
static int listen_on(int port, int *got)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (got)
        *got = ntohs(a.sin_port);
    return fd;
}

/* Whether nothing listens on 127.0.0.1:port now. */
static int port_free(int port)
{
    int fd = listen_on(port, NULL);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* ---- the seeds' programs ------------------------------------------------------ */

/* $SEED_PEERS/name (meson sets it; see meson.build) into buf. */
static const char *seed_path(const char *name, char *buf, size_t size)
{
    const char *dir = getenv("SEED_PEERS");

    snprintf(buf, size, "%s/%s",
             dir && *dir ? dir : "/work/shared/seed-peers/bin", name);
    return buf;
}

static int seed_exists(const char *name)
{
    char path[512];

    return access(seed_path(name, path, sizeof path), X_OK) == 0;
}

/*
 * Run argv with stdin and stdout on one end of a socket pair, stderr
 * shared with the test; the other end is returned as a client, so the
 * program's output reads like a connection (client_line) and
 * shutdown(SHUT_WR) is the end of its input. Dies with the test.
 */
static client *spawn_on_pair(const char *const *argv, pid_t *pid)
{
    int sv[2];
    pid_t parent = getpid();
    client *c = calloc(1, sizeof *c);

    CHECK(c != NULL, "out of memory");
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
          "socketpair: %s", strerror(errno));
    *pid = fork();
    CHECK(*pid >= 0, "fork: %s", strerror(errno));
    if (*pid == 0) {
        sigset_t none;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(sv[1], 0); /* dup2 clears close-on-exec on 0 and 1 */
        dup2(sv[1], 1);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(sv[1]);
    c->fd = sv[0];
    return c;
}

/* The program's exit status, waiting up to DEFAULT_WAIT_MS; -1 if it did
 * not exit normally in time (it is killed then). */
static int wait_program(pid_t pid)
{
    long long deadline = now_ms() + DEFAULT_WAIT_MS;
    int status;

    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(10);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- a private network ------------------------------------------------------- */

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n = -1;

    if (fd >= 0) {
        n = write(fd, text, strlen(text));
        close(fd);
    }
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A new network namespace has its loopback down. */
static int loopback_up(void)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ok;

    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP;
    ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    close(fd);
    return ok ? 0 : -1;
}

/*
 * Move this process (and what it starts) into a network namespace of its
 * own, as `unshare -rn` does: port 8080 there is free whatever the
 * machine runs. Root needs no user namespace; others map themselves to
 * root in one.
 */
static int enter_private_net(void)
{
    char map[64];

    if (unshare(CLONE_NEWNET) != 0) {
        unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
            return -1;
        (void)write_text("/proc/self/setgroups", "deny"); /* absent < 3.19 */
        snprintf(map, sizeof map, "0 %u 1", uid);
        if (write_text("/proc/self/uid_map", map) != 0)
            return -1;
        snprintf(map, sizeof map, "0 %u 1", gid);
        if (write_text("/proc/self/gid_map", map) != 0)
            return -1;
    }
    return loopback_up();
}

/* Whether enter_private_net() works here, tried in a child. */
static int private_net_works(void)
{
    int status;
    pid_t pid = fork();

    if (pid == 0)
        _exit(enter_private_net() == 0 ? 0 : 1);
    return pid > 0 && waitpid(pid, &status, 0) == pid &&
           WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The a-chat case can run: the client exists, and 8080 can be had. */
static int a_chat_can_run(void)
{
    if (!seed_exists("a-chat")) {
        fprintf(stderr, "no a-chat in $SEED_PEERS\n");
        return 0;
    }
    return private_net_works() || port_free(A_CHAT_PORT);
}

static int chat_bots_exist(void)
{
    return seed_exists("chat-bots");
}

/* ---- the a-chat client ------------------------------------------------------- */

/* A chat user joins on the listener at port and takes the name name;
 * other (if not NULL), in main already, sees both. */
static client *join_as(int port, const char *name, client *other)
{
    client *c = connect_port(port);

    CHECK(client_greet(c, NULL) == 0, "%s", c->line);
    if (other)
        EXPECT(other, "%s joined main", c->name);
    send_line(c, "/name %s", name);
    EXPECT(c, "%s is now %s", c->name, name);
    if (other)
        EXPECT(other, "%s is now %s", c->name, name);
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

/*
 * The async-std book's client against an a-chat listener on 8080, next to
 * a plain chat listener: alice (a-chat) and bob (chat) reach each other
 * with direct messages, each in their own dialect; carol sees neither
 * message; alice sees no room traffic at all.
 */
CHAT_CASE_IF(a_chat_client, a_chat_can_run)
{
    const char *args[] = {"--listen", "tcp://127.0.0.1:8080?dialect=a-chat",
                          "--listen", "tcp://127.0.0.1:0", NULL};
    char lines[3][LABEL_MAX], path[512];
    const char *argv[] = {seed_path("a-chat", path, sizeof path), "client",
                          NULL};
    client *alice, *bob, *carol;
    pid_t pid;

    if (enter_private_net() != 0)
        fprintf(stderr, "no private network namespace: using the machine's "
                "port 8080\n");
    CHECK(chatd_start_listen(&srv, args) == 0, "chatd did not start");
    wait_listening(lines, 2);
    CHECK(strcmp(lines[0], "tcp://127.0.0.1:8080?dialect=a-chat") == 0,
          "first listener logged '%s'", lines[0]);
    CHECK(strncmp(lines[1], "127.0.0.1:", 10) == 0 && port_of(lines[1]) > 0,
          "the plain listener logged '%s'", lines[1]);
    CHECK(listening_on(lines, 3) == 2, "--listen alone must replace -p");

    bob = join_as(port_of(lines[1]), "bob", NULL);
    carol = join_as(port_of(lines[1]), "carol", bob);
    alice = spawn_on_pair(argv, &pid);
    send_line(alice, "alice");
    send_line(alice, "bob: hello");
    EXPECT(bob, "alice joined main");
    EXPECT(carol, "alice joined main");
    EXPECT(bob, "from alice: hello");

    send_line(bob, "/msg alice hi");
    EXPECT(bob, "to alice: hi");
    EXPECT(alice, "from bob: hi");
    /* carol's next line is her own: "bob: hello" never reached her */
    say_heard(carol, "anyone there?", bob);

    /* End of input: the client leaves, having printed nothing else. */
    CHECK(shutdown(alice->fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    CHECK(client_line(alice, DEFAULT_WAIT_MS) == NULL && alice->eof,
          "a-chat printed '%s'", alice->line);
    CHECK(wait_program(pid) == 0, "a-chat client did not exit 0");
    EXPECT(bob, "alice left main");
    client_close(alice);
    client_close(bob);
    client_close(carol);
}
END_TEST

/* ---- telex ------------------------------------------------------------------- */

/* "Users - a, b": two names in /users order (case-insensitive). */
static void users_line(char *buf, size_t size, const char *a, const char *b)
{
    if (strcasecmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    snprintf(buf, size, "Users - %s, %s", a, b);
}

/*
 * A telex user on a ?dialect=telex listener and chat users on the default
 * one, in one room: the first line is the name, room lines read
 * "<name> text" one way and "name: text" the other, no echo for telex,
 * notices about others start with "* ".
 */
CHAT_CASE(telex_session)
{
    const char *args[] = {"--listen", "tcp://127.0.0.1:0?dialect=telex", NULL};
    char lines[2][LABEL_MAX], users[192];
    client *alice, *tom, *x;

    start(args);
    wait_listening(lines, 2);
    CHECK(strncmp(lines[1], "tcp://127.0.0.1:", 16) == 0 &&
          strstr(lines[1], "?dialect=telex"), "telex listener: '%s'",
          lines[1]);
    alice = join();
    tom = connect_port(port_of(lines[1]));
    send_line(tom, "tom"); /* no greeting first: the login is the name */
    EXPECT(tom, "You are tom");
    EXPECT(tom, "You joined main");
    EXPECT(alice, "tom joined main");

    send_line(alice, "hi tom");
    EXPECT(alice, "%s: hi tom", alice->name);
    EXPECT(tom, "<%s> hi tom", alice->name);
    send_line(tom, "hello");
    EXPECT(alice, "tom: hello");
    /* No echo: tom's next line is the answer to his next command. */
    send_line(tom, "/users");
    users_line(users, sizeof users, alice->name, "tom");
    EXPECT(tom, "%s", users);

    x = join();
    EXPECT(alice, "%s joined main", x->name);
    EXPECT(tom, "* %s joined main", x->name);
    send_line(x, "/me waves");
    EXPECT(x, "* %s waves", x->name);
    EXPECT(alice, "* %s waves", x->name);
    EXPECT(tom, "* %s waves", x->name);
    send_line(x, "/quit");
    EXPECT(x, "Bye!");
    expect_eof(x);
    EXPECT(alice, "%s left main", x->name);
    EXPECT(tom, "* %s left main", x->name);

    send_line(tom, "/quit");
    EXPECT(tom, "Bye!");
    expect_eof(tom);
    EXPECT(alice, "tom left main");
    client_close(alice);
    client_close(tom);
    client_close(x);
}
END_TEST

/* ---- several listeners ----------------------------------------------------- */

/*
 * -p 0 (the harness's) and three --listen: each logs its own line, in
 * order, with its real port; a plain chat one (even spelled ?dialect=chat)
 * logs HOST:PORT. Each greets in its dialect.
 */
CHAT_CASE(several_listeners)
{
    const char *args[] = {"--listen", "tcp://127.0.0.1:0?dialect=a-chat",
                          "--listen", "tcp://127.0.0.1:0?dialect=telex",
                          "--listen", "tcp://127.0.0.1:0?dialect=chat", NULL};
    char lines[5][LABEL_MAX];
    client *a, *amy, *tom, *d;

    start(args);
    wait_listening(lines, 4);
    CHECK(listening_on(lines, 5) == 4, "a fifth 'listening on' line");
    CHECK(strncmp(lines[0], "127.0.0.1:", 10) == 0, "-p 0: '%s'", lines[0]);
    CHECK(strncmp(lines[1], "tcp://127.0.0.1:", 16) == 0 &&
          strstr(lines[1], "?dialect=a-chat"), "a-chat: '%s'", lines[1]);
    CHECK(strncmp(lines[2], "tcp://127.0.0.1:", 16) == 0 &&
          strstr(lines[2], "?dialect=telex"), "telex: '%s'", lines[2]);
    CHECK(strncmp(lines[3], "127.0.0.1:", 10) == 0, "chat: '%s'", lines[3]);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < i; j++)
            CHECK(port_of(lines[i]) > 0 && port_of(lines[i]) != port_of(lines[j]),
                  "ports: '%s' and '%s'", lines[i], lines[j]);

    a = join();
    amy = connect_port(port_of(lines[1]));
    send_line(amy, "amy");
    EXPECT(a, "amy joined main");
    send_line(amy, "/users"); /* a-chat: nothing but the answer */
    /* Sorted case-insensitively (doc/protocol.md): where a's random name
     * falls beside amy depends on the name drawn. */
    if (strcasecmp(a->name, "amy") < 0)
        EXPECT(amy, "Users - %s, amy", a->name);
    else
        EXPECT(amy, "Users - amy, %s", a->name);
    tom = connect_port(port_of(lines[2]));
    send_line(tom, "tom");
    EXPECT(tom, "You are tom");
    EXPECT(a, "tom joined main");
    d = connect_port(port_of(lines[3]));
    CHECK(client_greet(d, NULL) == 0, "%s", d->line);
    EXPECT(a, "%s joined main", d->name);
    client_close(a);
    client_close(amy);
    client_close(tom);
    client_close(d);
}
END_TEST

/* A bracketed IPv6 host: the URL, real port and all, in the log. */
CHAT_CASE_IF(listen_ipv6, harness_ipv6_works)
{
    const char *args[] = {"--listen", "tcp://[::1]:0?dialect=telex", NULL};
    char lines[2][LABEL_MAX];
    client *tom;

    start(args);
    wait_listening(lines, 2);
    CHECK(strncmp(lines[1], "tcp://[::1]:", 12) == 0 &&
          strstr(lines[1], "?dialect=telex") && port_of(lines[1]) > 0,
          "telex listener: '%s'", lines[1]);
    tom = client_connect(port_of(lines[1]), 1);
    CHECK(tom != NULL, "connect to [::1]:%d: %s", port_of(lines[1]),
          strerror(errno));
    send_line(tom, "tom");
    EXPECT(tom, "You are tom");
    client_close(tom);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

/* Bad --listen values: one "chatd: " line naming the problem, exit 2. */
CHAT_CASE(listen_bad_urls)
{
    static const char *const cases[][3] = {
        {"--listen", "bogus", "expected tcp://HOST:PORT"},
        {"--listen", "udp://127.0.0.1:0", "unknown scheme 'udp'"},
        {"--listen", "tcp://127.0.0.1:0?dialect=klingon",
         "unknown dialect 'klingon'"},
        {"--listen", "tcp://127.0.0.1:0?colour=blue",
         "unknown parameter 'colour=blue'"},
        {"--listen", "tcp://127.0.0.1", "expected HOST:PORT"},
        {"--listen", "tcp://127.0.0.1:65536", "expected a port"},
        {"--listen", "tcp://:0", "expected a host"},
        {"--listen", "tcp://::1:0", "in brackets"},
        {"--listen", "tcp://no-such-host.invalid:0", "for --listen"},
    };
    char out[4096], err[4096];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {cases[i][0], cases[i][1], NULL};
        int status = chatd_run(args, DEFAULT_WAIT_MS, out, sizeof out, err,
                               sizeof err);
        const char *nl = strchr(err, '\n');
        CHECK(status == 2, "%s: exit status %d, want 2 (stderr: %s)",
              cases[i][1], status, err);
        CHECK(strncmp(err, "chatd: ", 7) == 0 && nl && nl[1] == '\0',
              "%s: want one 'chatd: ' line on stderr, got '%s'", cases[i][1],
              err);
        CHECK(strstr(err, cases[i][1]) && strstr(err, cases[i][2]),
              "%s: want '%s' in '%s'", cases[i][1], cases[i][2], err);
        CHECK(out[0] == '\0', "%s: unexpected stdout '%s'", cases[i][1], out);
    }
}
END_TEST

/*
 * A port in use: one error line, exit 1, no "listening on" at all, and
 * the listener that could bind is free again: all or none. Whether the
 * free one is a --listen or -p's.
 */
CHAT_CASE(listen_port_in_use)
{
    char url_free[64], url_busy[64], port_s[8], want[128], out[1024],
        err[1024];
    int busy_port, free_port, busy = listen_on(0, &busy_port);
    int spare = listen_on(0, &free_port);

    CHECK(busy >= 0 && spare >= 0, "cannot find ports: %s", strerror(errno));
    close(spare); /* free_port is free again, most likely for good */
    snprintf(url_free, sizeof url_free, "tcp://127.0.0.1:%d", free_port);
    snprintf(url_busy, sizeof url_busy, "tcp://127.0.0.1:%d?dialect=telex",
             busy_port);
    snprintf(port_s, sizeof port_s, "%d", free_port);
    snprintf(want, sizeof want, "chatd: error: cannot listen on %s: %s\n",
             url_busy, strerror(EADDRINUSE));
    const char *as_listen[] = {"--listen", url_free, "--listen", url_busy,
                               NULL};
    const char *as_port[] = {"-p", port_s, "--listen", url_busy, NULL};
    const char *const *runs[] = {as_listen, as_port};

    for (size_t i = 0; i < 2; i++) {
        int status = chatd_run(runs[i], DEFAULT_WAIT_MS, out, sizeof out,
                               err, sizeof err);
        CHECK(status == 1, "run %zu: exit status %d, want 1 (stderr: %s)", i,
              status, err);
        CHECK(strcmp(err, want) == 0, "run %zu: stderr '%s', want '%s'", i,
              err, want);
        CHECK(port_free(free_port), "run %zu: port %d still taken", i,
              free_port);
    }
    close(busy);
}
END_TEST

/*
 * Out of file descriptors with two listeners: each turns clients away on
 * its own ("Server is full"), and each accepts again once descriptors are
 * free (a pause or turn-away on one must not strand the other).
 */
CHAT_CASE(fd_exhaustion_listeners)
{
    const char *args[] = {"--max-clients", "1000", "--listen",
                          "tcp://127.0.0.1:0?dialect=telex", NULL};
    char lines[2][LABEL_MAX];
    enum { MAX = 40 };
    client *c[MAX], *t;
    int n;

    CHECK(chatd_start_nofile(&srv, args, 24) == 0, "chatd did not start");
    wait_listening(lines, 2);
    n = fill_until_full(c, MAX);
    t = connect_port(port_of(lines[1]));
    EXPECT(t, "Server is full, try again later");
    expect_eof(t);
    client_close(t);

    for (int i = 1; i < 6 && i < n; i++)
        client_close(c[i]);
    for (int tries = 0;; tries++) { /* once chatd notices */
        t = connect_port(port_of(lines[1]));
        /* Not send_line: a socket turned away may be reset already. */
        (void)client_send(t, "tom\n");
        if (strcmp(client_next(t), "You are tom") == 0)
            break;
        client_close(t);
        CHECK(tries < 50, "the telex listener never accepted again");
        sleep_ms(100);
    }
    still_chats(c[0]);
    client_close(join()); /* and the chat listener accepts too */
    client_close(t);
    for (int i = 0; i < n; i++)
        if (i == 0 || i >= 6)
            client_close(c[i]);
}
END_TEST

/* ---- the tokio tutorial's bots ------------------------------------------------ */

/* How long the bots run: long enough for every one of them to join and
 * chat a while. */
#define BOTS_RUN_MS 4000

/* Start chat-bots against port, its output discarded. */
static pid_t start_bots(int port)
{
    char path[512], port_s[8];
    const char *argv[] = {seed_path("chat-bots", path, sizeof path), "-i",
                          "127.0.0.1", "-p", port_s, NULL};
    client *out;
    pid_t pid;

    snprintf(port_s, sizeof port_s, "%d", port);
    out = spawn_on_pair(argv, &pid);
    /* Its log is not read: the socket is shut, so writes to it fail
     * instead of filling a buffer no one empties. */
    shutdown(out->fd, SHUT_RDWR);
    client_close(out);
    return pid;
}

/* Ask /rooms until the bots' rooms are full: 100 in stress-test, 3 in
 * rust. Other lines (the main bots' chat) are skipped. */
static void wait_bot_rooms(client *c)
{
    long long deadline = now_ms() + 4 * DEFAULT_WAIT_MS;
    const char *line;

    for (;;) {
        send_line(c, "/rooms");
        while (strncmp(line = client_next(c), "Rooms - ", 8) != 0)
            CHECK(line[0] != '<', "waiting for /rooms: %s", line);
        if (strstr(line, "stress-test (100)") && strstr(line, "rust (3)"))
            return;
        CHECK(now_ms() < deadline, "the bots' rooms: '%s'", line);
        sleep_ms(200);
    }
}

/* The next line of c that starts with prefix (the whole line, if exact),
 * skipping others. Like skip_to, for telex users: their lines may start
 * with '<'. */
static void skip_to_telex(client *c, const char *prefix, int exact)
{
    size_t n = strlen(prefix) + (exact ? 1 : 0);
    const char *line;

    while (strncmp(line = client_next(c), prefix, n) != 0)
        CHECK(strcmp(line, "<timeout>") != 0 && strcmp(line, "<eof>") != 0,
              "waiting for '%s': %s", prefix, line);
}

/* Read and drop what c and d are sent for ms milliseconds: users who
 * keep up, as a terminal would. */
static void keep_reading(client *c, client *d, int ms)
{
    long long until = now_ms() + ms;

    while (now_ms() < until) {
        while (client_line(c, 20) != NULL)
            ;
        while (client_line(d, 20) != NULL)
            ;
        CHECK(!c->eof && !d->eof, "chatd closed a user's connection");
    }
}

/*
 * 106 bots (3 chatting in main, 3 in rust, 100 in stress-test, a line
 * every 100-200 ms each) on the default listener, with a chat user and a
 * telex user in main: the bots' rooms fill, the people still chat (tom
 * reads the bots in telex), chatd serves a newcomer after the bots are
 * gone and exits 0 on SIGTERM.
 */
CHAT_CASE_IF(chat_bots, chat_bots_exist)
{
    const char *args[] = {"--listen", "tcp://127.0.0.1:0?dialect=telex", NULL};
    char lines[2][LABEL_MAX], want[128];
    client *a, *tom, *b;
    long long started;
    pid_t bots;
    int status;

    start(args);
    wait_listening(lines, 2);
    a = join();
    tom = connect_port(port_of(lines[1]));
    send_line(tom, "tom");
    EXPECT(tom, "You are tom");
    bots = start_bots(srv.port);
    started = now_ms();
    wait_bot_rooms(a);
    skip_to_telex(tom, "<", 0); /* a bot in main, in telex */

    send_line(tom, "still here");
    skip_to(a, "tom: still here");
    send_line(a, "me too");
    snprintf(want, sizeof want, "%s: me too", a->name);
    skip_to(a, want);
    snprintf(want, sizeof want, "<%s> me too", a->name);
    skip_to_telex(tom, want, 1);
    keep_reading(a, tom, BOTS_RUN_MS - (int)(now_ms() - started));
    kill(bots, SIGTERM);
    CHECK(waitpid(bots, &status, 0) == bots, "waitpid: %s", strerror(errno));

    b = join();
    send_line(b, "after the bots");
    snprintf(want, sizeof want, "%s: after the bots", b->name);
    skip_to(a, want);
    snprintf(want, sizeof want, "<%s> after the bots", b->name);
    skip_to_telex(tom, want, 1);
    chatd_signal(&srv, SIGTERM);
    skip_to(a, "Server shutting down...");
    skip_to_telex(tom, "Server shutting down...", 1);
    expect_eof(a);
    client_close(a);
    client_close(tom);
    client_close(b);
    expect_exit_0();
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

/* CHAT_CASES: the CHAT_CASE lines above, as meson read them. */
#include "listeners_cases.h"

int main(void)
{
    const harness_case cases[] = {CHAT_CASES};

    return harness_main("listeners", cases, sizeof cases / sizeof cases[0],
                        55);
}
