/*
 * Rooms: membership, fan-out and history. A room exists while it has
 * members; the last one out removes it and its history.
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

static chat_room *room_create(chat_broker *b, const char *name, size_t len)
{
    chat_room *r = chat_mem_calloc(&b->alloc, 1, sizeof(*r));
    if (!r)
        return NULL;
    chat_fold(r->key, name, len);
    memcpy(r->name, name, len);
    chat_list_init(&r->members);
    if (chat_map_insert(&b->rooms, &b->alloc, r)) {
        chat_mem_free(&b->alloc, r);
        return NULL;
    }
    b->stats.rooms++;
    return r;
}

static void room_destroy(chat_broker *b, chat_room *r)
{
    chat_map_remove(&b->rooms, &b->alloc, r);
    chat_history_clear(&r->history, &b->alloc);
    chat_mem_free(&b->alloc, r);
    b->stats.rooms--;
}

/* "{name} {what} {room}" to every member but p. */
static void announce(chat_broker *b, chat_room *r, chat_peer *p,
                     const char *what)
{
    if (r->count == 0)
        return;
    chat_msg *m = chat_msg_cat(&b->alloc, p->name, what, r->name, CHAT_END);
    if (!m)
        return; /* out of memory: a notice is lost, no one is harmed */
    chat_room_broadcast(b, r, m);
    chat_msg_unref(&b->alloc, m);
}

void chat_room_leave(chat_broker *b, chat_peer *p, int notify)
{
    chat_room *r = p->room;
    if (!r)
        return;
    chat_list_remove(&p->room_link);
    r->count--;
    p->room = NULL;
    if (notify)
        announce(b, r, p, " left ");
    if (r->count == 0)
        room_destroy(b, r);
}

int chat_room_enter(chat_broker *b, chat_peer *p, const char *name, size_t len)
{
    chat_room *r = chat_room_find(b, name, len);
    if (!r && !(r = room_create(b, name, len)))
        return CHAT_ERR_NOMEM;
    /* Leaving may not remove r: p is not in it, so it has other members
     * or was just created with none and is kept by p joining next. */
    chat_room_leave(b, p, 1);
    announce(b, r, p, " joined ");
    chat_list_push_back(&r->members, &p->room_link);
    r->count++;
    p->room = r;
    /* The ring shrinks lazily when --history is lowered: replay only the
     * newest lines the current limit allows. */
    uint32_t kept = r->history.count;
    uint32_t from = kept > b->opt.history ? kept - b->opt.history : 0;
    p->bounded = 1;
    for (uint32_t i = from; i < kept; i++)
        chat_peer_reply(b, p, chat_history_at(&r->history, i));
    chat_peer_replyf(b, p, "You joined ", r->name, CHAT_END);
    p->bounded = 0;
    return CHAT_OK;
}

void chat_room_broadcast(chat_broker *b, chat_room *r, chat_msg *m)
{
    /* Delivery never unlinks a member (closes are deferred), so the
     * plain walk is safe. */
    for (chat_link *l = r->members.next; l != &r->members; l = l->next)
        chat_peer_deliver(b, CHAT_CONTAINER(l, chat_peer, room_link), m);
}

void chat_room_remember(chat_broker *b, chat_room *r, chat_msg *m)
{
    /* Out of memory only costs history, never the live message. */
    (void)chat_history_push(&r->history, &b->alloc, m, b->opt.history);
}

void chat_room_free_all(chat_broker *b)
{
    size_t pos = 0;
    chat_room *r;
    while ((r = chat_map_next(&b->rooms, &pos))) {
        chat_history_clear(&r->history, &b->alloc);
        chat_mem_free(&b->alloc, r);
    }
    chat_map_free(&b->rooms, &b->alloc);
}
