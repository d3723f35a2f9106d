/*
 * The link to the bus going down and coming back (doc/cluster.md,
 * "Failure"). Down, a node is a chat of its own: its users are told once,
 * nothing is queued for the others (it is counted), names are granted
 * here and the replica of remote users is forgotten. Back, it catches up:
 * it follows its rooms again, asks every node who is where and says who
 * is here, and claims its users' names again; a user whose name another
 * node granted meanwhile is renamed and told.
 */
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

#define PEER_OF(l) CHAT_CONTAINER(l, chat_peer, all_link)

static int active(const chat_peer *p)
{
    return p->state == PEER_ACTIVE && !chat_peer_done(p);
}

static void tell_all(chat_broker *b, chat_text id)
{
    for (chat_link *l = b->all.next; l != &b->all; l = l->next)
        if (active(PEER_OF(l)))
            chat_peer_text(b, PEER_OF(l), id, NULL);
}

static void reclaims_clear(chat_bus *bus, const chat_allocator *a)
{
    size_t pos = 0;
    chat_reclaim *r;
    while ((r = chat_map_next(&bus->reclaims, &pos)))
        chat_mem_free(a, r);
    chat_map_free(&bus->reclaims, a);
}

void chat_cluster_free(chat_bus *bus, const chat_allocator *a)
{
    reclaims_clear(bus, a);
}

/* Claim p's name again (its answer: chat_reclaim_done). Without memory
 * the name is kept unconfirmed, as before the link went down. */
static void reclaim(chat_broker *b, const chat_peer *p)
{
    chat_reclaim *r = chat_mem_calloc(&b->alloc, 1, sizeof(*r));
    if (!r)
        return;
    uint64_t token = ++b->next_token;
    chat_token_key(r->key, token);
    memcpy(r->name, p->name, sizeof(r->name));
    if (chat_map_insert(&b->bus.reclaims, &b->alloc, r)) {
        chat_mem_free(&b->alloc, r);
        return;
    }
    chat_bus_claim(b, token, p->name, NULL);
}

/* "name is in room, here", to everyone (node NULL) or to one node. */
static void say_here(chat_broker *b, const chat_peer *p, const char *node)
{
    chat_wire w = {.kind = CHAT_WIRE_HERE};
    memcpy(w.name, p->name, sizeof(w.name));
    memcpy(w.room, p->room->name, sizeof(w.room));
    if (node)
        chat_bus_publish(b, CHAT_CHANNEL_NODE, node, &w, 0);
    else
        chat_bus_publish(b, CHAT_CHANNEL_PRESENCE, "", &w, 0);
}

void chat_cluster_claimed_here(chat_broker *b, const char *name)
{
    char key[CHAT_KEY_SIZE];
    chat_fold(key, name, strlen(name));
    chat_peer *p = chat_map_find(&b->names, key);
    if (p && active(p) && p->room)
        say_here(b, p, NULL);
}

void chat_cluster_sync_answer(chat_broker *b, const char *node)
{
    for (chat_link *l = b->all.next; l != &b->all; l = l->next)
        if (active(PEER_OF(l)) && PEER_OF(l)->room)
            say_here(b, PEER_OF(l), node);
}

static void go_down(chat_broker *b)
{
    b->bus.down = 1;
    b->stats.cluster_down = 1;
    chat_bus_drop_queue(b);
    reclaims_clear(&b->bus, &b->alloc);
    /* What waits for the cluster is decided here: claims as if
     * unanswered, history fetches with what arrived. */
    chat_waits_decide_all(b);
    chat_remote_drop_all(b);
    tell_all(b, CHAT_T_CLUSTER_DOWN);
}

static void go_up(chat_broker *b, int was_down)
{
    b->bus.down = 0;
    b->stats.cluster_down = 0;
    /* What is queued was meant for a link that is gone or was never up
     * (the first connect): the resync below says it all again, except
     * lines said meanwhile, which are counted as unsent. */
    chat_bus_drop_queue(b);
    reclaims_clear(&b->bus, &b->alloc);
    /* The replica fills from the answers to "sync": until they are in,
     * a room with no members known elsewhere may still have some. */
    b->bus.settling_until = b->now + b->opt.claim_ms;
    /* Names this node held and gave up while down were never released
     * on the bus: give back all, then claim what its users hold now. */
    chat_bus_release_all(b);
    size_t pos = 0;
    chat_room *r;
    while ((r = chat_map_next(&b->rooms, &pos))) {
        if (r->followed)
            chat_bus_subscribe(b, r->name, 1);
        if (r->fetch)
            chat_bus_fetch(b, r->fetch, r->name);
    }
    chat_claims_resend(b);
    chat_wire sync = {.kind = CHAT_WIRE_SYNC};
    chat_bus_publish(b, CHAT_CHANNEL_PRESENCE, "", &sync, 0);
    for (chat_link *l = b->all.next; l != &b->all; l = l->next) {
        chat_peer *p = PEER_OF(l);
        if (!active(p))
            continue;
        reclaim(b, p);
        if (p->room)
            say_here(b, p, NULL);
    }
    if (was_down)
        tell_all(b, CHAT_T_CLUSTER_UP);
}

int chat_broker_cluster_up(chat_broker *b, int up, uint64_t now_ms)
{
    if (!b || !chat_clustered(&b->bus))
        return CHAT_ERR_STATE;
    b->now = now_ms;
    int was_down = b->bus.down;
    if (!up && !was_down)
        go_down(b);
    else if (up)
        go_up(b, was_down);
    chat_broker_settle(b);
    return CHAT_OK;
}

/* p lost its name to another node while the link was down: a new one,
 * which is claimed in turn, and a line saying so. */
static void lose_name(chat_broker *b, chat_peer *p)
{
    char name[32], old[CHAT_KEY_SIZE];
    int plain = 0;
    if (chat_broker_fresh_name(b, name, &plain)) {
        chat_peer_text(b, p, CHAT_T_FULL, NULL);
        chat_peer_doom(b, p, CHAT_CLOSE_FULL);
        return;
    }
    memcpy(old, p->name, sizeof(old));
    chat_peer_renamed(b, p, name, strlen(name));
    p->plain_name = (uint8_t)plain;
    b->gen.in_use += (uint32_t)plain;
    chat_peer_text(b, p, CHAT_T_NAME_LOST, &(chat_targs){.n = name, .o = old});
    reclaim(b, p);
}

int chat_reclaim_done(chat_broker *b, uint64_t token, int granted)
{
    char key[17];
    chat_token_key(key, token);
    chat_reclaim *r = chat_map_find(&b->bus.reclaims, key);
    if (!r)
        return CHAT_ERR_NOT_FOUND;
    char fold[CHAT_KEY_SIZE];
    chat_fold(fold, r->name, strlen(r->name));
    chat_peer *p = chat_map_find(&b->names, fold);
    /* The user may have left or changed name since: then there is
     * nothing to lose (a new name was claimed the usual way). */
    if (!granted && p && active(p) && strcmp(p->name, r->name) == 0)
        lose_name(b, p);
    chat_map_remove(&b->bus.reclaims, &b->alloc, r);
    chat_mem_free(&b->alloc, r);
    return CHAT_OK;
}
