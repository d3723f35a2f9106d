/*
 * Cluster mode's two directions (doc/cluster.md): what this node tells the
 * others (events the caller pulls: publish, subscribe, unsubscribe) and
 * what it learns from them (messages from the bus, validated, deduplicated
 * and applied: room lines, direct messages, presence). The replica of
 * remote users lives in remote.c.
 */
#ifndef CHAT_BUS_H
#define CHAT_BUS_H

#include <libchat/cluster.h>

#include "map.h"
#include "message.h"
#include "wire.h"

typedef struct chat_event_rec {
    uint8_t kind;       /* chat_event_kind */
    uint8_t channel;    /* chat_channel */
    uint8_t history;
    char target[CHAT_NODE_MAX + 1]; /* room names fit too */
    chat_msg *data;     /* PUBLISH; CLAIM: the name given up, or NULL */
    uint64_t token;     /* CLAIM */
    uint32_t count;     /* messages it holds (PUBLISH batches), else 1 */
} chat_event_rec;

/* The last sequence number seen from another node. */
typedef struct chat_seen {
    char key[CHAT_NODE_MAX + 1];
    uint64_t seq;
} chat_seen;

typedef struct chat_bus {
    char node[CHAT_NODE_MAX + 1]; /* "" : cluster mode off */
    uint64_t seq;                 /* of the last message this node sent */
    chat_event_rec *q;            /* ring of events not pulled yet */
    uint32_t head, count, cap, limit;
    uint32_t queued;              /* messages in it (limit applies) */
    chat_msgb batch;              /* grows the newest event's data ... */
    uint8_t batching;             /* ... while it may take more */
    chat_event_rec out;           /* the event last handed out */
    chat_map seen;                /* node id -> chat_seen */
    uint8_t down;                 /* the link to the bus is down */
    uint64_t settling_until;      /* the replica is still filling after
                                     the link came up (cluster.c) */
    chat_map reclaims;            /* token -> chat_reclaim (cluster.c) */
} chat_bus;

struct chat_broker;
struct chat_peer;
struct chat_room;

static inline int chat_clustered(const chat_bus *bus) { return bus->node[0]; }
/* Cluster mode with the link up: names are the cluster's to grant. */
static inline int chat_bus_live(const chat_bus *bus)
{
    return bus->node[0] && !bus->down;
}

void chat_bus_init(chat_bus *bus, uint64_t k0, uint64_t k1);
void chat_bus_free(chat_bus *bus, const chat_allocator *a);

/* Queue events (no-ops outside cluster mode). */
void chat_bus_subscribe(struct chat_broker *b, const char *room, int on);
/* Publish w (its node and seq are filled in) on (channel, target). */
void chat_bus_publish(struct chat_broker *b, chat_channel channel,
                      const char *target, chat_wire *w, int history);
/* Ask for name cluster-wide (giving up old, if not NULL, atomically);
 * give name back. */
void chat_bus_claim(struct chat_broker *b, uint64_t token, const char *name,
                    const char *old);
void chat_bus_release(struct chat_broker *b, const char *name);
/* Give back every name this node holds (a RELEASE of target ""). */
void chat_bus_release_all(struct chat_broker *b);
/* Fetch room's history (token answers it); forget its stored history. */
void chat_bus_fetch(struct chat_broker *b, uint64_t token, const char *room);
void chat_bus_forget(struct chat_broker *b, const char *room);
/* Drop every queued event (the link is down; publishes counted unsent). */
void chat_bus_drop_queue(struct chat_broker *b);
/* Tell the others: name joined / left room; old is now name in room. */
void chat_bus_presence(struct chat_broker *b, chat_wire_kind kind,
                       const char *name, const char *room, const char *old);

/* ---- cluster.c: the link's state, resync and reclaiming names ---- */

/* A name claimed again after the link came back, awaiting its answer. */
typedef struct chat_reclaim {
    char key[17];                 /* the token in hex: the map key */
    char name[CHAT_NAME_MAX + 1]; /* as it was shown */
} chat_reclaim;

void chat_cluster_free(chat_bus *bus, const chat_allocator *a);
/* The answer to a reclaim's CLAIM: CHAT_OK, or CHAT_ERR_NOT_FOUND if
 * token is no reclaim. */
int chat_reclaim_done(struct chat_broker *b, uint64_t token, int granted);
/* Another node renamed a user away from name, which a user here holds
 * (two nodes granted it during an outage, and the other lost it): say
 * again where ours is, for the nodes whose replica had theirs. */
void chat_cluster_claimed_here(struct chat_broker *b, const char *name);
/* Another node asks who is where: say it, on its channel. */
void chat_cluster_sync_answer(struct chat_broker *b, const char *node);

#endif
