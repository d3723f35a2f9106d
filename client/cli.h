/*
 * chat-cli internals: one struct for the whole client, shared by the files
 * of client/. Not installed; nothing here is libchat API.
 *
 *   args.c     command line
 *   lines.c    what a server line is (colour class, name/room tracking)
 *   backoff.c  reconnect delays
 *   conn.c     connecting, the server's lines, login, reconnect, half-close
 *   tls.c      --tls: the OpenSSL filter over the connection, verification
 *   input.c    stdin: readline in a terminal, lines from a pipe or file
 *   output.c   printing server lines and the client's own notices
 *   main.c     setup, signals, exit
 */
#ifndef CHAT_CLI_H
#define CHAT_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libchat/chat.h>

/* ---- command line (args.c) ---------------------------------------------- */

struct cli_opts {
    const char *host;  /* name or address; default 127.0.0.1 */
    const char *port;  /* decimal 1..65535; default 4242 */
    const char *name;  /* --name, NULL if none */
    int reconnect;     /* --reconnect */
    int tls;           /* --tls */
    const char *cafile; /* --cafile: trust these CAs, not the system's */
    int insecure;      /* --insecure: verify nothing */
};

enum cli_args_result {
    CLI_ARGS_RUN = 0,  /* options parsed: run the client */
    CLI_ARGS_DONE,     /* --help or --version printed: exit 0 */
    CLI_ARGS_USAGE,    /* a bad flag, one line printed to err: exit 2 */
};

/* Parse argv into o. Messages go to out (help, version) and err (usage). */
enum cli_args_result cli_parse_args(struct cli_opts *o, int argc, char **argv,
                                    FILE *out, FILE *err);

/* ---- server lines (lines.c) --------------------------------------------- */

/* What a received line is, for its colour. */
enum cli_kind {
    CLI_KIND_OWN,     /* my chat line or my /me */
    CLI_KIND_OTHER,   /* someone else's chat line or /me */
    CLI_KIND_DIRECT,  /* "from X: ..." or "to X: ..." */
    CLI_KIND_NOTICE,  /* joins, leaves, renames, help, lists, "You are ..." */
    CLI_KIND_ERROR,   /* a reply saying a command or line was refused */
};

/*
 * Classify line (len bytes, no terminator); me is my current name (may be
 * "" when unknown). If prefix_len is not NULL it receives how many leading
 * bytes hold the speaker's name for CLI_KIND_OTHER (0 otherwise), so the
 * caller can colour just the name.
 */
enum cli_kind cli_classify(const char *line, size_t len, const char *me,
                           size_t *name_len);

/* The session as the client sees it, learnt from the server's lines. */
struct cli_session {
    char name[CHAT_NAME_MAX + 1]; /* "" until "You are X" */
    char room[CHAT_NAME_MAX + 1]; /* "" until "You joined R" */
};

/* What cli_track() learnt from a line. */
#define CLI_TRACK_NAME 0x1  /* s->name changed */
#define CLI_TRACK_ROOM 0x2  /* s->room changed */
#define CLI_TRACK_HELLO 0x4 /* the line was "You are X": a session began */

/* Update s from one server line; returns CLI_TRACK_* flags. */
unsigned cli_track(struct cli_session *s, const char *line, size_t len);

/* 1 if a line typed by the user is the /quit command. */
int cli_is_quit(const char *line, size_t len);

/* The exact server lines the client reacts to. */
#define CLI_LINE_GREETING "Server commands"
#define CLI_LINE_BAD_NAME "Name must be 2-24 characters: letters, digits, _ or -"

/* 1 if line equals the NUL-terminated exact */
int cli_line_is(const char *line, size_t len, const char *exact);

/* ---- reconnect delays (backoff.c) --------------------------------------- */

#define CLI_BACKOFF_BASE_MS 500u
#define CLI_BACKOFF_CAP_MS 30000u

/*
 * Delay before reconnect attempt number attempt (0-based): exponential from
 * CLI_BACKOFF_BASE_MS, capped at CLI_BACKOFF_CAP_MS, then jittered into
 * [d/2, d] by rnd (any random 32-bit value).
 */
uint32_t cli_backoff_ms(unsigned attempt, uint32_t rnd);

/* ---- the client ----------------------------------------------------------- */

struct event_base;
struct event;
struct bufferevent;
struct evbuffer;
struct addrinfo;
struct timeval;
struct ssl_ctx_st;
struct ssl_session_st;

enum cli_state {
    CLI_DOWN,       /* no connection (maybe waiting to retry) */
    CLI_CONNECTING, /* TCP connect in progress */
    CLI_HANDSHAKE,  /* --tls: TLS handshake in progress */
    CLI_PROBING,    /* sent "/name N"; the first reply tells the server's mode */
    CLI_LOGIN,      /* login mode: sent the name, waiting for the greeting */
    CLI_READY,      /* user lines go straight to the server */
};

struct cli {
    struct cli_opts opt;
    struct event_base *base;
    int interactive; /* stdin is a terminal: readline UI */
    int tty_out;     /* stdout is a terminal: control chars are neutralised */
    int color;       /* ANSI colours (interactive, tty, no NO_COLOR) */

    /* connection (conn.c) */
    enum cli_state state;
    struct addrinfo *ai_list;
    struct addrinfo *ai_next;        /* next address to try */
    struct bufferevent *bev;
    chat_framer *rx;                 /* splits the server's bytes into lines */
    int last_err;                    /* errno of the last failed connect */
    unsigned connections;            /* made so far; after one, retries are allowed */
    int got_line;                    /* this connection received a line */
    int in_help;                     /* skipping a repeated help text */
    unsigned attempt;                /* reconnects since the last session */
    struct event *retry_ev;
    struct event *hint_ev;           /* "the server may want a name" hint */
    struct event *quiet_ev;          /* drain end after half-close */
    struct event *quit_ev;           /* give up waiting for the server to close */
    struct cli_session sess;
    struct ssl_ctx_st *tls_ctx;      /* --tls: one for every connection */
    struct ssl_session_st *tls_session; /* the last one, to resume */
    char want_name[CHAT_NAME_MAX + 1]; /* name to claim on (re)connect */
    char want_room[CHAT_NAME_MAX + 1]; /* room to rejoin after a reconnect */
    struct evbuffer *held;           /* user lines waiting for CLI_READY */
    int quitting;                    /* /quit sent, Ctrl-D or a signal */
    int half_closed;                 /* stdin ended and SHUT_WR was done */

    /* input (input.c) */
    struct event *stdin_ev;
    int stdin_active;                /* stdin_ev is added or active */
    int stdin_poll;                  /* stdin is always readable (a file) */
    int stdin_eof;
    chat_framer *tx;                 /* splits piped stdin into lines */
    int rl_installed;                /* the readline handler is installed */
    /* The cursor is at the start of an empty line: readline has just ended
     * one and nothing has drawn the prompt again since. */
    int at_line_start;

    int exit_code;
    int exiting;
};

/* conn.c */
int cli_conn_init(struct cli *c);
int cli_conn_start(struct cli *c);
void cli_conn_send_user(struct cli *c, const char *line, size_t len);
void cli_conn_leave(struct cli *c);
void cli_conn_free(struct cli *c);
int cli_conn_output_full(const struct cli *c);
void cli_conn_input_done(struct cli *c);

/* tls.c: --tls (all but cli_tls_init and cli_tls_free need c->bev) */
/* Set up the client context from the options (nothing without --tls);
 * -1 after one line on stderr (e.g. an unreadable --cafile). */
int cli_tls_init(struct cli *c);
/* Wrap c->bev, connected, in a TLS filter that starts the handshake,
 * ending with BEV_EVENT_CONNECTED or an error within timeout. -1 when out
 * of memory (c->bev is then still the plain one). */
int cli_tls_start(struct cli *c, const struct timeval *timeout);
/* Why the handshake failed, as one sentence, into msg. */
void cli_tls_failure(const struct cli *c, char *msg, size_t size);
/* OpenSSL's reason for an error on an established connection, or NULL
 * if it was the socket's (errno). */
const char *cli_tls_error(const struct cli *c);
/* Half-close: send close_notify behind the output. 0, or -1. */
int cli_tls_close_notify(struct cli *c);
/* The server ended the connection cleanly: keep its session for the
 * next connection to resume. */
void cli_tls_keep_session(struct cli *c);
void cli_tls_free(struct cli *c);

/* input.c */
int cli_input_start(struct cli *c);
void cli_input_update(struct cli *c);
void cli_input_prompt(struct cli *c);
void cli_input_stop(struct cli *c);
void cli_input_resize(struct cli *c);
void cli_input_suspend(struct cli *c);
void cli_input_free(struct cli *c);

/* output.c */
void cli_show_server_line(struct cli *c, const char *line, size_t len);
void cli_notice(struct cli *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* main.c */
void cli_exit(struct cli *c, int code);

#endif /* CHAT_CLI_H */
