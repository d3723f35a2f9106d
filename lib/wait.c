/* Messages waiting for a filter's answer, and the lines behind them; see
 * wait.h. */
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

void chat_token_key(char out[17], uint64_t token)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < 16; i++)
        out[i] = hex[(token >> (60 - 4 * i)) & 0xf];
    out[16] = '\0';
}

static void set_key(chat_wait *w, uint64_t token)
{
    w->token = token;
    chat_token_key(w->key, token);
}

static chat_wait *wait_of(chat_broker *b, chat_peer *p)
{
    if (!p->wait) {
        p->wait = chat_mem_calloc(&b->alloc, 1, sizeof(chat_wait));
        if (p->wait) {
            p->wait->peer = p;
            chat_list_init(&p->wait->link);
        }
    }
    return p->wait;
}

/* Deadlines are now + one timeout, so appending keeps the list sorted
 * unless an option was lowered meanwhile: walk back past later ones. */
static void schedule(chat_broker *b, chat_wait *w, uint64_t timeout_ms)
{
    chat_link *at = b->wait_list.prev;

    w->due = timeout_ms ? b->now + timeout_ms : CHAT_NO_DEADLINE;
    while (at != &b->wait_list &&
           CHAT_CONTAINER(at, chat_wait, link)->due > w->due)
        at = at->prev;
    w->link.prev = at;
    w->link.next = at->next;
    at->next->prev = &w->link;
    at->next = &w->link;
}

int chat_wait_start(chat_broker *b, chat_peer *p, uint64_t token,
                    chat_msg_kind kind, uint32_t next_filter, const char *names,
                    size_t names_len, const char *text, size_t text_len)
{
    chat_wait *w = wait_of(b, p);
    if (!w)
        return -1;
    set_key(w, token);
    if (chat_map_insert(&b->waits, &b->alloc, w))
        return -1;
    w->pending = 1;
    w->kind = (uint8_t)kind;
    w->next_filter = next_filter;
    w->names_len = (uint16_t)names_len;
    if (names_len)
        memcpy(w->names, names, names_len);
    w->names[names_len] = '\0';
    w->text_len = (uint16_t)text_len;
    memcpy(w->text, text, text_len);
    schedule(b, w, b->opt.filter_ms);
    return 0;
}

int chat_wait_hold(chat_broker *b, chat_peer *p, const char *line, size_t len)
{
    chat_wait *w = p->wait;
    if (w->held_count >= b->opt.filter_backlog)
        return -1;
    if (w->held_count == w->held_cap) {
        uint32_t cap = w->held_cap ? 2 * w->held_cap : 4;
        chat_msg **v = chat_mem_alloc(&b->alloc, cap * sizeof(*v));
        if (!v)
            return -1;
        for (uint32_t i = 0; i < w->held_count; i++)
            v[i] = w->held[(w->held_head + i) % w->held_cap];
        chat_mem_free(&b->alloc, w->held);
        w->held = v;
        w->held_cap = cap;
        w->held_head = 0;
    }
    chat_msgb mb;
    chat_msgb_init(&mb, &b->alloc, len + 1);
    chat_msgb_add(&mb, line, len);
    chat_msg *m = chat_msgb_end(&mb); /* the "\n" it adds is not replayed */
    if (!m)
        return -1;
    w->held[(w->held_head + w->held_count++) % w->held_cap] = m;
    return 0;
}

void chat_wait_hold_eof(chat_peer *p) { p->wait->eof = 1; }

/* The message no longer waits (answered, late, or its sender leaving). */
static void stop_waiting(chat_broker *b, chat_wait *w)
{
    if (!w->pending)
        return;
    w->pending = 0;
    chat_map_remove(&b->waits, &b->alloc, w);
    chat_list_remove(&w->link);
    if (w->claim == CHAT_CLAIM_JOIN)
        chat_fetch_waiter_gone(b, w->claim_key);
    else if (w->claim)
        chat_map_remove(&b->claims, &b->alloc, w);
}

void chat_wait_discard(chat_broker *b, chat_peer *p)
{
    chat_wait *w = p->wait;
    if (!w)
        return;
    /* A name claimed for a user who left may be granted all the same:
     * give it back, whatever the answer was to be. */
    if (w->pending && w->claim && w->claim != CHAT_CLAIM_JOIN)
        chat_bus_release(b, w->claim_name);
    stop_waiting(b, w);
    for (uint32_t i = 0; i < w->held_count; i++)
        chat_msg_unref(&b->alloc, w->held[(w->held_head + i) % w->held_cap]);
    chat_mem_free(&b->alloc, w->held);
    chat_mem_free(&b->alloc, w);
    p->wait = NULL;
}

/* Run the lines held behind the message that stopped waiting, until one
 * of them waits in turn; then close p if its input had ended, and free
 * the wait once it holds nothing. */
static void run_held(chat_broker *b, chat_wait *w)
{
    chat_peer *p = w->peer;
    while (!w->pending && w->held_count && !chat_peer_done(p)) {
        chat_msg *m = w->held[w->held_head];
        w->held_head = (w->held_head + 1) % w->held_cap;
        w->held_count--;
        chat_peer_line(b, p, m->data, m->len - 1);
        chat_msg_unref(&b->alloc, m);
    }
    if (w->pending)
        return;
    int eof = w->eof;
    chat_wait_discard(b, p);
    if (eof && !chat_peer_done(p))
        chat_peer_doom(b, p, CHAT_CLOSE_EOF);
}

int chat_broker_filter_resume(chat_broker *b, uint64_t token,
                              chat_filter_verdict verdict, const char *text,
                              size_t len, uint64_t now_ms)
{
    char key[CHAT_NAME_MAX + 1];
    chat_wait probe;
    if (!b || (verdict != CHAT_FILTER_ALLOW && verdict != CHAT_FILTER_DROP &&
               verdict != CHAT_FILTER_REWRITE))
        return CHAT_ERR_INVALID;
    set_key(&probe, token);
    memcpy(key, probe.key, sizeof(key));
    chat_wait *w = chat_map_find(&b->waits, key);
    if (!w || w->claim)
        return CHAT_ERR_NOT_FOUND;
    b->now = now_ms;
    stop_waiting(b, w);
    chat_message_resume(b, w, verdict, text, len);
    if (!chat_peer_done(w->peer))
        run_held(b, w);
    chat_broker_settle(b);
    return CHAT_OK;
}

/* ---- name claims (cluster mode) ------------------------------------------ */

int chat_claim_pending(chat_broker *b, const char *key)
{
    return chat_map_find(&b->claims, key) != NULL;
}

int chat_claim_start(chat_broker *b, chat_peer *p, enum chat_claim_for why,
                     const char *name, size_t len, int plain)
{
    chat_wait *w = wait_of(b, p);
    if (!w)
        return -1;
    set_key(w, ++b->next_token);
    memcpy(w->claim_name, name, len);
    w->claim_name[len] = '\0';
    chat_fold(w->claim_key, name, len);
    if (chat_map_insert(&b->waits, &b->alloc, w))
        return -1;
    if (chat_map_insert(&b->claims, &b->alloc, w)) {
        chat_map_remove(&b->waits, &b->alloc, w);
        return -1;
    }
    w->claim = (uint8_t)why;
    w->claim_plain = (uint8_t)plain;
    w->pending = 1;
    schedule(b, w, b->opt.claim_ms);
    chat_bus_claim(b, w->token, w->claim_name,
                   why == CHAT_CLAIM_RENAME ? p->name : NULL);
    return 0;
}

/* The claim of w is answered (or decided here): p gets the name, or is
 * told it is taken, or (a random name) tries another; then the lines
 * that waited behind it run. */
static void claim_finish(chat_broker *b, chat_wait *w, int granted)
{
    chat_peer *p = w->peer;
    enum chat_claim_for why = (enum chat_claim_for)w->claim;
    char name[CHAT_NAME_MAX + 1];
    size_t len = strlen(w->claim_name);
    int plain = w->claim_plain;

    memcpy(name, w->claim_name, len + 1);
    stop_waiting(b, w);
    w->claim = 0;
    /* A peer whose close was decided in this same operation (a timeout
     * in the same tick) gets nothing: naming it would pull it off the
     * doomed list. Its close gives the name back. */
    if (chat_peer_done(p)) {
        chat_bus_release(b, name);
        return;
    }
    if (granted && why == CHAT_CLAIM_RENAME)
        chat_peer_renamed(b, p, name, len);
    else if (granted)
        chat_peer_named(b, p, name, len, plain);
    else if (why == CHAT_CLAIM_RANDOM)
        chat_peer_random_name(b, p); /* claims another */
    else
        chat_peer_text(b, p, CHAT_T_NAME_TAKEN, &(chat_targs){.o = name});
    if (!chat_peer_done(p) && p->wait == w)
        run_held(b, w);
}

/* p's join of a room waits for that room's history from the cluster
 * (chat_broker_history); a wait like a claim's, without a name. */
int chat_join_wait(chat_broker *b, chat_peer *p, const chat_room *r)
{
    chat_wait *w = wait_of(b, p);
    if (!w)
        return -1;
    set_key(w, ++b->next_token);
    if (chat_map_insert(&b->waits, &b->alloc, w))
        return -1;
    memcpy(w->claim_name, r->name, sizeof(w->claim_name));
    memcpy(w->claim_key, r->key, sizeof(w->claim_key));
    w->claim = CHAT_CLAIM_JOIN;
    w->pending = 1;
    schedule(b, w, b->opt.claim_ms);
    return 0;
}

/* The history came, or will not: p joins with what the room has. */
static void join_finish(chat_broker *b, chat_wait *w)
{
    chat_peer *p = w->peer;
    /* p enters before it stops waiting: the room's last waiter leaving
     * would otherwise release the room, and its history with it. */
    if (!chat_peer_done(p) &&
        chat_room_enter_now(b, p, w->claim_name, strlen(w->claim_name)))
        chat_peer_nomem(b, p);
    stop_waiting(b, w);
    w->claim = 0;
    if (!chat_peer_done(p) && p->wait == w)
        run_held(b, w);
}

/* The first wait of the cluster's (a claim or a join), or NULL. */
static chat_wait *cluster_wait(chat_broker *b, const char *room_key)
{
    for (chat_link *l = b->wait_list.next; l != &b->wait_list; l = l->next) {
        chat_wait *w = CHAT_CONTAINER(l, chat_wait, link);
        if (!w->claim)
            continue;
        if (!room_key ||
            (w->claim == CHAT_CLAIM_JOIN && strcmp(w->claim_key, room_key) == 0))
            return w;
    }
    return NULL;
}

void chat_claims_resend(chat_broker *b)
{
    for (chat_link *l = b->wait_list.next; l != &b->wait_list; l = l->next) {
        chat_wait *w = CHAT_CONTAINER(l, chat_wait, link);
        if (w->claim && w->claim != CHAT_CLAIM_JOIN)
            chat_bus_claim(b, w->token, w->claim_name,
                           w->claim == CHAT_CLAIM_RENAME ? w->peer->name : NULL);
    }
}

void chat_fetch_finish_joins(chat_broker *b, const char *room_key)
{
    chat_wait *w;
    while ((w = cluster_wait(b, room_key)))
        join_finish(b, w);
}

static void claim_late(chat_broker *b, chat_wait *w);

void chat_waits_decide_all(chat_broker *b)
{
    chat_wait *w;
    while ((w = cluster_wait(b, NULL)))
        claim_late(b, w);
}

/* No answer in time: decide here, with what this node knows. */
static void claim_late(chat_broker *b, chat_wait *w)
{
    if (w->claim == CHAT_CLAIM_JOIN) {
        join_finish(b, w);
        return;
    }
    int taken = chat_map_find(&b->names, w->claim_key) != NULL ||
                chat_map_find(&b->remote, w->claim_key) != NULL;
    claim_finish(b, w, !taken);
}

int chat_broker_claim_done(chat_broker *b, uint64_t token, int granted,
                           uint64_t now_ms)
{
    chat_wait probe;
    if (!chat_clustered(&b->bus))
        return CHAT_ERR_STATE;
    set_key(&probe, token);
    chat_wait *w = chat_map_find(&b->waits, probe.key);
    b->now = now_ms;
    if (!w || !w->claim || w->claim == CHAT_CLAIM_JOIN) {
        int rc = chat_reclaim_done(b, token, granted);
        chat_broker_settle(b);
        return rc;
    }
    claim_finish(b, w, granted);
    chat_broker_settle(b);
    return CHAT_OK;
}

void chat_waits_expire(chat_broker *b, uint64_t now_ms)
{
    chat_link *l;
    while ((l = chat_list_first(&b->wait_list))) {
        chat_wait *w = CHAT_CONTAINER(l, chat_wait, link);
        if (w->due > now_ms)
            break;
        if (w->claim) {
            claim_late(b, w);
            continue;
        }
        stop_waiting(b, w);
        b->stats.filtered++;
        chat_peer_text(b, w->peer, CHAT_T_FILTER_LATE, NULL);
        if (!chat_peer_done(w->peer))
            run_held(b, w);
    }
}

uint64_t chat_waits_deadline(const chat_broker *b)
{
    const chat_link *l = chat_list_first(&b->wait_list);
    return l ? CHAT_CONTAINER(l, chat_wait, link)->due : CHAT_NO_DEADLINE;
}
