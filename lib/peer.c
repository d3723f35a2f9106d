/*
 * Peer delivery and lifecycle: queueing output with the slow-consumer
 * rules, closing, naming, and the greeting.
 */
#include <stdarg.h>
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

int chat_peer_done(const chat_peer *p)
{
    return p->state == PEER_CLOSING || p->doomed;
}

static int flushes(chat_close_reason r) { return chat_close_reason_flushes(r); }

void chat_peer_reply(chat_broker *b, chat_peer *p, chat_msg *m)
{
    if (p->state == PEER_CLOSING)
        return;
    if (!m || chat_peer_enqueue(b, p, m)) {
        chat_peer_doom(b, p, CHAT_CLOSE_NOMEM);
        return;
    }
    /* Replies are never dropped, so a peer that keeps asking without
     * reading is bounded here instead (but not by the greeting or a
     * room's history, which are bounded already and not its doing). */
    if (!p->burst && p->out.bytes > 4 * b->opt.high_water)
        chat_peer_doom(b, p, CHAT_CLOSE_SLOW);
}

void chat_peer_reply_always(chat_broker *b, chat_peer *p, chat_msg *m)
{
    if (p->state != PEER_CLOSING && (!m || chat_peer_enqueue(b, p, m)))
        chat_peer_doom(b, p, CHAT_CLOSE_NOMEM);
}

void chat_peer_replyf(chat_broker *b, chat_peer *p, ...)
{
    chat_msgb mb;
    va_list ap;
    chat_msgb_init(&mb, &b->alloc, 64);
    va_start(ap, p);
    for (const char *s; (s = va_arg(ap, const char *));)
        chat_msgb_str(&mb, s);
    va_end(ap);
    chat_msg *m = chat_msgb_end(&mb);
    chat_peer_reply(b, p, m);
    chat_msg_unref(&b->alloc, m);
}

void chat_peer_deliver_slow(chat_broker *b, chat_peer *p, chat_msg *m)
{
    if (p->state == PEER_CLOSING || p->doomed)
        return;
    if (p->slow) {
        p->dropped++;
        b->stats.dropped++;
        return;
    }
    (void)m; /* only reached here when enqueueing m failed */
    chat_peer_doom(b, p, CHAT_CLOSE_NOMEM);
}

/* A close that discards output (stuck output, no memory) overrides one
 * that would flush it: flushing to a peer that does not read would wait
 * for ever, and the write deadline that was to end the wait is gone. */
static int harder(chat_close_reason now, chat_close_reason next)
{
    return !flushes(next) && flushes(now);
}

void chat_peer_doom(chat_broker *b, chat_peer *p, chat_close_reason reason)
{
    if (p->state == PEER_CLOSING) {
        if (harder((chat_close_reason)p->reason, reason))
            chat_peer_close(b, p, reason);
        return;
    }
    if (p->doomed) {
        if (harder((chat_close_reason)p->reason, reason))
            p->reason = (uint8_t)reason;
        return;
    }
    p->doomed = 1;
    p->reason = (uint8_t)reason;
    chat_list_move_back(&b->doomed, &p->time_link);
}

static void drop_output(chat_broker *b, chat_peer *p)
{
    b->stats.bytes_queued -= p->out.bytes;
    chat_outbox_clear(&p->out, &b->rings);
    chat_list_remove(&p->write_link);
}

static void forget_name(chat_broker *b, chat_peer *p)
{
    chat_map_remove(&b->names, &b->alloc, p);
    if (p->plain_name)
        b->gen.in_use--;
    p->plain_name = 0;
    b->stats.named--;
}

void chat_peer_close(chat_broker *b, chat_peer *p, chat_close_reason reason)
{
    if (p->state == PEER_CLOSING) {
        p->reason = (uint8_t)reason;
    } else {
        chat_list_remove(&p->time_link);
        p->doomed = 0;
        if (p->state == PEER_ACTIVE) {
            chat_room_leave(b, p, reason != CHAT_CLOSE_SHUTDOWN);
            forget_name(b, p);
        }
        p->state = PEER_CLOSING;
        p->reason = (uint8_t)reason;
        chat_framer_clear(&p->framer);
    }
    if (!flushes(reason))
        drop_output(b, p);
    chat_peer_mark_ready(b, p);
}

void chat_broker_settle_doomed(chat_broker *b)
{
    chat_link *l;
    while ((l = chat_list_first(&b->doomed))) {
        chat_peer *p = CHAT_CONTAINER(l, chat_peer, time_link);
        chat_peer_close(b, p, (chat_close_reason)p->reason);
    }
}

int chat_peer_set_name(chat_broker *b, chat_peer *p, const char *name,
                       size_t len)
{
    int registered = p->state == PEER_ACTIVE;
    if (registered)
        chat_map_remove(&b->names, &b->alloc, p);
    chat_fold(p->key, name, len);
    /* Right after a remove the map never grows (see chat_map_remove), so
     * only a first name can fail here, and then nothing was registered. */
    if (chat_map_insert(&b->names, &b->alloc, p))
        return CHAT_ERR_NOMEM;
    memcpy(p->name, name, len);
    p->name[len] = '\0';
    if (!registered)
        b->stats.named++;
    if (p->plain_name)
        b->gen.in_use--;
    p->plain_name = 0;
    return CHAT_OK;
}

void chat_peer_welcome(chat_broker *b, chat_peer *p)
{
    p->burst = 1;
    chat_peer_reply(b, p, b->help);
    chat_peer_replyf(b, p, "You are ", p->name, CHAT_END);
    p->burst = 0;
    const char *room = b->default_room;
    if (chat_room_enter(b, p, room, strlen(room)))
        chat_peer_doom(b, p, CHAT_CLOSE_NOMEM);
}
