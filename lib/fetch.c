/*
 * A room's history from the cluster (doc/cluster.md, "History is the
 * room's"). A node keeps a room's history from its channel only while it
 * follows the room, so the first member here of a room that lives on
 * other nodes waits for the stored history (a FETCH event answered with
 * chat_broker_history). The channel is followed from the start of the
 * fetch; a line that arrives meanwhile is kept and remembered by origin
 * (node and sequence number), so that the stored copy of it, which the
 * answer may hold too, is not taken twice.
 */
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "mix.h"
#include "text.h"

/* A line's origin as one number: its node's id hashed, and its seq. */
static uint64_t origin(const chat_wire *w)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *s = w->node; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return chat_splitmix64(h, w->seq);
}

int chat_fetch_join(chat_broker *b, chat_peer *p, chat_room *r)
{
    if (!r->fetch) {
        r->fetch = ++b->next_token;
        chat_token_key(r->fetch_key, r->fetch);
        if (chat_map_insert(&b->fetches, &b->alloc, r)) {
            r->fetch = 0;
            return chat_room_enter_now(b, p, r->name, strlen(r->name));
        }
        chat_room_follow(b, r, 1);
        chat_bus_fetch(b, r->fetch, r->name);
    }
    if (chat_join_wait(b, p, r))
        return CHAT_ERR_NOMEM;
    r->fetch_waiters++;
    return CHAT_OK;
}

void chat_fetch_clear(chat_broker *b, chat_room *r)
{
    if (r->fetch)
        chat_map_remove(&b->fetches, &b->alloc, r);
    r->fetch = 0;
    chat_mem_free(&b->alloc, r->early);
    r->early = NULL;
    r->n_early = r->cap_early = 0;
}

void chat_fetch_note(chat_broker *b, chat_room *r, const chat_wire *w)
{
    /* Only the newest `history` lines can matter; past that the answer's
     * lines are all older than what came, and none is kept. */
    if (r->n_early >= b->opt.history)
        return;
    if (r->n_early == r->cap_early) {
        uint32_t cap = r->cap_early ? 2 * r->cap_early : 8;
        uint64_t *v = chat_mem_alloc(&b->alloc, cap * sizeof(*v));
        if (!v)
            return; /* a line may then show twice in this history */
        if (r->n_early)
            memcpy(v, r->early, r->n_early * sizeof(*v));
        chat_mem_free(&b->alloc, r->early);
        r->early = v;
        r->cap_early = cap;
    }
    r->early[r->n_early++] = origin(w);
}

void chat_fetch_waiter_gone(chat_broker *b, const char *key)
{
    chat_room *r = chat_map_find(&b->rooms, key);
    if (!r || !r->fetch_waiters)
        return;
    if (--r->fetch_waiters)
        return;
    chat_fetch_clear(b, r); /* late or left: an answer now finds nothing */
    if (r->count == 0) {
        chat_room_follow(b, r, 0);
        chat_history_clear(&r->history, &b->alloc);
        chat_room_release(b, r);
    }
}

static int came_early(const chat_room *r, const chat_wire *w)
{
    uint64_t o = origin(w);
    for (uint32_t i = 0; i < r->n_early; i++)
        if (r->early[i] == o)
            return 1;
    return 0;
}

/* msg as a line of r's history, or NULL (invalid, another room's, not a
 * chat line, or already come on the channel). */
static chat_line *stored_line(chat_broker *b, chat_room *r,
                              const chat_bytes *msg)
{
    chat_wire w;
    char key[CHAT_KEY_SIZE];
    if (!msg->data ||
        chat_wire_decode((const char *)msg->data, msg->len, &w) ||
        (w.kind != CHAT_WIRE_CHAT && w.kind != CHAT_WIRE_ME)) {
        b->stats.remote_invalid++;
        return NULL;
    }
    chat_fold(key, w.room, strlen(w.room));
    if (strcmp(key, r->key) != 0) {
        b->stats.remote_invalid++;
        return NULL;
    }
    if (came_early(r, &w))
        return NULL;
    chat_targs args = {.n = w.name, .r = r->name, .t = w.text,
                       .t_len = w.text_len};
    return chat_line_new(&b->alloc,
                         w.kind == CHAT_WIRE_ME ? CHAT_T_ME : CHAT_T_CHAT,
                         &args);
}

/* r's history: the stored lines (newest first in msgs), then those that
 * came on the channel meanwhile, the newest `history` of them. */
static void merge(chat_broker *b, chat_room *r, const chat_bytes *msgs,
                  size_t n)
{
    uint32_t limit = b->opt.history, have = r->history.count;
    uint32_t room = limit > have ? limit - have : 0, got = 0;
    if (!n || !room)
        return; /* nothing stored, or the lines that came fill it */
    chat_line **stored = chat_mem_alloc(&b->alloc, room * sizeof(*stored));
    if (!stored)
        return; /* no memory: the lines that came will do */
    for (size_t i = 0; i < n && got < room; i++) {
        chat_line *l = stored_line(b, r, &msgs[i]);
        if (l)
            stored[got++] = l;
    }
    chat_history h = {0};
    for (uint32_t i = got; i-- > 0;) {
        (void)chat_history_push(&h, &b->alloc, stored[i], limit);
        chat_line_unref(&b->alloc, stored[i]);
    }
    for (uint32_t i = 0; i < have; i++)
        (void)chat_history_push(&h, &b->alloc,
                                chat_history_at(&r->history, i), limit);
    chat_history_clear(&r->history, &b->alloc);
    r->history = h;
    chat_mem_free(&b->alloc, stored);
}

int chat_broker_history(chat_broker *b, uint64_t token, const chat_bytes *msgs,
                        size_t n, uint64_t now_ms)
{
    char key[17];
    if (!b || !chat_clustered(&b->bus))
        return CHAT_ERR_STATE;
    if (n && !msgs)
        return CHAT_ERR_INVALID;
    chat_token_key(key, token);
    chat_room *r = chat_map_find(&b->fetches, key);
    if (!r)
        return CHAT_ERR_NOT_FOUND;
    b->now = now_ms;
    merge(b, r, msgs, n);
    char room_key[CHAT_KEY_SIZE];
    memcpy(room_key, r->key, sizeof(room_key));
    chat_fetch_finish_joins(b, room_key); /* the last one ends the fetch */
    chat_broker_settle(b);
    return CHAT_OK;
}
