/*
 * The broker's internal structures, shared by the lib/ modules (and the
 * unit tests through the internal static library). Not installed.
 */
#ifndef CHAT_BROKER_INT_H
#define CHAT_BROKER_INT_H

#include <libchat/broker.h>

#include "bus.h"
#include "dialect.h"
#include "framer_int.h"
#include "history.h"
#include "line.h"
#include "list.h"
#include "map.h"
#include "message.h"
#include "names.h"
#include "outbox.h"
#include "ratelimit.h"
#include "remote.h"
#include "wait.h"

#define CHAT_KEY_SIZE (CHAT_NAME_MAX + 1)

typedef struct chat_room {
    char key[CHAT_KEY_SIZE];  /* folded name: the map key */
    char name[CHAT_KEY_SIZE]; /* spelling it was created with */
    uint32_t count;           /* members on this node */
    uint32_t remote_count;    /* members on other nodes (cluster mode) */
    chat_link remote_members; /* of chat_remote.room_link */
    uint32_t of_format[CHAT_FORMATS]; /* members by format: a room of one
                                 format fans out with one rendering */
    chat_link members;        /* of chat_peer.room_link */
    chat_history history;
    uint8_t followed;         /* cluster mode: its channel is subscribed */
    uint32_t fetch_waiters;   /* joins waiting for its history (fetch.c) */
    uint64_t fetch;           /* the history fetch's token, or 0 */
    char fetch_key[17];       /* the token in hex: the fetches map key */
    uint64_t *early;          /* lines that came while fetching, by origin */
    uint32_t n_early, cap_early;
} chat_room;

typedef enum peer_state {
    PEER_LOGIN,   /* login mode, no valid name yet */
    PEER_ACTIVE,  /* named, in a room */
    PEER_CLOSING, /* left; waiting for the caller to flush and release */
} peer_state;

struct chat_peer {
    char key[CHAT_KEY_SIZE];  /* folded name: the names map key */
    char name[CHAT_KEY_SIZE];
    void *user;
    chat_room *room;
    uint8_t state;            /* peer_state */
    uint8_t reason;           /* chat_close_reason once closing */
    uint8_t slow;             /* dropping others' traffic */
    uint8_t plain_name;       /* holds a generator combination */
    uint8_t ready;            /* on the broker's ready list */
    uint8_t doomed;           /* on the broker's doomed list */
    uint8_t counted;          /* counts against CHAT_OPT_MAX_PEERS */
    uint8_t bounded;          /* queueing a greeting or a join's history:
                                 output bounded by the server, which the
                                 4x high-water rule does not apply to */
    uint8_t dialect;          /* chat_dialect: how its input reads */
    uint8_t format;           /* dialect and framing: what its output is */
    uint8_t lines;            /* fed whole lines (chat_peer_feed_line) */
    struct chat_wait *wait;   /* a message waiting for a filter, and the
                                 lines held behind it; NULL: none */
    chat_broker *broker;      /* for framer callbacks */
    chat_link room_link;      /* room members */
    chat_link time_link;      /* broker idle or login list, by last input;
                                 the doomed list once a close is decided */
    chat_link write_link;     /* broker write list while output is pending */
    chat_link ready_link;     /* broker ready list */
    chat_link all_link;       /* every peer, for shutdown and free */
    chat_outbox out;
    uint64_t last_input_ms;   /* idle and login timeouts */
    uint64_t last_progress_ms;/* write timeout: output last moved */
    uint64_t last_notice_ms;  /* rate-limit notice, at most once a second */
    uint64_t dropped;         /* others' lines dropped while slow */
    chat_bucket bucket;
    uint8_t rate_noticed;     /* a rate notice was ever sent */
    chat_framer framer;
};

typedef struct chat_filter_entry {
    chat_filter_fn fn;
    void *ctx;
} chat_filter_entry;

typedef struct chat_options {
    int login;
    uint32_t history, rate, burst;
    uint64_t idle_ms, login_ms, write_ms, filter_ms;
    uint32_t filter_backlog;
    size_t high_water;
    uint64_t max_peers;
    uint64_t reserved;        /* slots the caller holds (RESERVED_PEERS) */
    uint64_t claim_ms;        /* CLAIM_TIMEOUT_MS */
} chat_options;

struct chat_broker {
    chat_allocator alloc;
    chat_options opt;
    char default_room[CHAT_KEY_SIZE];
    uint64_t seed;
    uint64_t now;             /* the latest time passed in */
    int shutdown;
    chat_map names;           /* folded name -> chat_peer */
    chat_map rooms;           /* folded name -> chat_room */
    chat_namegen gen;
    chat_link all;            /* every unreleased peer */
    chat_link idle;           /* active peers, least recent input first */
    chat_link login;          /* login-mode peers, oldest first */
    chat_link writes;         /* peers with output, least recent progress first */
    chat_link ready;          /* peers with news for the caller */
    chat_link doomed;         /* closes decided mid-operation, run after it */
    chat_msg *help[CHAT_FORMATS]; /* the help text, rendered at first use
                                 per format */
    chat_map waits;           /* token -> chat_wait, for filter answers */
    chat_link wait_list;      /* chat_waits with a deadline, soonest first */
    uint64_t next_token;      /* the last token handed to a filter */
    chat_bus bus;             /* cluster mode: events out, messages in */
    chat_map claims;          /* folded name -> chat_wait of a claim */
    chat_map remote;          /* folded name -> chat_remote */
    chat_map fetches;         /* token -> chat_room whose history is
                                 fetched (fetch.c) */
    chat_ringpool rings;      /* recycled outbox rings */
    chat_filter_entry *filters;
    size_t n_filters;
    uint64_t n_peers;         /* unreleased peers not turned away as full */
    chat_stats stats;
};

/* The rate limit's effective burst (CHAT_OPT_BURST 0 means the rate). */
uint32_t chat_burst(const chat_broker *b);

/* ---- peer.c: delivery and lifecycle (the public peer calls too) ---- */

/* Queue a reply to p's own action: never dropped for slowness. m NULL is
 * a reply that could not be built (its allocation failed): p is closed as
 * out of memory, as when queueing fails. */
void chat_peer_reply(chat_broker *b, chat_peer *p, chat_msg *m);
/* p's request could not be served for lack of memory: close p. */
void chat_peer_nomem(chat_broker *b, chat_peer *p);
/* Queue m past every limit (the shutdown line). */
void chat_peer_reply_always(chat_broker *b, chat_peer *p, chat_msg *m);
/* Reply with text id in p's dialect (nothing if its dialect hides it). */
void chat_peer_text(chat_broker *b, chat_peer *p, chat_text id,
                    const chat_targs *args);
/* Reply with the help text (rendered once per dialect). */
void chat_peer_help(chat_broker *b, chat_peer *p);
/* Put p on the ready list if it is not there. */
static inline void chat_peer_mark_ready(chat_broker *b, chat_peer *p)
{
    if (p->ready)
        return;
    p->ready = 1;
    chat_list_push_back(&b->ready, &p->ready_link);
}

/* Append m to p's outbox; starts the write timer and marks p ready. */
static inline int chat_peer_enqueue(chat_broker *b, chat_peer *p, chat_msg *m)
{
    if (chat_outbox_push(&p->out, &b->rings, m))
        return CHAT_ERR_NOMEM;
    b->stats.deliveries++;
    b->stats.bytes_queued += m->len;
    if (p->out.count == 1) { /* was empty: output starts waiting now */
        p->last_progress_ms = b->now;
        chat_list_push_back(&b->writes, &p->write_link);
    }
    chat_peer_mark_ready(b, p);
    return CHAT_OK;
}

/* A line could not be queued for p (the cold path of chat_peer_deliver): p is
 * slow (count the drop), closing or doomed (nothing), or the queue had no
 * memory (close p). */
void chat_peer_undelivered(chat_broker *b, chat_peer *p);

/* Queue what others send: dropped and counted while p is slow. Inline:
 * a room fan-out calls it once per member. */
static inline void chat_peer_deliver(chat_broker *b, chat_peer *p, chat_msg *m)
{
    if (p->slow | p->doomed | (p->state == PEER_CLOSING) ||
        chat_peer_enqueue(b, p, m)) {
        chat_peer_undelivered(b, p);
        return;
    }
    if (p->out.bytes > b->opt.high_water)
        p->slow = 1;
}
/* Decide to close p: it stops taking input at once; the close itself runs
 * when the current operation ends (chat_broker_settle), so no peer leaves
 * a room while that room is being iterated. */
void chat_peer_doom(chat_broker *b, chat_peer *p, chat_close_reason reason);
/* Close p now: leave the room (with notice unless shutdown), free the
 * name, discard output for reasons that do not flush. */
void chat_peer_close(chat_broker *b, chat_peer *p, chat_close_reason reason);
/* Non-zero if p takes no more input (closing or doomed). */
int chat_peer_done(const chat_peer *p);
/* Run the closes decided during an operation; every API entry ends so.
 * Inline: almost always there is nothing to do. */
void chat_broker_settle_doomed(chat_broker *b);
static inline void chat_broker_settle(chat_broker *b)
{
    if (!chat_list_empty(&b->doomed))
        chat_broker_settle_doomed(b);
}
/* Free p's memory: its output, partial line and itself (no unlinking). */
void chat_peer_free(chat_broker *b, chat_peer *p);
/* Give p a name (registered in the names map). */
int chat_peer_set_name(chat_broker *b, chat_peer *p, const char *name,
                       size_t len);
/* Greeting after a name: help, You are, then join the default room. */
void chat_peer_welcome(chat_broker *b, chat_peer *p);
/* A login peer becomes p called name[0..len): named, greeted, in the
 * default room. plain: the name is a generator pair. */
void chat_peer_named(chat_broker *b, chat_peer *p, const char *name,
                     size_t len, int plain);
/* A random name for p: at once, or (cluster mode) claimed first. */
void chat_peer_random_name(chat_broker *b, chat_peer *p);
/* p, active, is called name[0..len) now (its room told). */
void chat_peer_renamed(chat_broker *b, chat_peer *p, const char *name,
                       size_t len);
/* p's input waits behind a message of p's that waits for a filter. */
static inline int chat_peer_waiting(const chat_peer *p)
{
    return p->wait && p->wait->pending;
}

/* ---- room.c ---- */

chat_room *chat_room_find(chat_broker *b, const char *name, size_t len);
/* The room called name, created (empty) if needed; NULL without memory. */
chat_room *chat_room_get(chat_broker *b, const char *name, size_t len);
/* Remove r if nobody is in it, here or elsewhere. */
void chat_room_release(chat_broker *b, chat_room *r);
/* Move p into the room named name (created if needed); p gets history and
 * "You joined"; the old room gets "left", the new one "joined". */
int chat_room_enter(chat_broker *b, chat_peer *p, const char *name, size_t len);
/* chat_room_enter without waiting for the room's history. */
int chat_room_enter_now(chat_broker *b, chat_peer *p, const char *name,
                        size_t len);
/* Cluster mode: follow r's channel (once), or stop. */
void chat_room_follow(chat_broker *b, chat_room *r, int on);

/* ---- fetch.c: a room's history from the cluster ---- */

/* p's join of r (no members here yet, some elsewhere) waits for the
 * room's history. Returns CHAT_OK or CHAT_ERR_NOMEM. */
int chat_fetch_join(chat_broker *b, chat_peer *p, chat_room *r);
/* A line w came on r's channel while its history is fetched. */
void chat_fetch_note(chat_broker *b, chat_room *r, const chat_wire *w);
/* A join waiting for the room of folded name key stopped waiting. */
void chat_fetch_waiter_gone(chat_broker *b, const char *key);
/* Free what a fetch holds (the broker is freed). */
void chat_fetch_clear(chat_broker *b, chat_room *r);
/* A new name no one here knows of (the generator's), or -1 when the
 * generator is exhausted; *plain as chat_namegen_next says. */
int chat_broker_fresh_name(chat_broker *b, char out[32], int *plain);
/* Take p out of its room; notify the rest if notify; drop an empty room. */
void chat_room_leave(chat_broker *b, chat_peer *p, int notify);
/* Send l to every member (as others' traffic), each in its dialect; from,
 * if not NULL, is the sender: it gets l only if its dialect echoes. */
void chat_room_relay(chat_broker *b, chat_room *r, chat_line *l,
                     const chat_peer *from);
/* A new line of kind with args, relayed to r; NULL-safe on no memory. */
void chat_room_notice(chat_broker *b, chat_room *r, chat_text kind,
                      const chat_targs *args);
/* Keep a chat line in the room's history. */
void chat_room_remember(chat_broker *b, chat_room *r, chat_line *l);
void chat_room_free_all(chat_broker *b);

/* ---- command.c ---- */

/* Execute one framed line from p. */
void chat_peer_line(chat_broker *b, chat_peer *p, const char *line, size_t len);
/* The answer to w's waiting message: apply it, run the filters after the
 * one that waited, relay (or drop) the message. */
void chat_message_resume(chat_broker *b, chat_wait *w,
                         chat_filter_verdict verdict, const char *text,
                         size_t len);

/* ---- filter.c ---- */

/* Run the chain from filter *at over (*text, *len) under token. Returns
 * CHAT_FILTER_ALLOW ((*text, *len) is what to relay: the input, or
 * rewritten text in scratch, CHAT_MAX_LINE bytes), CHAT_FILTER_DROP, or
 * CHAT_FILTER_PENDING (filter *at will answer; the text so far is in
 * (*text, *len)). */
chat_filter_verdict chat_filters_run(chat_broker *b, chat_msg_kind kind,
                                     const chat_peer *from, const char **text,
                                     size_t *len, char *scratch, uint32_t *at,
                                     uint64_t token);
/* A filter's rewritten text obeys the same rules as a user's: the
 * sanitized text into scratch, or 0 if nothing acceptable is left. */
size_t chat_filter_text(const char *buf, size_t n, char *scratch);

#endif
