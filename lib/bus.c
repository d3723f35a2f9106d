/* Cluster mode: events out, messages in; see bus.h and doc/cluster.md. */
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

void chat_bus_init(chat_bus *bus, uint64_t k0, uint64_t k1)
{
    chat_map_init(&bus->seen, offsetof(chat_seen, key), k0, k1);
    chat_map_init(&bus->reclaims, offsetof(chat_reclaim, key), k1, k0);
}

static void rec_clear(const chat_allocator *a, chat_event_rec *e)
{
    chat_msg_unref(a, e->data);
    e->data = NULL;
}

void chat_bus_free(chat_bus *bus, const chat_allocator *a)
{
    for (uint32_t i = 0; i < bus->count; i++)
        rec_clear(a, &bus->q[(bus->head + i) % bus->cap]);
    rec_clear(a, &bus->out);
    chat_mem_free(a, bus->q);
    size_t pos = 0;
    chat_seen *s;
    while ((s = chat_map_next(&bus->seen, &pos)))
        chat_mem_free(a, s);
    chat_map_free(&bus->seen, a);
    chat_cluster_free(bus, a);
}

/* ---- events out ---------------------------------------------------------- */

static int grow(chat_broker *b)
{
    chat_bus *bus = &b->bus;
    uint32_t cap = bus->cap ? 2 * bus->cap : 64;
    chat_event_rec *q = chat_mem_alloc(&b->alloc, cap * sizeof(*q));
    if (!q)
        return -1;
    for (uint32_t i = 0; i < bus->count; i++)
        q[i] = bus->q[(bus->head + i) % bus->cap];
    chat_mem_free(&b->alloc, bus->q);
    bus->q = q;
    bus->cap = cap;
    bus->head = 0;
    return 0;
}

/* Queue e (taking its data); dropped and counted when the queue is full
 * or out of memory: a caller that cannot keep up loses messages to other
 * nodes, never memory, and local chat goes on. */
static void push(chat_broker *b, chat_event_rec *e)
{
    chat_bus *bus = &b->bus;
    if (bus->down) { /* nothing reaches the others: chat_broker_cluster_up */
        b->stats.cluster_unsent += e->kind == CHAT_EVENT_PUBLISH;
        rec_clear(&b->alloc, e);
        return;
    }
    if (bus->queued >= bus->limit || (bus->count == bus->cap && grow(b))) {
        b->stats.events_dropped++;
        rec_clear(&b->alloc, e);
        return;
    }
    e->count = 1;
    bus->q[(bus->head + bus->count++) % bus->cap] = *e;
    bus->queued++;
    bus->batching = 0; /* the newest event is not an open batch now */
}

/* Add message m to the newest event if it is an open batch for the same
 * (channel, target, history) with room for it: one publish then carries
 * every message queued for a channel between two pulls, so Redis and the
 * other nodes handle one message per batch, not per line. Returns 1 if
 * m was taken in (its bytes copied), 0 if it needs an event of its own. */
static int batch_add(chat_broker *b, const chat_event_rec *e,
                     const chat_msg *m)
{
    chat_bus *bus = &b->bus;
    char piece[1 + CHAT_WIRE_MAX];
    if (!bus->batching || bus->queued >= bus->limit ||
        m->len > CHAT_WIRE_MAX)
        return 0;
    chat_event_rec *t = &bus->q[(bus->head + bus->count - 1) % bus->cap];
    if (t->channel != e->channel || t->history != e->history ||
        strcmp(t->target, e->target) != 0 ||
        (size_t)t->data->len + 1 + m->len > CHAT_BATCH_MAX)
        return 0;
    piece[0] = '\0'; /* one add: a failed one leaves the batch as it was */
    memcpy(piece + 1, m->data, m->len);
    chat_msgb_add(&bus->batch, piece, 1 + (size_t)m->len);
    if (bus->batch.failed) {
        bus->batching = 0;
        return 0;
    }
    t->data = bus->batch.m; /* it may have moved */
    t->count++;
    bus->queued++;
    return 1;
}

/* Queue a PUBLISH of m (taking it): into the open batch, or as a new
 * event that opens one. */
static void push_publish(chat_broker *b, chat_event_rec *e, chat_msg *m)
{
    chat_bus *bus = &b->bus;
    if (batch_add(b, e, m)) {
        chat_msg_unref(&b->alloc, m);
        return;
    }
    /* A batch's data is grown in place by its own builder; the first
     * message is copied into one (a few hundred bytes, once a batch). */
    chat_msgb_init(&bus->batch, &b->alloc, 2 * (size_t)m->len);
    chat_msgb_add(&bus->batch, m->data, m->len);
    chat_msg_unref(&b->alloc, m);
    e->data = chat_msgb_take(&bus->batch);
    bus->batch.m = e->data; /* the builder goes on growing it */
    if (!e->data) {
        b->stats.events_dropped++;
        return;
    }
    uint32_t before = bus->count;
    push(b, e);
    bus->batching = bus->count > before;
}

static void set_target(chat_event_rec *e, const char *target)
{
    size_t n = strlen(target);
    memcpy(e->target, target, n + 1);
}

void chat_bus_drop_queue(chat_broker *b)
{
    chat_bus *bus = &b->bus;
    for (; bus->count; bus->count--) {
        chat_event_rec *e = &bus->q[bus->head];
        if (e->kind == CHAT_EVENT_PUBLISH)
            b->stats.cluster_unsent += e->count;
        rec_clear(&b->alloc, e);
        bus->head = (bus->head + 1) % bus->cap;
    }
    bus->queued = 0;
    bus->batching = 0;
}

void chat_bus_subscribe(chat_broker *b, const char *room, int on)
{
    if (!chat_clustered(&b->bus))
        return;
    chat_event_rec e = {
        .kind = (uint8_t)(on ? CHAT_EVENT_SUBSCRIBE : CHAT_EVENT_UNSUBSCRIBE),
        .channel = CHAT_CHANNEL_ROOM,
    };
    set_target(&e, room);
    push(b, &e);
}

void chat_bus_publish(chat_broker *b, chat_channel channel, const char *target,
                      chat_wire *w, int history)
{
    chat_bus *bus = &b->bus;
    if (!chat_clustered(bus))
        return;
    memcpy(w->node, bus->node, sizeof(w->node));
    /* Numbering starts from the time (1024 a millisecond), so a node
     * restarted under the same id within its lease is not taken for a
     * replay of its earlier life (doc/cluster.md, "The message format"). */
    if (bus->seq == 0)
        bus->seq = b->now << 10;
    w->seq = ++bus->seq;
    if (bus->down) {
        b->stats.cluster_unsent++;
        return;
    }
    chat_event_rec e = {.kind = CHAT_EVENT_PUBLISH,
                        .channel = (uint8_t)channel,
                        .history = (uint8_t)(history != 0)};
    set_target(&e, target);
    chat_msg *m = chat_wire_encode(&b->alloc, w);
    if (!m) {
        b->stats.events_dropped++;
        return;
    }
    push_publish(b, &e, m);
}

void chat_bus_claim(chat_broker *b, uint64_t token, const char *name,
                    const char *old)
{
    chat_event_rec e = {.kind = CHAT_EVENT_CLAIM, .token = token};
    set_target(&e, name);
    if (old) {
        chat_msgb mb;
        chat_msgb_init(&mb, &b->alloc, strlen(old) + 1);
        chat_msgb_str(&mb, old);
        e.data = chat_msgb_take(&mb);
        if (!e.data) {
            b->stats.events_dropped++; /* the claim times out: decided here */
            return;
        }
    }
    push(b, &e);
}

void chat_bus_fetch(chat_broker *b, uint64_t token, const char *room)
{
    chat_event_rec e = {.kind = CHAT_EVENT_FETCH, .token = token};
    set_target(&e, room);
    push(b, &e);
}

void chat_bus_forget(chat_broker *b, const char *room)
{
    chat_event_rec e = {.kind = CHAT_EVENT_FORGET};
    set_target(&e, room);
    push(b, &e);
}

/* name "" is every name this node holds (chat_bus_release_all). */
static void release(chat_broker *b, const char *name)
{
    chat_event_rec e = {.kind = CHAT_EVENT_RELEASE};
    set_target(&e, name);
    push(b, &e);
}

void chat_bus_release_all(chat_broker *b) { release(b, ""); }

void chat_bus_release(chat_broker *b, const char *name)
{
    if (!chat_clustered(&b->bus) || !name[0])
        return;
    release(b, name);
}

void chat_bus_presence(chat_broker *b, chat_wire_kind kind, const char *name,
                       const char *room, const char *old)
{
    chat_wire w = {.kind = kind};
    if (!chat_clustered(&b->bus) || !name[0])
        return;
    memcpy(w.name, name, strlen(name) + 1);
    memcpy(w.room, room, strlen(room) + 1);
    if (old)
        memcpy(w.other, old, strlen(old) + 1);
    chat_bus_publish(b, CHAT_CHANNEL_PRESENCE, "", &w, 0);
}

int chat_broker_next_event(chat_broker *b, chat_event *ev)
{
    chat_bus *bus = &b->bus;
    rec_clear(&b->alloc, &bus->out);
    if (bus->count == 0) {
        memset(ev, 0, sizeof(*ev));
        return 0;
    }
    bus->out = bus->q[bus->head];
    bus->head = (bus->head + 1) % bus->cap;
    bus->count--;
    bus->queued -= bus->out.count;
    if (bus->count == 0)
        bus->batching = 0; /* the batch is handed out: it is closed */
    *ev = (chat_event){
        .kind = (chat_event_kind)bus->out.kind,
        .channel = (chat_channel)bus->out.channel,
        .target = bus->out.target,
        .data = bus->out.data ? bus->out.data->data : NULL,
        .len = bus->out.data ? bus->out.data->len : 0,
        .history = bus->out.history,
        .token = bus->out.token,
        .count = bus->out.count,
    };
    return 1;
}

int chat_broker_set_node(chat_broker *b, const char *node_id)
{
    if (!node_id || !chat_node_id_valid(node_id, strlen(node_id)))
        return CHAT_ERR_INVALID;
    if (!chat_list_empty(&b->all))
        return CHAT_ERR_STATE;
    memcpy(b->bus.node, node_id, strlen(node_id) + 1);
    return CHAT_OK;
}

/* ---- messages in --------------------------------------------------------- */

/* Non-zero if w is new: not from this node, not at or below the last
 * sequence number seen from its node. Presence state (HERE) is applied
 * however often it comes: it carries no notice to repeat. */
static int fresh(chat_broker *b, const chat_wire *w)
{
    chat_bus *bus = &b->bus;
    if (strcmp(w->node, bus->node) == 0)
        return 0;
    if (w->kind == CHAT_WIRE_HERE)
        return 1;
    chat_seen *s = chat_map_find(&bus->seen, w->node);
    if (!s) {
        /* Whoever can write to the bus can make up node ids: past a
         * cluster's worth of them, new ones are not remembered (their
         * duplicates then get through, their memory does not grow). */
        if (bus->seen.count >= CHAT_SEEN_MAX)
            return 1;
        s = chat_mem_calloc(&b->alloc, 1, sizeof(*s));
        if (!s)
            return 1; /* without memory, a duplicate may get through */
        memcpy(s->key, w->node, strlen(w->node) + 1);
        if (chat_map_insert(&bus->seen, &b->alloc, s)) {
            chat_mem_free(&b->alloc, s);
            return 1;
        }
    } else if (w->seq <= s->seq) {
        return 0;
    }
    s->seq = w->seq;
    return 1;
}

/* A notice to this node's members of r. */
static void notice(chat_broker *b, chat_room *r, chat_text kind,
                   const char *name, const char *other)
{
    if (r && r->count)
        chat_room_notice(b, r, kind,
                         &(chat_targs){.n = name, .r = r->name, .o = other});
}

static void remote_said(chat_broker *b, const chat_wire *w)
{
    chat_room *r = chat_room_find(b, w->room, strlen(w->room));
    if (!r || (!r->count && !r->fetch))
        return; /* not followed here (any more) */
    if (r->fetch)
        chat_fetch_note(b, r, w); /* not to be taken twice from history */
    chat_targs args = {.n = w->name, .r = r->name, .t = w->text,
                       .t_len = w->text_len};
    chat_line *l = chat_line_new(
        &b->alloc, w->kind == CHAT_WIRE_ME ? CHAT_T_ME : CHAT_T_CHAT, &args);
    if (!l)
        return;
    chat_room_remember(b, r, l);
    chat_room_relay(b, r, l, NULL);
    chat_line_unref(&b->alloc, l);
}

static void remote_direct(chat_broker *b, const chat_wire *w)
{
    char key[CHAT_KEY_SIZE];
    chat_fold(key, w->other, strlen(w->other));
    chat_peer *q = chat_map_find(&b->names, key);
    if (!q || q->state != PEER_ACTIVE)
        return; /* gone meanwhile */
    chat_line *l = chat_line_new(&b->alloc, CHAT_T_DIRECT,
                                 &(chat_targs){.n = w->name, .t = w->text,
                                               .t_len = w->text_len});
    chat_msg *m = l ? chat_line_bytes(&b->alloc, l, q->format) : NULL;
    if (m)
        chat_peer_deliver(b, q, m);
    chat_line_unref(&b->alloc, l);
}

static void remote_joined(chat_broker *b, const chat_wire *w, int quiet)
{
    chat_remote *u = chat_remote_set(b, w->name, w->room, w->node);
    if (u && !quiet)
        notice(b, u->room, CHAT_T_JOINED, u->name, NULL);
}

static void remote_left(chat_broker *b, const chat_wire *w, int quiet)
{
    chat_remote *u = chat_remote_find(b, w->name, strlen(w->name));
    if (!u || strcmp(u->node, w->node) != 0)
        return;
    if (!quiet)
        notice(b, u->room, CHAT_T_LEFT, u->name, NULL);
    chat_remote_drop(b, u);
}

static void remote_renamed(chat_broker *b, const chat_wire *w)
{
    chat_remote *u = chat_remote_find(b, w->other, strlen(w->other));
    if (!u || strcmp(u->node, w->node) != 0) {
        remote_joined(b, w, 1); /* missed the old name: just learn the new */
        return;
    }
    if (chat_remote_rename(b, u, w->name) == 0)
        notice(b, u->room, CHAT_T_RENAMED, u->name, w->other);
    /* Names are unique, so a user here with the old name means the
     * other node lost it to this one after an outage: the replicas that
     * took theirs for ours have just dropped ours. */
    chat_cluster_claimed_here(b, w->other);
}

static void announce_gone(chat_broker *b, chat_remote *u)
{
    notice(b, u->room, CHAT_T_LEFT, u->name, NULL);
}

/* Node id is gone: its users leave, and its numbering is forgotten (a
 * node back under the same id starts from its clock, and the entry
 * would otherwise stay for ever). */
static void node_gone(chat_broker *b, const char *id)
{
    chat_remote_drop_node(b, id, announce_gone);
    chat_seen *s = chat_map_find(&b->bus.seen, id);
    if (s) {
        chat_map_remove(&b->bus.seen, &b->alloc, s);
        chat_mem_free(&b->alloc, s);
    }
}

static void apply(chat_broker *b, const chat_wire *w)
{
    switch (w->kind) {
    case CHAT_WIRE_CHAT:
    case CHAT_WIRE_ME: remote_said(b, w); break;
    case CHAT_WIRE_DIRECT: remote_direct(b, w); break;
    case CHAT_WIRE_JOINED: remote_joined(b, w, 0); break;
    case CHAT_WIRE_HERE: remote_joined(b, w, 1); break;
    case CHAT_WIRE_LEFT: remote_left(b, w, 0); break;
    case CHAT_WIRE_GONE: remote_left(b, w, 1); break;
    case CHAT_WIRE_RENAMED: remote_renamed(b, w); break;
    case CHAT_WIRE_NODE_GONE:
        if (strcmp(w->other, b->bus.node) != 0)
            node_gone(b, w->other);
        break;
    case CHAT_WIRE_SYNC: chat_cluster_sync_answer(b, w->node); break;
    default: break;
    }
}

/* One message of a batch. */
static int remote_one(chat_broker *b, const char *msg, size_t len)
{
    chat_wire w;
    if (chat_wire_decode(msg, len, &w)) {
        b->stats.remote_invalid++;
        return CHAT_ERR_INVALID;
    }
    if (fresh(b, &w)) {
        b->stats.remote_in++;
        apply(b, &w);
    }
    return CHAT_OK;
}

/* A batch comes from one node: one that starts with a message of this
 * node's is its own, come back from a channel it follows. */
static int own_batch(const chat_bus *bus, const char *s, size_t len)
{
    size_t n = strlen(bus->node);
    return len > 4 + n && memcmp(s, "c1 ", 3) == 0 &&
           memcmp(s + 3, bus->node, n) == 0 && s[3 + n] == ' ';
}

int chat_broker_remote(chat_broker *b, const void *data, size_t len,
                       uint64_t now_ms)
{
    if (!chat_clustered(&b->bus))
        return CHAT_ERR_STATE;
    if (!data || !len) {
        b->stats.remote_invalid++;
        return CHAT_ERR_INVALID;
    }
    const char *s = data, *end = s + len;
    if (own_batch(&b->bus, s, len))
        return CHAT_OK;
    b->now = now_ms;
    int rc = CHAT_OK;
    for (;;) {
        const char *z = memchr(s, '\0', (size_t)(end - s));
        size_t n = z ? (size_t)(z - s) : (size_t)(end - s);
        if (remote_one(b, s, n) != CHAT_OK)
            rc = CHAT_ERR_INVALID;
        if (!z)
            break;
        s = z + 1;
    }
    chat_broker_settle(b);
    return rc;
}

int chat_broker_node_gone(chat_broker *b, const char *node_id, uint64_t now_ms)
{
    if (!chat_clustered(&b->bus))
        return CHAT_ERR_STATE;
    if (!node_id || !chat_node_id_valid(node_id, strlen(node_id)) ||
        strcmp(node_id, b->bus.node) == 0)
        return CHAT_ERR_INVALID;
    b->now = now_ms;
    node_gone(b, node_id);
    chat_wire w = {.kind = CHAT_WIRE_NODE_GONE};
    memcpy(w.other, node_id, strlen(node_id) + 1);
    chat_bus_publish(b, CHAT_CHANNEL_PRESENCE, "", &w, 0);
    chat_broker_settle(b);
    return CHAT_OK;
}
