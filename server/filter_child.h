/*
 * chatd - the --filter-exec program as a process: started with
 * /bin/sh -c CMD on two pipes, fed lines, read line by line, reaped and
 * restarted with backoff when it dies. filter.c gives it its questions
 * and handles the answers; this file knows nothing of chat.
 *
 * Everything is bounded and nothing blocks the loop: the pipes are
 * non-blocking on chatd's side, lines queued for the program wait in a
 * fixed buffer (full: chatd_child_send says so at once), and a line read
 * from it is kept up to CHATP_FILTER_LINE_MAX bytes (longer: discarded
 * and reported).
 */
#ifndef CHATD_FILTER_CHILD_H
#define CHATD_FILTER_CHILD_H

#include <stddef.h>

#include <event2/event.h>

struct chatd_child;

/* Bytes queued for the program beyond what its pipe holds. */
#define CHATD_CHILD_OUTBUF ((size_t)32 * 1024)

/* Backoff between restarts: doubles from FIRST up to MAX, and is FIRST
 * again once an instance has run STABLE without dying. */
#define CHATD_CHILD_RESTART_FIRST_MS 100
#define CHATD_CHILD_RESTART_MAX_MS 10000
#define CHATD_CHILD_STABLE_MS 10000

/* A program that lost its pipes but does not exit is killed after this. */
#define CHATD_CHILD_KILL_MS 500

struct chatd_child_config {
    const char *cmd;        /* run as /bin/sh -c cmd; must outlive the child */
    const char *while_down; /* for the log: what happens meanwhile */
    /*
     * A line the program wrote, without its "\n", valid during the call;
     * or line NULL: a line longer than CHATP_FILTER_LINE_MAX was
     * discarded. Called from the loop, never from chatd_child_send.
     */
    void (*line)(void *ctx, const char *line, size_t len);
    /* The program stopped (died, or closed a pipe): nothing sent to it
     * will be answered. Called from the loop, never from
     * chatd_child_send. */
    void (*down)(void *ctx);
    void *ctx;
};

enum chatd_child_sent {
    CHATD_CHILD_SENT, /* queued: the program will read it */
    CHATD_CHILD_DOWN, /* no program running now (dead, restarting) */
    CHATD_CHILD_FULL, /* the program is not reading: the buffer is full */
};

/*
 * Start the program. Its stderr is chatd's; it runs in its own process
 * group (so a terminal's Ctrl-C reaches chatd only, and chatd stops the
 * whole group). Returns 0, or -1 after logging why (no memory, no pipe,
 * no process; *out untouched). cfg is copied.
 */
int chatd_child_new(struct chatd_child **out, struct event_base *base,
                    const struct chatd_child_config *cfg);

/* Queue len bytes (whole lines) for the program. Never blocks and never
 * calls back. */
enum chatd_child_sent chatd_child_send(struct chatd_child *c,
                                       const char *data, size_t len);

/*
 * Stop: close the program's input (a filter exits at end of input), wait
 * for it at most CHATD_CHILD_KILL_MS, then SIGTERM, then SIGKILL its
 * process group; reap it; free everything. Blocks for at most about 1 s.
 * Call at exit, outside the loop. NULL is accepted.
 */
void chatd_child_free(struct chatd_child *c);

#endif /* CHATD_FILTER_CHILD_H */
