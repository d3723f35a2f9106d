/* The replica of remote users; see remote.h. */
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

chat_remote *chat_remote_find(chat_broker *b, const char *name, size_t len)
{
    char key[CHAT_KEY_SIZE];
    if (len > CHAT_NAME_MAX)
        return NULL;
    chat_fold(key, name, len);
    return chat_map_find(&b->remote, key);
}

/* Take u out of its room (which goes if nobody is left anywhere). */
static void leave_room(chat_broker *b, chat_remote *u)
{
    chat_room *r = u->room;
    if (!r)
        return;
    chat_list_remove(&u->room_link);
    r->remote_count--;
    u->room = NULL;
    chat_room_release(b, r);
}

static int enter_room(chat_broker *b, chat_remote *u, const char *room)
{
    chat_room *r = chat_room_get(b, room, strlen(room));
    if (!r)
        return -1;
    if (r == u->room)
        return 0;
    leave_room(b, u);
    chat_list_push_back(&r->remote_members, &u->room_link);
    r->remote_count++;
    u->room = r;
    return 0;
}

static chat_remote *remote_new(chat_broker *b, const char *name)
{
    chat_remote *u = chat_mem_calloc(&b->alloc, 1, sizeof(*u));
    if (!u)
        return NULL;
    size_t n = strlen(name);
    chat_fold(u->key, name, n);
    memcpy(u->name, name, n + 1);
    chat_list_init(&u->room_link);
    if (chat_map_insert(&b->remote, &b->alloc, u)) {
        chat_mem_free(&b->alloc, u);
        return NULL;
    }
    b->stats.remote_users++;
    return u;
}

chat_remote *chat_remote_set(chat_broker *b, const char *name,
                             const char *room, const char *node)
{
    chat_remote *u = chat_remote_find(b, name, strlen(name));
    if (!u && !(u = remote_new(b, name)))
        return NULL;
    memcpy(u->name, name, strlen(name) + 1); /* the spelling may change */
    memcpy(u->node, node, strlen(node) + 1);
    if (enter_room(b, u, room)) {
        chat_remote_drop(b, u);
        return NULL;
    }
    return u;
}

void chat_remote_drop(chat_broker *b, chat_remote *u)
{
    leave_room(b, u);
    chat_map_remove(&b->remote, &b->alloc, u);
    chat_mem_free(&b->alloc, u);
    b->stats.remote_users--;
}

int chat_remote_rename(chat_broker *b, chat_remote *u, const char *name)
{
    size_t n = strlen(name);
    /* Right after a remove the map never grows, so the insert holds. */
    chat_map_remove(&b->remote, &b->alloc, u);
    chat_fold(u->key, name, n);
    memcpy(u->name, name, n + 1);
    if (chat_map_insert(&b->remote, &b->alloc, u)) {
        leave_room(b, u);
        chat_mem_free(&b->alloc, u);
        b->stats.remote_users--;
        return -1;
    }
    return 0;
}

void chat_remote_drop_node(chat_broker *b, const char *node,
                           void (*fn)(chat_broker *b, chat_remote *u))
{
    /* The map must not change under a walk (a removal moves slots, and
     * may shrink the table): gather a batch, then drop it; repeat. A rare
     * event (a node died), so the rescans do not matter. */
    for (;;) {
        chat_remote *batch[64], *u;
        size_t n = 0, pos = 0;
        while (n < 64 && (u = chat_map_next(&b->remote, &pos)))
            if (!node || strcmp(u->node, node) == 0)
                batch[n++] = u;
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++) {
            if (fn)
                fn(b, batch[i]);
            chat_remote_drop(b, batch[i]);
        }
    }
}

void chat_remote_drop_all(chat_broker *b)
{
    chat_remote_drop_node(b, NULL, NULL); /* quietly */
}

void chat_remote_free_all(chat_broker *b)
{
    size_t pos = 0;
    chat_remote *u;
    while ((u = chat_map_next(&b->remote, &pos)))
        chat_mem_free(&b->alloc, u);
    chat_map_free(&b->remote, &b->alloc);
}
