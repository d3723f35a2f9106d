/*
 * A small harness for driving a real chatd over loopback: start it on
 * port 0 and learn the port from its log, connect plain sockets, send
 * bytes, read lines with a timeout. Every wait is bounded (DEFAULT_WAIT_MS
 * per expected line); nothing here measures speed.
 */
#ifndef CHATD_TEST_HARNESS_H
#define CHATD_TEST_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * How long to wait for one expected line, a start or an exit: 5 s, times
 * harness_slowdown() (a chatd under valgrind is many times slower).
 */
#define DEFAULT_WAIT_MS (5000 * harness_slowdown())

/*
 * How many times slower chatd may be than a plain build: $CHATD_SLOWDOWN
 * if set (a positive integer), else 4 when $CHATD_WRAPPER is set (e.g.
 * valgrind), else 1. Scale every wait by it; never assert on speed.
 */
int harness_slowdown(void);

/* Non-zero when chatd runs under $CHATD_WRAPPER (valgrind, ...). */
int harness_wrapped(void);

typedef struct chatd_proc {
    pid_t pid;         /* 0 once reaped */
    int port;          /* from "listening on ...:PORT" */
    int status;        /* waitpid status once reaped */
    char log_path[256]; /* chatd's stderr (and stdout) */
} chatd_proc;

/*
 * Start $CHATD -p 0 ARGS... (args NULL-terminated; may be NULL), preceded
 * by the words of $CHATD_WRAPPER if set (split on spaces; the first one is
 * looked up in $PATH). Returns 0 once it logged "listening on"; -1 if it
 * exited or never did (the process is then reaped and d->status is set).
 * d->pid is the process started: under valgrind that is chatd itself
 * (valgrind runs its program in its own process), so signals reach it.
 */
int chatd_start(chatd_proc *d, const char *const *args);

/*
 * chatd_start without the "-p 0": args say where to listen (--listen), and
 * d->port is that of the first "listening on" line.
 */
int chatd_start_listen(chatd_proc *d, const char *const *args);

/*
 * chatd_start with RLIMIT_NOFILE (soft and hard) set to nofile in chatd.
 * This one ignores $CHATD_WRAPPER: valgrind's own descriptors above the
 * limit would change what clients past the limit see.
 */
int chatd_start_nofile(chatd_proc *d, const char *const *args, long nofile);

/* Wait up to timeout_ms (times harness_slowdown()) for chatd to exit.
 * Returns 0 if it did. */
int chatd_wait(chatd_proc *d, int timeout_ms);

/* Send a signal to a running chatd. */
void chatd_signal(chatd_proc *d, int sig);

/* Kill (if running), reap and remove the log. Safe to call twice. */
void chatd_stop(chatd_proc *d);

/* Print the log of every chatd still running to stderr (on failure). */
void harness_dump_logs(void);

/* Print d's log to stderr. */
void chatd_print_log(const chatd_proc *d);

/* Non-zero if chatd's log so far contains needle. */
int chatd_log_contains(const chatd_proc *d, const char *needle);

/* The first line of chatd's log containing needle, copied to buf, or NULL. */
char *chatd_log_line(const chatd_proc *d, const char *needle, char *buf,
                     size_t size);

/*
 * chatd's resident memory (VmRSS from /proc/PID/status) in KiB, or -1 if
 * unknown (not Linux, or not running). Under valgrind it includes
 * valgrind's own memory.
 */
long chatd_rss_kib(const chatd_proc *d);

/* CPU time chatd has used (user + system, /proc/PID/stat) in ms, or -1. */
long chatd_cpu_ms(const chatd_proc *d);

/*
 * Run $CHATD ARGS... to completion (at most timeout_ms), capturing stdout
 * and stderr into the buffers (NUL-terminated, truncated). Returns the
 * exit status, or -1 if it did not exit normally in time.
 */
int chatd_run(const char *const *args, int timeout_ms, char *out,
              size_t out_size, char *err, size_t err_size);

typedef struct client {
    int fd;
    int eof;           /* the server closed its side */
    size_t len;        /* bytes in buf */
    char buf[1 << 16];
    char line[1024];   /* the last line returned */
    char name[64];     /* from "You are NAME" (client_greet) */
} client;

/* Non-zero if this machine has an IPv6 loopback (::1 can be bound): the
 * predicate of the cases that need it (CHAT_CASE_IF). */
int harness_ipv6_works(void);

/* Connect to 127.0.0.1 (or ::1 with ipv6) on port; NULL on failure. */
client *client_connect(int port, int ipv6);

/* Same, with SO_RCVBUF set to rcvbuf before connecting (a slow reader). */
client *client_connect_small(int port, int rcvbuf);

void client_close(client *c);

/* Close with SO_LINGER 0: the kernel sends RST instead of FIN. */
void client_reset(client *c);

/* Send all of s. Returns 0, or -1 on error. */
int client_send(client *c, const char *s);
int client_send_bytes(client *c, const void *data, size_t len);

/*
 * The next line (terminator removed) within timeout_ms, or NULL on
 * timeout or EOF (then c->eof is set). Valid until the next call.
 */
const char *client_line(client *c, int timeout_ms);

/* Like client_line but never NULL: "<timeout>" or "<eof>" instead. */
const char *client_next(client *c);

/* A complete buffered line without waiting, or NULL. */
const char *client_try_line(client *c);

/* One non-blocking read into the buffer. Returns bytes read, 0 at EOF
 * (c->eof set) or when nothing is there, -1 on error. */
int client_pump(client *c);

/* Wait up to timeout_ms for EOF, discarding lines. Returns 0 on EOF. */
int client_wait_eof(client *c, int timeout_ms);

/*
 * Read the default-mode greeting: "Server commands", help lines,
 * "You are NAME" (NAME kept in c->name), then lines up to
 * "You joined ROOM". Returns 0, or -1 with what went wrong in c->line.
 */
int client_greet(client *c, const char *room);

/* Milliseconds on a monotonic clock. */
long long now_ms(void);

/* Sleep for ms milliseconds. */
void sleep_ms(int ms);


/* ---- one chatd per test ---------------------------------------------------
 * The helpers the integration and fault suites share: Check runs each test
 * in its own process, so one chatd per process is all a test needs. */

/* The chatd the current test started (start()). */
extern chatd_proc srv;

/* Fail the test with a message, after dumping chatd's log. */
#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            harness_dump_logs();                                              \
            ck_abort_msg(__VA_ARGS__);                                        \
        }                                                                     \
    } while (0)

/* The next line from c must be exactly the formatted text. */
#define EXPECT(c, ...) expect_line(__FILE__, __LINE__, (c), __VA_ARGS__)
void expect_line(const char *file, int line, client *c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Start chatd with args (NULL-terminated), or fail the test. */
void start(const char *const *args);
/* Teardown: whatever the test left connected, SIGTERM must end chatd with
 * status 0 (a crash, or valgrind's 99, fails the test). */
void stop(void);
/* Connect to srv, or fail the test. */
client *connect_client(void);
/* Connect and read the greeting up to "You joined main". */
client *join(void);
/* Two users join main, *a first; a has read that *b joined. */
void join_two(client **a, client **b);
/* c says text in its room: the next line c reads, and the next line other
 * reads, is "{c's name}: text". */
void say_heard(client *c, const char *text, client *other);
/* Connect with a 4 KiB receive buffer, so the kernel absorbs little of
 * what chatd sends (a reader that falls behind), and read the greeting. */
client *join_slow(void);
/* Send the formatted text and a newline, or fail the test. */
void send_line(client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Read lines until one equals want, skipping others; fails on a timeout or
 * EOF first. */
void skip_to(client *c, const char *want);
/* The server must close c's connection within DEFAULT_WAIT_MS. */
void expect_eof(client *c);
/* chatd must exit, with status 0. */
void expect_exit_0(void);
/*
 * Against a chatd short of descriptors: make `tries` connections. The first
 * are greeted ("Server commands") and kept in c[]; then each is told
 * "Server is full, try again later" and closed by the server, and once full
 * chatd stays full. Returns how many got in; fails unless some got in and
 * some were turned away.
 */
int fill_until_full(client **c, int tries);
/* c, one of those that got in (its greeting unread), can still chat: it
 * renames itself to Keeper and gets the answer. */
void still_chats(client *c);
/*
 * s floods its room with bursts of 16 lines of 300 bytes, each burst once
 * the last came back (so s never falls behind itself and has nothing
 * dropped), until the line want arrives; fails the test if it never does.
 * The kernel's buffers on loopback take megabytes before a reader that
 * never reads holds anything up in chatd, so there is no fixed count.
 */
void flood_until_line(client *s, const char *want);

/* n of "Server is very busy and dropped {n} messages, sorry!", else -1. */
long dropped_count(const char *line);
/*
 * Read what a non-reader was sent: `expected` lines, some replaced by
 * "dropped {n}" notices. Lines plus the {n}s must add up exactly, and the
 * lines "{sender}: flood N" must come in order. Returns the number dropped.
 */
long drain_slow(client *slow, const char *sender, long expected);

/* ---- cases, each named once ------------------------------------------------
 * A case is `CHAT_CASE(name) { ... } END_TEST`, the macro at the start of a
 * line, and its name is written nowhere else. Meson reads those lines at
 * configure time (tests/meson.build): one meson test per name, run with
 * CK_RUN_CASE=name, and a generated SUITE_cases.h holding
 * `#define CHAT_CASES CHAT_RUN(a) CHAT_RUN(b) ...`, from which the test's
 * main() builds its table. So every case defined is run. If the two ever
 * disagree the build fails: a case meson missed is an unused static (made
 * an error below, whatever -Werror says), a name meson read that is no case
 * is an undeclared identifier.
 *
 * CHAT_CASE_IF(name, pred) is a case that can only run where pred() is
 * non-zero (e.g. the machine has IPv6). Elsewhere the runner does not start
 * it and exits 77, which meson reports as SKIP: the runner asks before Check
 * forks, because a forked Check case cannot choose its process's exit code.
 */
typedef struct harness_need {
    int (*met)(void); /* NULL: nothing needed */
    const char *what; /* the predicate's name, for the skip message */
} harness_need;

#define CHAT_CASE_IF(name, pred)                                              \
    static const harness_need name##_need = {pred, #pred};                    \
    START_TEST(name)
#define CHAT_CASE(name) CHAT_CASE_IF(name, NULL)

typedef struct harness_case {
    const char *name;
    const TTest *test;
    const harness_need *need;
} harness_case;

/* One table entry; CHAT_CASES (generated) is a list of these. */
#define CHAT_RUN(name) {#name, name, &name##_need},

#pragma GCC diagnostic error "-Wunused-variable"

/*
 * Run the cases of the table (all, or the one $CK_RUN_CASE names) as one
 * Check suite, each with a timeout of timeout_s seconds and stop() as its
 * teardown. Returns main()'s exit status: 0 if all passed, 77 if the only
 * case asked for cannot run here (see CHAT_CASE_IF), else 1.
 */
int harness_main(const char *suite, const harness_case *cases, size_t n,
                 int timeout_s);

#endif /* CHATD_TEST_HARNESS_H */
