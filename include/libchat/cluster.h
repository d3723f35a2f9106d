/*
 * libchat - cluster mode: several brokers (one per chatd node) share one
 * chat through a message bus such as Redis pub/sub (doc/cluster.md).
 *
 * The broker still does no I/O. In cluster mode it emits events the
 * caller pulls with chat_broker_next_event() (publish this message on that
 * channel, subscribe to a room's channel, unsubscribe) and takes the
 * messages that arrive from the bus with chat_broker_remote(). What goes
 * over the bus is doc/cluster.md's message format; the broker validates
 * every message it is given as if a user had typed it.
 */
#ifndef LIBCHAT_CLUSTER_H
#define LIBCHAT_CLUSTER_H

#include "broker.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Turn cluster mode on with this node's id (1-32 of [A-Za-z0-9_-], unique
 * in the cluster; copied). Only before the first join. Errors:
 * CHAT_ERR_INVALID (bad id), CHAT_ERR_STATE (peers joined already).
 */
CHAT_EXTERN int chat_broker_set_node(chat_broker *b, const char *node_id);

/* Where a published message goes (doc/cluster.md, "Keys and channels"). */
typedef enum chat_channel {
    CHAT_CHANNEL_ROOM = 1, /* a room's lines: target is the room */
    CHAT_CHANNEL_NODE,     /* direct messages for a node: target is its id */
    CHAT_CHANNEL_PRESENCE, /* who is where: target is "" */
} chat_channel;

typedef enum chat_event_kind {
    CHAT_EVENT_NONE = 0,
    CHAT_EVENT_PUBLISH,     /* send data on (channel, target) */
    CHAT_EVENT_SUBSCRIBE,   /* this node has members in room target now:
                               deliver that room's channel */
    CHAT_EVENT_UNSUBSCRIBE, /* it has none there any more */
    CHAT_EVENT_CLAIM,       /* a user here wants name target: grant it if no
                               other node holds it (data/len: the name it
                               gives up in the same atomic step, for a
                               rename, else len 0), then answer with
                               chat_broker_claim_done(token) */
    CHAT_EVENT_RELEASE,     /* name target is free again; target "":
                               every name this node holds (before it
                               claims its users' names again after the
                               link came back) */
    CHAT_EVENT_FETCH,       /* this node's first member joins room target,
                               which has members on other nodes: read the
                               room's history (the newest CHAT_OPT_HISTORY
                               messages published with history set, newest
                               first) and answer chat_broker_history(token).
                               The joiner waits for it. */
    CHAT_EVENT_FORGET,      /* room target is new cluster-wide: drop what
                               history is stored for it (lines of an
                               earlier life of the room) */
} chat_event_kind;

typedef struct chat_event {
    chat_event_kind kind;
    chat_channel channel;   /* PUBLISH; CHAT_CHANNEL_ROOM for (UN)SUBSCRIBE */
    const char *target;     /* room name or node id (NUL-terminated) */
    const void *data;       /* PUBLISH: count messages, each separated from
                               the next by one NUL byte (a batch: messages
                               for one channel queued together go as one
                               publish); CLAIM: the old name */
    size_t len;
    int history;            /* PUBLISH: chat lines the room keeps: append
                               each message to the room's history (one
                               entry each, in order) in the same atomic
                               step that publishes them */
    uint32_t count;         /* PUBLISH: how many messages data holds */
    uint64_t token;         /* CLAIM: names it in chat_broker_claim_done;
                               FETCH: in chat_broker_history */
} chat_event;

/*
 * The next event, oldest first, into *ev: returns 1, or 0 when there is
 * none. *ev and the memory it points to are the broker's and stay valid
 * until the next call of chat_broker_next_event() or chat_broker_free().
 * Events wait in a queue of at most CHAT_OPT_EVENT_QUEUE messages (a
 * batch counts each); past it the newest are dropped and counted
 * (chat_stats.events_dropped), so a caller
 * that cannot keep up loses messages to other nodes, never memory.
 */
CHAT_EXTERN int chat_broker_next_event(chat_broker *b, chat_event *ev);

/*
 * A message that arrived from the bus (any channel; data is copied as
 * needed): one message, or a batch as PUBLISH gives it (messages separated
 * by NUL bytes), each validated and applied on its own. Messages from this node itself, duplicates and replays (a
 * node's sequence number at or below the last one seen from it) are
 * ignored. Errors: CHAT_ERR_INVALID if a message is not valid (it is
 * dropped whole and counted in chat_stats.remote_invalid; the others of
 * its batch are applied),
 * CHAT_ERR_STATE if cluster mode is off.
 */
CHAT_EXTERN int chat_broker_remote(chat_broker *b, const void *data,
                                   size_t len, uint64_t now_ms);

/*
 * The answer to a CLAIM event: granted non-zero if the name is this
 * node's now. The user waiting for it (its later lines held, in order)
 * gets it, or "{name} is already taken" (a login or /name), or another
 * random name is tried. An answer that does not come within
 * CHAT_OPT_CLAIM_TIMEOUT_MS is decided here alone, as if granted when no
 * user known here holds the name (doc/cluster.md, "Failure"). Errors:
 * CHAT_ERR_NOT_FOUND (no such claim waits: answered, timed out, or the
 * user left), CHAT_ERR_STATE if cluster mode is off.
 */
CHAT_EXTERN int chat_broker_claim_done(chat_broker *b, uint64_t token,
                                       int granted, uint64_t now_ms);

/*
 * Node node_id is gone (its lease ran out, and this node is the one that
 * removed it from presence: doc/cluster.md): its users leave their rooms
 * here ("{name} left {room}") and the other nodes are told (an event).
 * Errors: CHAT_ERR_INVALID (bad id, or this node's own), CHAT_ERR_STATE
 * if cluster mode is off.
 */
CHAT_EXTERN int chat_broker_node_gone(chat_broker *b, const char *node_id,
                                      uint64_t now_ms);

/* A message as stored on the bus: bytes the caller owns. */
typedef struct chat_bytes {
    const void *data;
    size_t len;
} chat_bytes;

/*
 * The answer to a FETCH event: the room's stored messages msgs[0..n),
 * newest first (as LRANGE returns a list LPUSHed to), each copied as
 * needed. Messages that are not valid chat lines of that room are
 * skipped and counted (chat_stats.remote_invalid). The room's history
 * becomes these lines plus the ones that arrived on its channel while
 * the fetch ran (each once), and every member waiting to join gets it,
 * then "You joined {room}", then its held lines run. A fetch that is not
 * answered within CHAT_OPT_CLAIM_TIMEOUT_MS finishes with the lines that
 * arrived meanwhile. Errors: CHAT_ERR_NOT_FOUND (no such fetch waits:
 * answered, timed out, or its joiners left), CHAT_ERR_STATE if cluster
 * mode is off.
 */
CHAT_EXTERN int chat_broker_history(chat_broker *b, uint64_t token,
                                    const chat_bytes *msgs, size_t n,
                                    uint64_t now_ms);

/*
 * The link to the bus is up (up non-zero) or down. Call it with up each
 * time the link (re)connects, the first time included, and with 0 each
 * time it is lost or cannot be made.
 *
 * Down: this node's users are told once, in-band ("Chat with other
 * servers is unavailable; users here can still chat"), and users who
 * join while it lasts are told at joining; queued events are dropped and
 * no more are queued (messages for other nodes are counted in
 * chat_stats.cluster_unsent); name claims are decided here at once; the
 * replica of remote users is forgotten (they cannot be reached).
 *
 * Up: the node resynchronises: it subscribes again to every room it has
 * members in, asks every node to say who is where (and answers such
 * requests itself), announces its own users, and claims every name its
 * users hold again. A name another node took meanwhile is lost: its user
 * gets a new random name and "Your name {old} was taken on another
 * server; you are now {new}". After an outage, users are told "Chat with
 * other servers is available again". Errors: CHAT_ERR_STATE if cluster
 * mode is off.
 */
CHAT_EXTERN int chat_broker_cluster_up(chat_broker *b, int up,
                                       uint64_t now_ms);

#ifdef __cplusplus
}
#endif

#endif /* LIBCHAT_CLUSTER_H */
