/*
 * A test harness that drives a chat_broker through its public API only.
 *
 * It plays the part of a front-end: it joins peers, feeds them bytes, moves
 * a fake clock, and drains each peer's output through chat_broker_next_ready
 * / chat_peer_peek / chat_peer_consume into a per-peer buffer, exactly as a
 * server's loop would. Tests then compare that buffer byte for byte.
 *
 * A peer put on hold (h_hold) is skipped by the drain, so its output piles
 * up in the broker: that is how a slow consumer is simulated.
 *
 * Every helper aborts the current Check test on an unexpected failure, and
 * reports the caller's file and line.
 */
#ifndef CHAT_TEST_HARNESS_H
#define CHAT_TEST_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include <libchat/chat.h>

/* Exact protocol lines that many tests expect (doc/protocol.md). */
#define H_NAME_ERR "Name must be 2-24 characters: letters, digits, _ or -\n"
#define H_ROOM_ERR "Room must be 2-24 characters: letters, digits, _ or -\n"
#define H_TOO_LONG "Messages can only be 400 bytes long\n"
#define H_BAD_UTF8 "Messages must be valid UTF-8\n"
#define H_TOO_FAST "You are sending too fast, slow down\n"
#define H_IDLE "Disconnected for inactivity\n"
#define H_FULL "Server is full, try again later\n"
#define H_SHUTDOWN "Server shutting down...\n"
#define H_BYE "Bye!\n"

typedef struct h_harness h_harness;

typedef struct h_peer {
    h_harness *h;
    chat_peer *p;     /* NULL once released */
    char *buf;        /* output drained and not yet checked by the test */
    size_t len, cap;
    uint64_t total;   /* bytes drained over the peer's whole life */
    int hold;         /* non-zero: not drained (a slow consumer) */
} h_peer;

struct h_harness {
    chat_broker *b;
    uint64_t now;     /* the fake clock, in ms, passed to every call */
    h_peer **peers;   /* every peer ever joined, released ones too */
    size_t npeers, cap;
    int login;        /* CHAT_OPT_LOGIN_MODE as last set through h_opt */
};

/* A broker with doc/protocol.md defaults and a fixed seed. */
h_harness *h_new(void);
/* The same with the given allocator (may be NULL). */
h_harness *h_new_alloc(const chat_allocator *alloc);
/* Free the broker (and with it any peer not released) and every h_peer. */
void h_free(h_harness *h);

/* Set an option; the call must succeed. */
#define h_opt(h, opt, val) h_opt_at(__FILE__, __LINE__, (h), (opt), (val))
void h_opt_at(const char *file, int line, h_harness *h, chat_option opt,
              int64_t val);

/* Join a peer (must succeed) and drain everyone. */
#define h_join(h) h_join_at(__FILE__, __LINE__, (h))
h_peer *h_join_at(const char *file, int line, h_harness *h);

/*
 * Join a peer and give it a known name: "/name NAME" in default mode, the
 * name line in login mode. Then every peer's buffer is cleared, so the test
 * starts from a quiet room.
 */
#define h_join_as(h, name) h_join_as_at(__FILE__, __LINE__, (h), (name))
h_peer *h_join_as_at(const char *file, int line, h_harness *h,
                     const char *name);

/* Join a peer with per-connection options (must succeed), drain everyone.
 * h_join_dialect: a dialect's defaults, and a name if name is not NULL
 * (the first line in a login dialect, else /name); buffers are cleared. */
#define h_join_opts(h, o) h_join_opts_at(__FILE__, __LINE__, (h), (o))
h_peer *h_join_opts_at(const char *file, int line, h_harness *h,
                       const chat_peer_options *opt);
#define h_join_dialect(h, d, name)                                            \
    h_join_dialect_at(__FILE__, __LINE__, (h), (d), (name))
h_peer *h_join_dialect_at(const char *file, int line, h_harness *h,
                          chat_dialect d, const char *name);

/* Feed a whole line (chat_peer_feed_line, more = 0) then drain; returns
 * the call's result. */
int h_send_line(h_peer *p, const char *s);

/* Feed a string / bytes to the broker as this peer's input, then drain. */
int h_send(h_peer *p, const char *s);
int h_sendn(h_peer *p, const void *data, size_t len);
/* Feed one byte per chat_peer_feed call, then drain. */
void h_send_bytewise(h_peer *p, const void *data, size_t len);

void h_eof(h_peer *p);
void h_release(h_peer *p);

/* Move the fake clock forward by ms (or to t), run tick, drain. */
void h_advance(h_harness *h, uint64_t ms);
void h_at(h_harness *h, uint64_t t);

/* Drain every ready peer that is not on hold. */
void h_pump(h_harness *h);

/* Slow consumer on/off. Turning it off does not drain by itself. */
void h_hold(h_peer *p, int on);
/* Write n (or all) of p's pending bytes into its buffer; returns bytes. */
size_t h_drain_n(h_peer *p, size_t n);
size_t h_drain(h_peer *p);

/* Where p's oldest pending output piece lies (it must have one): peers
 * that share a rendering share this address. */
const void *h_first_piece(const h_peer *p);

/* Forget what p (or everyone) has received so far. */
void h_clear(h_peer *p);
void h_clear_all(h_harness *h);

/* The peer's current name / room, never NULL ("" if none). */
const char *h_name(const h_peer *p);
const char *h_room(const h_peer *p);
chat_close_reason h_reason(const h_peer *p);
size_t h_pending(const h_peer *p);

/*
 * Pop the next complete line (without "\n") from p's buffer into a fresh
 * string the caller frees, or NULL if there is none.
 */
char *h_take_line(h_peer *p);
/* Number of complete lines in p's buffer. */
size_t h_count_lines(const h_peer *p);
/* Non-zero if p's buffer holds this exact line (without "\n"). */
int h_has_line(const h_peer *p, const char *line);

/* The help text (greeting block up to, not including, "You are"). */
char *h_help_text(void);

/*
 * expect_lines(p, "a\n", "b\n"): p's buffer is exactly the concatenation,
 * which is then cleared. expect_out(p, bytes, len) for binary output.
 * expect_nothing(p): the buffer is empty.
 */
#define expect_lines(p, ...) \
    h_expect_lines(__FILE__, __LINE__, (p), __VA_ARGS__, (const char *)NULL)
#define expect_nothing(p) h_expect_nothing(__FILE__, __LINE__, (p))
#define expect_out(p, s, n) h_expect_out(__FILE__, __LINE__, (p), (s), (n))
/* p's buffer starts with s; the prefix is removed. */
#define expect_prefix(p, s) h_expect_prefix(__FILE__, __LINE__, (p), (s))
/* The lines are in p's buffer in any order and nothing else; cleared. */
#define expect_lines_any_order(p, ...) \
    h_expect_any(__FILE__, __LINE__, (p), __VA_ARGS__, (const char *)NULL)

void h_expect_lines(const char *file, int line, h_peer *p, ...);
void h_expect_nothing(const char *file, int line, h_peer *p);
void h_expect_out(const char *file, int line, h_peer *p, const char *s,
                  size_t n);
void h_expect_prefix(const char *file, int line, h_peer *p, const char *s);
void h_expect_any(const char *file, int line, h_peer *p, ...);

/* Run a suite with its own runner; returns the process exit status. */
int h_run_suite(Suite *s);

/* A string of n copies of c; the caller frees it. */
char *h_repeat(char c, size_t n);

#endif /* CHAT_TEST_HARNESS_H */
