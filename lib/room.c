/*
 * Rooms: membership, fan-out and history. A room exists while it has
 * members, here or (in cluster mode) on other nodes; the last one out
 * removes it and its history. In cluster mode this node follows a room's
 * channel while it has members of its own there.
 */
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

chat_room *chat_room_find(chat_broker *b, const char *name, size_t len)
{
    char key[CHAT_KEY_SIZE];
    chat_fold(key, name, len);
    return chat_map_find(&b->rooms, key);
}

chat_room *chat_room_get(chat_broker *b, const char *name, size_t len)
{
    chat_room *r = chat_room_find(b, name, len);
    if (r)
        return r;
    r = chat_mem_calloc(&b->alloc, 1, sizeof(*r));
    if (!r)
        return NULL;
    chat_fold(r->key, name, len);
    memcpy(r->name, name, len);
    chat_list_init(&r->members);
    chat_list_init(&r->remote_members);
    if (chat_map_insert(&b->rooms, &b->alloc, r)) {
        chat_mem_free(&b->alloc, r);
        return NULL;
    }
    b->stats.rooms++;
    return r;
}

void chat_room_release(chat_broker *b, chat_room *r)
{
    if (r->count || r->remote_count || r->fetch_waiters)
        return;
    chat_map_remove(&b->rooms, &b->alloc, r);
    chat_fetch_clear(b, r);
    chat_history_clear(&r->history, &b->alloc);
    chat_mem_free(&b->alloc, r);
    b->stats.rooms--;
}

void chat_room_notice(chat_broker *b, chat_room *r, chat_text kind,
                      const chat_targs *args)
{
    if (r->count == 0)
        return;
    chat_line *l = chat_line_new(&b->alloc, kind, args);
    if (!l)
        return; /* out of memory: a notice is lost, no one is harmed */
    chat_room_relay(b, r, l, NULL);
    chat_line_unref(&b->alloc, l);
}

/* "{name} joined/left {room}" to every member (p is not one). */
static void announce(chat_broker *b, chat_room *r, chat_peer *p,
                     chat_text kind)
{
    chat_room_notice(b, r, kind, &(chat_targs){.n = p->name, .r = r->name});
}

void chat_room_leave(chat_broker *b, chat_peer *p, int notify)
{
    chat_room *r = p->room;
    if (!r)
        return;
    chat_list_remove(&p->room_link);
    r->count--;
    r->of_format[p->format]--;
    p->room = NULL;
    if (notify)
        announce(b, r, p, CHAT_T_LEFT);
    chat_bus_presence(b, CHAT_WIRE_LEFT, p->name, r->name, NULL);
    if (r->count == 0 && !r->fetch_waiters) {
        /* No one here reads it now: stop following it, and its history
         * (kept from the channel) would go stale. */
        chat_room_follow(b, r, 0);
        chat_history_clear(&r->history, &b->alloc);
        chat_room_release(b, r);
    }
}

void chat_room_follow(chat_broker *b, chat_room *r, int on)
{
    if (r->followed == (on != 0))
        return;
    r->followed = (uint8_t)(on != 0);
    chat_bus_subscribe(b, r->name, on);
}

int chat_room_enter(chat_broker *b, chat_peer *p, const char *name, size_t len)
{
    /* Cluster mode: the first member here of a room that lives elsewhere
     * waits for its history; the first anywhere starts it afresh. */
    if (chat_bus_live(&b->bus) && b->opt.history) {
        chat_room *r = chat_room_find(b, name, len);
        int settling = b->now < b->bus.settling_until;
        if (r && r != p->room && (r->fetch_waiters ||
                                  (r->count == 0 && r->remote_count)))
            return chat_fetch_join(b, p, r);
        /* Right after (re)connecting the replica may not know the room's
         * members elsewhere yet: fetch rather than forget. */
        if (settling && (!r || (r->count == 0 && r != p->room))) {
            r = chat_room_get(b, name, len);
            return r ? chat_fetch_join(b, p, r) : CHAT_ERR_NOMEM;
        }
        if (!r || (r->count == 0 && r->remote_count == 0)) {
            char room[CHAT_KEY_SIZE];
            memcpy(room, name, len);
            room[len] = '\0';
            chat_bus_forget(b, room);
        }
    }
    return chat_room_enter_now(b, p, name, len);
}

int chat_room_enter_now(chat_broker *b, chat_peer *p, const char *name,
                        size_t len)
{
    chat_room *r = chat_room_get(b, name, len);
    if (!r)
        return CHAT_ERR_NOMEM;
    /* Leaving may not remove r: p is not in it, so it has other members
     * or was just created with none and is kept by p joining next. */
    chat_room_leave(b, p, 1);
    announce(b, r, p, CHAT_T_JOINED);
    chat_list_push_back(&r->members, &p->room_link);
    r->count++;
    chat_room_follow(b, r, 1);
    r->of_format[p->format]++;
    chat_bus_presence(b, CHAT_WIRE_JOINED, p->name, r->name, NULL);
    p->room = r;
    /* The ring shrinks lazily when --history is lowered: replay only the
     * newest lines the current limit allows. */
    uint32_t kept = r->history.count;
    uint32_t from = kept > b->opt.history ? kept - b->opt.history : 0;
    p->bounded = 1;
    for (uint32_t i = from; i < kept; i++) {
        chat_line *l = chat_history_at(&r->history, i);
        chat_msg *m = chat_line_bytes(&b->alloc, l, p->format);
        if (m || chat_text_shown(p->dialect, (chat_text)l->kind))
            chat_peer_reply(b, p, m); /* NULL: out of memory */
    }
    chat_peer_text(b, p, CHAT_T_YOU_JOINED, &(chat_targs){.r = r->name});
    p->bounded = 0;
    return CHAT_OK;
}

#define MEMBER(l) CHAT_CONTAINER(l, chat_peer, room_link)

/* The common case: every member reads one format, so one rendering m
 * serves them all and the walk is as tight as before dialects existed.
 * Delivery never unlinks a member (closes are deferred), so the plain
 * walk is safe. */
static void relay_one(chat_broker *b, chat_room *r, chat_msg *m,
                      const chat_peer *skip)
{
    chat_link *l;
    if (!skip) {
        for (l = r->members.next; l != &r->members; l = l->next)
            chat_peer_deliver(b, MEMBER(l), m);
        return;
    }
    for (l = r->members.next; l != &r->members; l = l->next)
        if (MEMBER(l) != skip)
            chat_peer_deliver(b, MEMBER(l), m);
}

/* A room of several formats: each member's rendering, made at most once
 * per format. */
static void relay_mixed(chat_broker *b, chat_room *r, chat_line *line,
                        const chat_peer *skip)
{
    for (chat_link *l = r->members.next; l != &r->members; l = l->next) {
        chat_peer *p = MEMBER(l);
        chat_msg *m = chat_line_bytes(&b->alloc, line, p->format);
        if (m && p != skip)
            chat_peer_deliver(b, p, m);
    }
}

void chat_room_relay(chat_broker *b, chat_room *r, chat_line *line,
                     const chat_peer *from)
{
    if (r->count == 0)
        return;
    /* A sender whose dialect does not echo is skipped by pointer, so the
     * walk needs no test of the dialect per member. */
    const chat_peer *skip =
        from && !chat_dialect_of(from->dialect)->echo ? from : NULL;
    unsigned fmt = MEMBER(r->members.next)->format;
    if (r->of_format[fmt] != r->count) {
        relay_mixed(b, r, line, skip);
        return;
    }
    chat_msg *m = chat_line_bytes(&b->alloc, line, fmt);
    if (m)
        relay_one(b, r, m, skip);
}

void chat_room_remember(chat_broker *b, chat_room *r, chat_line *l)
{
    /* Out of memory only costs history, never the live message. */
    (void)chat_history_push(&r->history, &b->alloc, l, b->opt.history);
}

void chat_room_free_all(chat_broker *b)
{
    size_t pos = 0;
    chat_room *r;
    while ((r = chat_map_next(&b->rooms, &pos))) {
        chat_fetch_clear(b, r);
        chat_history_clear(&r->history, &b->alloc);
        chat_mem_free(&b->alloc, r);
    }
    chat_map_free(&b->rooms, &b->alloc);
}
