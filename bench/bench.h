/*
 * chat-bench internals: one struct for the whole generator, shared by the
 * files of bench/. Not installed; nothing here is libchat API.
 *
 *   args.c     command line
 *   hist.c     log-linear latency histogram
 *   payload.c  the benchmark message: writing it, reading it back,
 *              per-sender order tracking
 *   resp.c     --target redis: the RESP replies, read line by line
 *   proc.c     --server-pid: the server's CPU time and memory from /proc
 *   net.c      connections: connect, read lines, write, the setup into rooms
 *   tls.c      --tls: an OpenSSL session on each connection's socket
 *   redis.c    --target redis: the setup, PUBLISH, and the replies
 *   load.c     load mode: pacing, accounting, drain
 *   bots.c     --bots mode: simulated users
 *   report.c   progress line and the final report (text or JSON)
 *   main.c     fd limit, signals, the loop, exit status
 */
#ifndef CHAT_BENCH_H
#define CHAT_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <libchat/chat.h>

/* ---- command line (args.c) ---------------------------------------------- */

enum bench_target {
    BENCH_TARGET_CHATD, /* chatd's line protocol: rooms, echoes */
    BENCH_TARGET_REDIS, /* redis-server pub/sub: channels, no echoes */
};

/* When a sender's message stops counting against its --window. */
enum bench_ack {
    BENCH_ACK_SERVER,    /* the server's answer: chatd's echo, redis's
                            PUBLISH reply */
    BENCH_ACK_RECEIVERS, /* every receiver in the room has it */
};

struct bench_opts {
    const char *host;        /* default 127.0.0.1 */
    const char *port;        /* decimal 1..65535; default 4242 (chatd),
                                6379 (redis) */
    enum bench_target target;
    enum bench_ack ack;
    long server_pid;         /* --server-pid; 0: none */
    double settle;           /* seconds of quiet after the setup */
    unsigned clients;        /* connections (bots in --bots) */
    unsigned rooms;          /* rooms the clients are spread over */
    unsigned senders;        /* clients that send (load mode) */
    uint64_t messages;       /* per sender; 0: until --duration */
    unsigned size;           /* bytes of each message's text */
    double rate;             /* per sender per second; 0: window pacing */
    unsigned window;         /* unacknowledged messages per sender */
    double duration;         /* seconds of sending; 0: no limit */
    double drain_timeout;    /* seconds without progress that end a drain */
    unsigned concurrency;    /* connection setups in flight at once */
    uint64_t seed;           /* --bots randomness; 0: from the clock */
    int json;                /* --json report */
    int bots;                /* --bots mode */
    int tls;                 /* --tls */
    const char *cafile;      /* --cafile: verify the server; NULL: no */
};

enum bench_args_result {
    BENCH_ARGS_RUN = 0,  /* options parsed: run */
    BENCH_ARGS_DONE,     /* --help or --version printed: exit 0 */
    BENCH_ARGS_USAGE,    /* a bad flag, one line printed to err: exit 2 */
};

#define BENCH_MIN_SIZE 48          /* the header takes up to 44 bytes */
#define BENCH_MAX_CLIENTS 1000000u /* sender ids stay within 6 digits */

enum bench_args_result bench_parse_args(struct bench_opts *o, int argc,
                                        char **argv, FILE *out, FILE *err);

/* ---- latency histogram (hist.c) ----------------------------------------- */

/*
 * Log-linear: exact below 64, then 64 buckets per power of two, so any
 * value is reported within 1/64 (1.6%) of itself. Values are nanoseconds.
 */
#define BENCH_HIST_SUB 64
#define BENCH_HIST_BUCKETS 3712 /* 64 x 58: up to 2^63 ns */

struct bench_hist {
    uint64_t count;
    uint64_t max;
    uint64_t sum;
    uint64_t bucket[BENCH_HIST_BUCKETS];
};

void bench_hist_reset(struct bench_hist *h);
void bench_hist_add(struct bench_hist *h, uint64_t v);
/* The value at quantile q (0..1), within 1.6%, never above max; 0 if empty. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

/* ---- the benchmark message (payload.c) ---------------------------------- */

/*
 * The text of a benchmark message is "@cb/SID/SEQ/TNS/" padded with 'x'
 * to exactly --size bytes: sender id, sequence number (from 1) and the
 * send time on CLOCK_MONOTONIC in ns. Receivers see "{name}: {text}".
 */
struct bench_msg {
    uint32_t sid;
    uint32_t seq;
    uint64_t t_ns;
};

/* Write the text and "\n" into buf (size + 1 bytes). Returns size + 1,
 * or 0 if size cannot hold the header. */
size_t bench_payload_write(char *buf, size_t size, const struct bench_msg *m);

/* 1 if line (len bytes, no terminator) is "{name}: " followed by a
 * benchmark text, filling *m; 0 for any other line. */
int bench_payload_parse(const char *line, size_t len, struct bench_msg *m);
/* The same for a bare benchmark text (a redis message's payload). */
int bench_payload_parse_text(const char *text, size_t len,
                             struct bench_msg *m);

/* What one receiver has seen from one sender. */
struct bench_seq {
    uint32_t hi;   /* highest sequence number seen; 0: none yet */
    uint32_t seen; /* bit k: hi - 1 - k was seen */
};

enum bench_seq_result {
    BENCH_SEQ_IN_ORDER,  /* new, above everything seen (gaps allowed) */
    BENCH_SEQ_LATE,      /* new, but below one seen before: reordered */
    BENCH_SEQ_DUPLICATE, /* seen before */
};

enum bench_seq_result bench_seq_track(struct bench_seq *st, uint32_t seq);

/* Decimal digits of v written at p (no NUL); returns how many. */
size_t bench_put_u64(char *p, uint64_t v);

/* ---- RESP replies, read line by line (resp.c) ---------------------------- */

/*
 * The replies of redis pub/sub are flat: simple strings, errors, integers,
 * bulk strings, and arrays of those. Every line the framer splits off
 * (CRLF removed) goes through bench_resp_line, which says what it
 * completed. Bulk strings must hold no line break; chat-bench's channels
 * and payloads never do, and anything else is reported as BENCH_RESP_BAD.
 */
enum bench_resp_kind {
    BENCH_RESP_NONE,       /* part of a reply: nothing to act on yet */
    BENCH_RESP_STATUS,     /* +TEXT (data: TEXT) */
    BENCH_RESP_ERROR,      /* -TEXT (data: TEXT) */
    BENCH_RESP_INTEGER,    /* :N (value), at top level */
    BENCH_RESP_SUBSCRIBED, /* ["subscribe", channel, n] (data: channel) */
    BENCH_RESP_MESSAGE,    /* ["message", channel, payload] (data: payload) */
    BENCH_RESP_OTHER,      /* any other reply, or a part of one */
    BENCH_RESP_BAD,        /* not RESP as chat-bench reads it */
};

/* What one line completed; data is valid only until the next line. */
struct bench_resp_event {
    const char *data;
    size_t len;
    long long value;
};

/* The reader's state between lines; all zero to start. */
struct bench_resp {
    long long items;    /* elements still due in the current array */
    long long bulk;     /* bytes of the bulk string on the next line,
                           or 0 when the next line is a type line */
    int in_bulk;        /* the next line is a bulk string's bytes */
    unsigned index;     /* element number in the current array */
    int what;           /* what the array is, from its first element */
};

enum bench_resp_kind bench_resp_line(struct bench_resp *r, const char *line,
                                     size_t len, struct bench_resp_event *ev);

/* ---- the server process (proc.c) ------------------------------------------ */

/* The CPU time (user + system, all threads) and resident memory of a
 * process, from /proc; 0, or -1 if it cannot be read. */
int bench_proc_read(long pid, double *cpu_s, long *rss_kib);
/* Seconds the whole machine's CPUs were busy since boot, from /proc/stat;
 * -1 if unknown. */
double bench_machine_busy_s(void);

/* ---- the generator -------------------------------------------------------- */

struct event_base;
struct event;
struct addrinfo;
struct bench;
struct ssl_st;
struct ssl_ctx_st;

enum bench_conn_state {
    CONN_NEW,        /* not started */
    CONN_CONNECTING, /* TCP connect in progress */
    CONN_HANDSHAKE,  /* --tls: TLS handshake in progress */
    CONN_GREETING,   /* reading the greeting up to "You joined ..." */
    CONN_JOINING,    /* sent /join (redis: SUBSCRIBE or PING), waiting
                        for the answer */
    CONN_READY,      /* in its room */
    CONN_CLOSED,
};

struct bench_outbuf {
    char *data;
    size_t off, len, cap; /* bytes [off, len) are unsent */
};

struct bench_sender;
struct bench_bot;

struct bench_conn {
    struct bench *b;
    unsigned id;
    unsigned room;               /* room index: the client's target room */
    int fd;
    struct ssl_st *ssl;          /* --tls, once TCP is up */
    const char *tls_why;         /* --tls: why the last TLS call failed */
    enum bench_conn_state state;
    struct event *rev, *wev;     /* wev: connect, then pending output */
    chat_framer *rx;
    struct bench_outbuf out;
    uint64_t last_send_ns;       /* for the idle keepalive and the nudge */
    int got_data;                /* anything received yet */
    struct bench_seq *from;      /* load: by index of the sender in my room */
    struct bench_sender *sender; /* load: non-NULL if this client sends */
    struct bench_bot *bot;       /* --bots */
    struct bench_resp resp;      /* --target redis: the reply being read */
    char name[CHAT_NAME_MAX + 8]; /* from "You are X" (and renames) */
    char last_line[96];          /* last line that was not chat, for errors */
};

struct bench_sender {
    struct bench_conn *conn;
    unsigned index;          /* sender id: conn->id */
    unsigned due;            /* deliveries due per message: the room's other
                                members (chatd), its subscribers (redis) */
    unsigned receivers;      /* clients in its room that do not send */
    uint32_t sent;           /* messages sent (last sequence number) */
    uint32_t acked;          /* every message up to here is acknowledged
                                (--ack), or settled by a stall */
    uint32_t echoed;         /* distinct echoes received */
    uint32_t replies;        /* redis: PUBLISH replies received */
    uint32_t *got;           /* --ack receivers: receivers that have
                                message q, at [q % window] */
    struct bench_seq echo;   /* order of its own echoes */
    uint32_t too_fast;       /* "You are sending too fast" received */
    int excused;             /* a notice explains missing echoes */
    uint64_t last_ack_ns;
    uint64_t start_ns;       /* --rate: this sender's first send time */
};

enum bench_phase {
    PHASE_SETUP,   /* connecting and joining rooms */
    PHASE_SENDING, /* load: senders at work; bots: chatting */
    PHASE_DRAIN,   /* load: waiting for the last deliveries; bots: quitting */
    PHASE_DONE,
};

/* Counters of the load run; what the report shows. */
struct bench_counts {
    uint64_t sent;         /* messages written by the senders */
    uint64_t deliveries;   /* distinct messages received by room members
                              other than their sender */
    uint64_t receiver_deliveries; /* those received by clients that do not
                                     send: the count both targets share */
    uint64_t echoes;       /* distinct messages received back by the sender */
    uint64_t dropped;      /* sum of the n in the server's dropped notices */
    uint64_t too_fast;     /* "You are sending too fast" lines */
    uint64_t reordered;    /* received after a later one from that sender */
    uint64_t duplicates;   /* received again */
    uint64_t foreign;      /* chat lines that are not from this run */
    uint64_t setup_dropped; /* dropped notices before sending started */
};

struct bench {
    struct bench_opts opt;
    struct event_base *base;
    struct addrinfo *ai_list;
    const struct addrinfo *ai;  /* the address every client uses */
    struct ssl_ctx_st *tls_ctx; /* --tls */
    int tty;                    /* stderr is a terminal: progress line */
    int progress_shown;         /* a progress line is on screen */
    int exit_code;
    int fatal;                  /* an error line was printed */
    int interrupted;            /* SIGINT/SIGTERM received */
    enum bench_phase phase;

    struct bench_conn *conns;   /* opt.clients of them */
    unsigned started;           /* conns launched */
    unsigned inflight;          /* setups in progress */
    unsigned joined;            /* conns that reached CONN_READY */
    unsigned open;              /* conns not closed */
    unsigned probing;           /* the first connect is finding an address */
    uint64_t setup_start_ns, setup_end_ns, last_setup_ns;
    uint64_t last_rx_ns;        /* when anything was last received */
    int settling;               /* load: all in, waiting for the server to
                                   go quiet before sending */

    struct event *tick_ev;      /* every TICK_MS: progress, stalls, drain */
    struct event *send_ev;      /* --rate pacing */
    struct event *stop_ev;      /* --duration */
    unsigned ticks;

    /* load mode (load.c) */
    struct bench_sender *senders;
    unsigned senders_done;
    struct bench_counts n;
    struct bench_hist lat;      /* whole run */
    struct bench_hist lat_tick; /* since the last progress line */
    uint64_t n_at_tick;         /* deliveries at the last progress line */
    uint64_t shown_ns;          /* time of the last progress line */
    uint64_t now_ns;            /* time of the read being handled */
    uint64_t start_ns, send_end_ns, last_progress_ns, end_ns;
    double cpu_user0, cpu_sys0, cpu_user, cpu_sys;
    int stalled;                /* ended by the drain timeout */

    /* --server-pid: the server as /proc sees it */
    long srv_rss_start, srv_rss_idle;  /* KiB: before connecting; once the
                                          setup has settled */
    double srv_cpu0, srv_cpu1;         /* over the sending phase */
    uint64_t sample_end_ns;            /* when the end was sampled */
    double busy0, busy1;               /* the machine's, same interval */

    /* bots mode (bots.c) */
    struct bench_botstate *bots;
};

/* ---- net.c ---------------------------------------------------------------- */

#define TICK_MS 100
#define BENCH_MAX_RX_LINE 4096 /* server lines are under 500 bytes */

uint64_t bench_now_ns(void);
/* The one read buffer, for plain and TLS reads alike. */
#define BENCH_RX_BUF (64 * 1024)
extern char bench_rx_buf[BENCH_RX_BUF];
/* Lines received on c (n bytes at buf): to the framer. */
void bench_conn_received(struct bench_conn *c, const char *buf, size_t n);
/* c's output was written as far as it goes: watch for room if need be. */
void bench_conn_flushed(struct bench_conn *c);
/* c is connected (TCP, and TLS with --tls): the setup starts. */
void bench_conn_up(struct bench_conn *c);
/* c ended: the server closed it (error NULL) or error says why. */
void bench_conn_lost(struct bench_conn *c, const char *error);
/* Resolve the host; 0, or -1 after printing the error. */
int bench_resolve(struct bench *b);
/* Launch connections up to the concurrency limit. */
void bench_connect_more(struct bench *b);
/* Queue bytes on a connection; flushed by bench_flush. */
void bench_send(struct bench_conn *c, const char *data, size_t len);
/* Reserve len bytes at the end of c's output; NULL after a fatal error. */
char *bench_send_reserve(struct bench_conn *c, size_t len);
void bench_flush(struct bench_conn *c);
void bench_conn_close(struct bench_conn *c);
void bench_conns_free(struct bench *b);
/* 1 if line equals the NUL-terminated s; 1 if it starts with it (prefix). */
int bench_line_is(const char *line, size_t len, const char *s);
int bench_line_starts(const char *line, size_t len, const char *s);
/* The name of room index i (load: "room1".., bots: friendlier names). */
void bench_room_name(const struct bench *b, unsigned i, char *buf,
                     size_t size);
/* Remember a line for error messages. */
void bench_note_line(struct bench_conn *c, const char *line, size_t len);
/* A client is in its room (redis: subscribed, or answered PING). */
void bench_conn_ready(struct bench_conn *c);

/* ---- redis.c -------------------------------------------------------------- */

/* Connected: SUBSCRIBE to the room's channel, or PING for a sender. */
void bench_redis_start(struct bench_conn *c);
/* One line from the server. */
void bench_redis_line(struct bench_conn *c, const char *line, size_t len);
/* Queue one PUBLISH of a benchmark text of size bytes; returns where the
 * text goes (size bytes), or NULL after a fatal error. */
char *bench_redis_publish(struct bench_conn *c, size_t size);

/* ---- load.c --------------------------------------------------------------- */

/* What the report prints, derived from the counters at the end. */
struct bench_result {
    double setup_s;             /* first connect to last client in its room */
    double elapsed_s;           /* first send to the last delivery */
    uint64_t accepted;          /* messages the server relayed */
    uint64_t refused;           /* messages the rate limit dropped (estimated) */
    uint64_t expected_deliveries, expected_echoes;
    uint64_t lost;              /* expected - received - dropped, at least 0 */
    double deliveries_per_s, messages_per_s;
    double receiver_deliveries_per_s;
    double cpu_user_s, cpu_sys_s, cpu_pct;
    /* --server-pid; server_ns_per_delivery and other_cpu_pct are -1 when
       there is nothing to divide by */
    double server_cpu_s, server_ns_per_delivery, other_cpu_pct;
    uint64_t p50, p99, p999, max, mean; /* latency, ns */
};

void bench_load_result(const struct bench *b, struct bench_result *r);

int bench_load_init(struct bench *b);
void bench_load_start(struct bench *b);     /* every client joined */
void bench_load_line(struct bench_conn *c, const char *line, size_t len);
/* A benchmark message received (redis: a message's payload). */
void bench_load_payload(struct bench_conn *c, const struct bench_msg *m);
/* redis: a sender's PUBLISH was answered. */
void bench_load_publish_reply(struct bench_conn *c);
void bench_load_tick(struct bench *b);
void bench_load_stop_sending(struct bench *b); /* --duration or a signal */
void bench_load_finish(struct bench *b);
/* An error ended the run early: take the end figures now. */
void bench_load_cut_short(struct bench *b);
void bench_load_free(struct bench *b);

/* ---- tls.c ---------------------------------------------------------------- */

/* The client context (nothing without --tls); -1 after bench_fatal. */
int bench_tls_init(struct bench *b);
/* TCP is up: a session on c->fd, and the handshake starts (state
 * CONN_HANDSHAKE; bench_conn_up() once done). -1 when out of memory. */
int bench_tls_start(struct bench_conn *c);
/* c's read or write event fired (c->ssl set): handshake, read, write. */
void bench_tls_readable(struct bench_conn *c);
void bench_tls_writable(struct bench_conn *c);
/* bench_flush() for c->ssl: records of up to 16 KiB. */
void bench_tls_flush(struct bench_conn *c);
void bench_tls_close(struct bench_conn *c);
void bench_tls_free(struct bench *b);

/* ---- bots.c --------------------------------------------------------------- */

int bench_bots_init(struct bench *b);
void bench_bot_ready(struct bench_conn *c);  /* one bot is in its room */
void bench_bots_start(struct bench *b);      /* every bot is in */
void bench_bot_line(struct bench_conn *c, const char *line, size_t len);
void bench_bot_closed(struct bench_conn *c);
void bench_bots_tick(struct bench *b);
void bench_bots_stop(struct bench *b);       /* --duration or a signal */
void bench_bots_free(struct bench *b);

/* ---- report.c ------------------------------------------------------------- */

/* One error line on stderr (after clearing the progress line); the run
 * stops with exit status 1. Only the first error is printed. */
void bench_fatal(struct bench *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Replace the progress line on stderr (only when it is a terminal). */
void bench_progress(struct bench *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void bench_progress_clear(struct bench *b);
void bench_report_load(struct bench *b, FILE *out);
void bench_report_bots(struct bench *b, FILE *out);
/* "1.23M"-style short numbers for the progress line. */
void bench_human(double v, char *buf, size_t size);
/* CPU seconds used so far by this process. */
void bench_cpu(double *user, double *sys);

/* ---- main.c ---------------------------------------------------------------- */

/* Stop the loop: the run is over (report follows). */
void bench_done(struct bench *b);

#endif /* CHAT_BENCH_H */
