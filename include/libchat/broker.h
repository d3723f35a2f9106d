/*
 * libchat - the broker: a chat server's whole logic with no I/O.
 *
 * The caller (a TCP server, a WebSocket bridge, a test) owns transports,
 * clocks and timers. It tells the broker that a peer joined, hands it the
 * bytes that peer sent, and pulls each peer's output when it can write.
 * Time is always an argument: monotonic milliseconds from any origin.
 *
 * Output is pulled, not pushed (see doc/api.md for why): every byte for a
 * peer waits in that peer's outbox inside the broker until the caller
 * consumes it, so the broker knows each peer's backlog exactly and decides
 * slow consumers itself; fan-out never calls back into the caller. Each
 * chat line is formatted once into a refcounted buffer that every
 * recipient's outbox references.
 *
 * A typical loop pass:
 *
 *     chat_peer_feed(b, p, bytes, n, now);            // for each readable peer
 *     chat_broker_tick(b, now);                       // when next_deadline passes
 *     while ((p = chat_broker_next_ready(b))) {       // once per pass
 *         chat_iov iov[16];
 *         size_t k = chat_peer_peek(p, iov, 16);
 *         size_t w = write_somewhere(iov, k);
 *         chat_peer_consume(b, p, w, now);
 *         if (chat_peer_close_reason(p) && !chat_peer_pending(p))
 *             close_transport_then(chat_peer_release(b, p, now));
 *     }
 *
 * Threads: a broker and its peers are not thread-safe; use one broker from
 * one thread at a time. Brokers share nothing: any number may coexist.
 */
#ifndef LIBCHAT_BROKER_H
#define LIBCHAT_BROKER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chat_broker chat_broker;
typedef struct chat_peer chat_peer;

/* No deadline pending (chat_broker_next_deadline). */
#define CHAT_NO_DEADLINE UINT64_MAX

/* Options for chat_broker_set_option(); defaults are doc/protocol.md's. */
typedef enum chat_option {
    CHAT_OPT_LOGIN_MODE = 1,   /* 0/1: first line is the name. Default 0 */
    CHAT_OPT_HISTORY,          /* chat lines kept per room. 20; 0 = off */
    CHAT_OPT_RATE,             /* lines per second per peer. 20; 0 = off */
    CHAT_OPT_BURST,            /* rate-limit burst. 40; 0 = RATE */
    CHAT_OPT_IDLE_TIMEOUT_MS,  /* no input for this long: closed. 300000; 0 = off */
    CHAT_OPT_LOGIN_TIMEOUT_MS, /* login mode: no name for this long. 30000; 0 = off */
    CHAT_OPT_HIGH_WATER,       /* outbox bytes where a peer turns slow. 1 MiB */
    CHAT_OPT_WRITE_TIMEOUT_MS, /* backlog not moving this long: closed. 30000; 0 = off */
    CHAT_OPT_MAX_PEERS,        /* peers at once; past it, "Server is full". 0 = no cap */
    CHAT_OPT_SEED,             /* seeds the name order and hashing. Set before any join */
    CHAT_OPT_FILTER_TIMEOUT_MS,/* a pending filter's answer: dropped after. 5000; 0 = never */
    CHAT_OPT_FILTER_BACKLOG,   /* lines a sender may have waiting behind a pending
                                  message; past it, "too fast". 16 */
    CHAT_OPT_EVENT_QUEUE,      /* cluster events waiting to be pulled; past it
                                  they are dropped and counted. 65536 */
    CHAT_OPT_RESERVED_PEERS,   /* slots of CHAT_OPT_MAX_PEERS the caller holds
                                  for connections not joined yet (an HTTP
                                  request, a TLS handshake). 0 */
    CHAT_OPT_CLAIM_TIMEOUT_MS, /* cluster mode: a name claim's answer; past it
                                  the node decides alone. 5000 */
} chat_option;

/*
 * Dialects: how a peer's lines look and how its input reads
 * (doc/protocol.md has a section per dialect). Peers of different dialects
 * share rooms; each sees every line in its own dialect.
 */
typedef enum chat_dialect {
    CHAT_DIALECT_CHAT = 0, /* doc/protocol.md's own: the default */
    CHAT_DIALECT_A_CHAT,   /* the async-std book's a-chat: "name: text" DMs */
    CHAT_DIALECT_TELEX,    /* the Telex series: "<name> text" */
    CHAT_DIALECT_COUNT     /* how many this header knows */
} chat_dialect;

/* The dialect called name ("chat", "a-chat", "telex") into *out (may be
 * NULL: just check). Errors: CHAT_ERR_INVALID for an unknown name. */
CHAT_EXTERN int chat_dialect_parse(const char *name, chat_dialect *out);

/* A dialect's name (static string), or NULL if d is not one. */
CHAT_EXTERN const char *chat_dialect_name(chat_dialect d);

/* How a peer's output is framed (chat_peer_options.framing). */
typedef enum chat_framing {
    CHAT_FRAMING_LINES = 0,  /* each line ends in "\n": TCP, TLS, a pipe */
    CHAT_FRAMING_WEBSOCKET,  /* each line is one RFC 6455 text frame, as a
                                server sends it (unmasked, FIN set) */
} chat_framing;

/* "Use the default" for the int fields of chat_peer_options. */
#define CHAT_DEFAULT (-1)

/*
 * Per-connection options for chat_broker_join_opts(). Start from
 * CHAT_PEER_OPTIONS_INIT and change what you need: size records which
 * fields the caller knows, so the struct can grow without an ABI break
 * (fields past size take their defaults).
 */
typedef struct chat_peer_options {
    size_t size;          /* sizeof(chat_peer_options) */
    chat_dialect dialect; /* default CHAT_DIALECT_CHAT */
    int login;            /* 1: the first line is the name. CHAT_DEFAULT: 1
                             for a-chat and telex, else CHAT_OPT_LOGIN_MODE */
    int telnet;           /* 1: consume telnet IAC sequences. CHAT_DEFAULT:
                             on for byte streams, off for lines */
    int lines;            /* 1: the caller feeds whole lines with
                             chat_peer_feed_line (WebSocket text frames);
                             0 (default): bytes with chat_peer_feed */
    chat_framing framing; /* how output is framed; default LINES */
} chat_peer_options;

#define CHAT_PEER_OPTIONS_INIT                                                 \
    {sizeof(chat_peer_options), CHAT_DIALECT_CHAT, CHAT_DEFAULT, CHAT_DEFAULT, \
     0, CHAT_FRAMING_LINES}

/* Why a peer is closing (chat_peer_close_reason). */
typedef enum chat_close_reason {
    CHAT_CLOSE_NONE = 0,      /* open */
    CHAT_CLOSE_QUIT,          /* /quit, a Ctrl-D line or telnet interrupt: flush, close */
    CHAT_CLOSE_EOF,           /* chat_peer_eof(): flush what is left, then close */
    CHAT_CLOSE_IDLE,          /* idle timeout: flush the notice, then close */
    CHAT_CLOSE_LOGIN_TIMEOUT, /* login mode, no name in time: flush, close */
    CHAT_CLOSE_FULL,          /* over CHAT_OPT_MAX_PEERS: flush the notice, close */
    CHAT_CLOSE_SHUTDOWN,      /* chat_broker_shutdown(): flush, close */
    CHAT_CLOSE_SLOW,          /* backlog past 4x high water: outbox discarded, close now */
    CHAT_CLOSE_WRITE_TIMEOUT, /* backlog stuck: outbox discarded, close now */
    CHAT_CLOSE_NOMEM,         /* the broker ran out of memory for this peer: close now */
} chat_close_reason;

/* Kinds of relayed text, as seen by filters. */
typedef enum chat_msg_kind {
    CHAT_KIND_CHAT = 1, /* a room chat line: "{name}: {text}" */
    CHAT_KIND_ME,       /* /me: "* {name} {text}" */
    CHAT_KIND_DIRECT,   /* /msg: "from {name}: {text}" */
} chat_msg_kind;

/* A snapshot of counters (chat_broker_stats). */
typedef struct chat_stats {
    uint64_t peers;      /* peers joined and not yet released */
    uint64_t named;      /* peers holding a name (not closing, logged in) */
    uint64_t rooms;      /* rooms that exist (each has >= 1 member) */
    uint64_t messages;   /* chat, /me and direct messages relayed */
    uint64_t deliveries; /* lines queued to outboxes, all kinds */
    uint64_t dropped;    /* lines dropped for slow consumers */
    uint64_t bytes_queued; /* bytes in all outboxes now */
    /* Fields are only ever added here, at the end (chat_broker_stats
     * copies as much as the caller's out_size holds). */
    uint64_t rate_limited; /* lines refused for sending too fast */
    uint64_t filtered;     /* messages a filter dropped or answered late */
    uint64_t too_long;     /* lines over CHAT_MAX_LINE, discarded */
    uint64_t bad_utf8;     /* lines refused for invalid UTF-8 */
    uint64_t events_dropped; /* cluster events lost to a full queue */
    uint64_t remote_in;      /* messages from other nodes applied */
    uint64_t remote_invalid; /* messages from the bus refused as invalid */
    uint64_t remote_users;   /* users on other nodes, as this node knows */
    uint64_t cluster_unsent; /* messages for other nodes not sent: the
                                link to the bus was down */
    uint64_t cluster_down;   /* 1 while the link to the bus is down */
} chat_stats;

/* ---- broker lifetime ------------------------------------------------- */

/*
 * Create a broker with doc/protocol.md's defaults and default room "main".
 * alloc may be NULL (malloc). On success *out owns the broker.
 * Errors: CHAT_ERR_INVALID (out NULL), CHAT_ERR_NOMEM (*out untouched).
 */
CHAT_EXTERN int chat_broker_new(chat_broker **out, const chat_allocator *alloc);

/*
 * Free the broker, every peer it still holds (without notices) and every
 * message. Pointers to its peers become invalid. NULL is accepted.
 */
CHAT_EXTERN void chat_broker_free(chat_broker *b);

/*
 * Set an option. Takes effect for what happens next (e.g. a lower history
 * trims rooms' history lazily). Errors: CHAT_ERR_INVALID for an unknown
 * option or a value out of range (negative; HIGH_WATER < 2; BURST < 1 when
 * RATE > 0 is corrected to RATE), CHAT_ERR_STATE for CHAT_OPT_SEED after the
 * first join.
 */
CHAT_EXTERN int chat_broker_set_option(chat_broker *b, chat_option opt,
                                       int64_t value);

/*
 * Set the room new peers join (default "main"). The name is copied.
 * Errors: CHAT_ERR_INVALID if it is not a valid room name, CHAT_ERR_NOMEM.
 */
CHAT_EXTERN int chat_broker_set_default_room(chat_broker *b, const char *room);

/* Fill *out (of out_size bytes, sizeof(chat_stats)) with current counters. */
CHAT_EXTERN void chat_broker_stats(const chat_broker *b, chat_stats *out,
                                   size_t out_size);

/* ---- peers ------------------------------------------------------------ */

/*
 * A new connection. The peer gets the greeting (default mode) or waits for
 * its name (login mode). user is the caller's pointer, returned by
 * chat_peer_user(). On success *out is the peer, owned by the broker and
 * valid until the caller passes it to chat_peer_release(), whatever
 * happens to the connection meanwhile: the broker never frees a peer on
 * its own. Past CHAT_OPT_MAX_PEERS the peer is still created, with only
 * "Server is full, try again later" queued and reason CHAT_CLOSE_FULL.
 * Errors: CHAT_ERR_INVALID (b or out NULL), CHAT_ERR_NOMEM, CHAT_ERR_STATE
 * after chat_broker_shutdown() (*out untouched).
 */
CHAT_EXTERN int chat_broker_join(chat_broker *b, void *user, uint64_t now_ms,
                                 chat_peer **out);

/*
 * chat_broker_join with per-connection options (opt NULL: the defaults,
 * as chat_broker_join). opt is read during the call only. Errors as
 * chat_broker_join, and CHAT_ERR_INVALID for an unknown dialect, a size
 * too small for the first field, or fields this library does not know
 * (past its own sizeof) that are not zero.
 */
CHAT_EXTERN int chat_broker_join_opts(chat_broker *b, void *user,
                                      const chat_peer_options *opt,
                                      uint64_t now_ms, chat_peer **out);

/*
 * Bytes the peer sent. All are consumed (data stays the caller's); lines
 * are executed as they complete and may queue output for any peer. Bytes
 * after the peer starts closing are ignored. Returns CHAT_OK, or
 * CHAT_ERR_STATE if the peer is already closing.
 */
CHAT_EXTERN int chat_peer_feed(chat_broker *b, chat_peer *p, const void *data,
                               size_t len, uint64_t now_ms);

/*
 * A line, or a piece of one, from a peer joined with lines = 1: one
 * WebSocket text message, say. more non-zero means more pieces of the same
 * line follow (a fragmented message); the line runs when a call with more
 * 0 ends it. The broker keeps at most CHAT_MAX_LINE bytes of it: a longer
 * line is discarded whole and answered as on a byte stream, so the caller
 * never buffers a line itself. Bytes are the line's content: a "\n" in it
 * does not split it (control characters are removed as in any line). Same
 * rate limit, UTF-8 and sanitizing rules as chat_peer_feed. data stays the
 * caller's. Pieces of a line that has not ended when chat_peer_eof is
 * called are dropped (a message cut off is not a message). Returns
 * CHAT_OK; CHAT_ERR_STATE if the peer is closing;
 * CHAT_ERR_INVALID if it was joined for bytes (and chat_peer_feed returns
 * CHAT_ERR_INVALID for a peer joined for lines).
 */
CHAT_EXTERN int chat_peer_feed_line(chat_broker *b, chat_peer *p,
                                    const void *data, size_t len, int more,
                                    uint64_t now_ms);

/*
 * The peer's input ended (half-close or EOF). A last line without "\n" is
 * executed, then the peer leaves (its room is told, its name is free) and
 * closes with CHAT_CLOSE_EOF once its output is consumed. No-op if closing.
 */
CHAT_EXTERN void chat_peer_eof(chat_broker *b, chat_peer *p, uint64_t now_ms);

/*
 * The transport is gone (reset, error, or closed after a close reason):
 * if the peer had not left, its room is told now. Frees the peer and its
 * outbox; p is invalid afterwards. NULL is accepted.
 */
CHAT_EXTERN void chat_peer_release(chat_broker *b, chat_peer *p, uint64_t now_ms);

/* The caller's pointer given to chat_broker_join(). */
CHAT_EXTERN void *chat_peer_user(const chat_peer *p);

/* The peer's dialect (chat_peer_options). */
CHAT_EXTERN chat_dialect chat_peer_dialect(const chat_peer *p);

/*
 * Queue bytes of the front-end's own protocol (a WebSocket pong, say) in
 * p's outbox after what is already there, so the outbox stays the only
 * output queue: they count in p's backlog and its limits like a reply to
 * p (never dropped; past four times the high-water mark p is closed as
 * slow). Whole units only: they are never split from their neighbours.
 * data is copied. Errors: CHAT_ERR_STATE if p is closing, CHAT_ERR_NOMEM,
 * CHAT_ERR_INVALID if len is 0.
 */
CHAT_EXTERN int chat_peer_send_raw(chat_broker *b, chat_peer *p,
                                   const void *data, size_t len,
                                   uint64_t now_ms);

/*
 * The peer's name, NUL-terminated, or NULL before login. Valid until the
 * next call that may rename or release the peer (feed, tick, release).
 */
CHAT_EXTERN const char *chat_peer_name(const chat_peer *p);

/* The name of the peer's room, or NULL if in none (before login, or, in
 * cluster mode, while its first join waits for the room's history).
 * Valid like chat_peer_name. */
CHAT_EXTERN const char *chat_peer_room(const chat_peer *p);

/* CHAT_CLOSE_NONE while open; otherwise why the caller should close it. */
CHAT_EXTERN chat_close_reason chat_peer_close_reason(const chat_peer *p);

/* Non-zero for reasons whose pending output is worth flushing first. */
CHAT_EXTERN int chat_close_reason_flushes(chat_close_reason r);

/* A static lowercase word for a reason ("quit", "idle", ...), for logs. */
CHAT_EXTERN const char *chat_close_reason_str(chat_close_reason r);

/* ---- output ----------------------------------------------------------- */

/* A piece of output: len bytes at base, owned by the broker. */
typedef struct chat_iov {
    const void *base;
    size_t len;
} chat_iov;

/*
 * The next peer that got new output or started closing since it was last
 * returned, or NULL. Each peer is returned at most once until something
 * new happens to it, so one loop over this writes each peer once per pass.
 * A peer whose output the caller could not write completely stays pending;
 * the caller retries it when its transport is writable.
 */
CHAT_EXTERN chat_peer *chat_broker_next_ready(chat_broker *b);

/*
 * Describe up to max pieces of p's pending output, oldest first, in iov.
 * Returns how many were filled. The memory is the broker's: each piece
 * stays valid and unchanged until that piece is consumed, or until p's
 * output is discarded (chat_peer_release, chat_broker_free, or p closing
 * for a reason where chat_close_reason_flushes() is 0, which any feed,
 * tick or consume may decide). Output queued for other peers never moves
 * it. The simple safe rule: write or copy what you peeked before calling
 * into the broker again, then consume what was taken (doc/api.md).
 */
CHAT_EXTERN size_t chat_peer_peek(const chat_peer *p, chat_iov *iov, size_t max);

/* Bytes of output pending for p. */
CHAT_EXTERN size_t chat_peer_pending(const chat_peer *p);

/*
 * The caller wrote n bytes (n <= chat_peer_pending) of p's output. Draining
 * below the low-water mark ends slow-consumer mode ("Server is very busy
 * and dropped {n} messages, sorry!" is queued) and resets the write timeout.
 */
CHAT_EXTERN void chat_peer_consume(chat_broker *b, chat_peer *p, size_t n,
                                   uint64_t now_ms);

/* ---- time and shutdown ----------------------------------------------- */

/*
 * Run what is due at now_ms: idle, login and write timeouts. Costs
 * O(1 + peers that expire). Closing peers appear in chat_broker_next_ready.
 */
CHAT_EXTERN void chat_broker_tick(chat_broker *b, uint64_t now_ms);

/*
 * The earliest time chat_broker_tick has work, or CHAT_NO_DEADLINE. O(1).
 * Calling tick earlier or later than this is harmless.
 */
CHAT_EXTERN uint64_t chat_broker_next_deadline(const chat_broker *b);

/*
 * Shut down: every open peer gets "Server shutting down..." after whatever
 * is already pending (slow peers too) and closes with CHAT_CLOSE_SHUTDOWN.
 * No "left" notices are sent: the shutdown line is each user's last line.
 * Later joins fail with CHAT_ERR_STATE.
 */
CHAT_EXTERN void chat_broker_shutdown(chat_broker *b, uint64_t now_ms);

/* ---- message filters --------------------------------------------------- */

/* What a filter sees. All pointers are valid only during the call. */
typedef struct chat_filter_msg {
    chat_msg_kind kind;
    const char *sender; /* NUL-terminated name */
    const char *room;   /* sender's room; for DIRECT, NULL */
    const char *text;   /* the sanitized text, not NUL-terminated */
    size_t len;         /* 1..CHAT_MAX_LINE */
    uint64_t token;     /* names this message in chat_broker_filter_resume */
} chat_filter_msg;

typedef enum chat_filter_verdict {
    CHAT_FILTER_ALLOW = 0, /* pass the text on unchanged */
    CHAT_FILTER_DROP,      /* relay nothing; the sender is not told */
    CHAT_FILTER_REWRITE,   /* relay the text written to buf instead */
    CHAT_FILTER_PENDING,   /* answer later: chat_broker_filter_resume(token) */
} chat_filter_verdict;

/*
 * A filter. For CHAT_FILTER_REWRITE, write the new text to buf (capacity
 * CHAT_MAX_LINE bytes) and its length to *len. Rewritten text is sanitized
 * again (control characters removed, trimmed; invalid UTF-8 or an empty
 * result drops the message). Filters must not call back into the broker.
 * A filter that cannot answer at once returns CHAT_FILTER_PENDING and
 * answers later with chat_broker_filter_resume(msg->token).
 */
typedef chat_filter_verdict (*chat_filter_fn)(void *ctx,
                                              const chat_filter_msg *msg,
                                              char *buf, size_t *len);

/*
 * Append a filter to the chain; filters run in the order added, each seeing
 * the previous one's output, before the message is formatted and fanned
 * out. ctx is the caller's and must outlive the filter's registration.
 * Errors: CHAT_ERR_INVALID (fn NULL), CHAT_ERR_NOMEM.
 */
CHAT_EXTERN int chat_broker_add_filter(chat_broker *b, chat_filter_fn fn,
                                       void *ctx);

/* Remove the first filter with this fn and ctx. Errors: CHAT_ERR_NOT_FOUND. */
CHAT_EXTERN int chat_broker_remove_filter(chat_broker *b, chat_filter_fn fn,
                                          void *ctx);

/*
 * The answer to a filter that returned CHAT_FILTER_PENDING for msg->token:
 * verdict ALLOW, DROP or REWRITE (text, len: the new text, copied; as a
 * filter's buf). The message then goes on through the filters after that
 * one and is relayed (or dropped) now; the sender's lines that waited
 * behind it run next, in order. While a message waits, its sender's later
 * lines wait too (at most CHAT_OPT_FILTER_BACKLOG; others get "too fast"),
 * other senders are not slowed, and after CHAT_OPT_FILTER_TIMEOUT_MS the
 * message is dropped and its sender told (chat_broker_tick). Errors:
 * CHAT_ERR_NOT_FOUND if no message waits under token (answered already,
 * timed out, or its sender left: the answer is then ignored),
 * CHAT_ERR_INVALID for another verdict.
 */
CHAT_EXTERN int chat_broker_filter_resume(chat_broker *b, uint64_t token,
                                          chat_filter_verdict verdict,
                                          const char *text, size_t len,
                                          uint64_t now_ms);

#ifdef __cplusplus
}
#endif

#endif /* LIBCHAT_BROKER_H */
