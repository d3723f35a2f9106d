/*
 * A peer, one home: its public calls (input, output, accessors, close
 * reasons), queueing its output under the slow-consumer rules, and its
 * lifecycle (doomed, closing, named, greeted). The broker-wide calls
 * (join, tick, shutdown) are in broker.c.
 */
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

int chat_peer_done(const chat_peer *p)
{
    return p->state == PEER_CLOSING || p->doomed;
}

/* ---- close reasons ---- */

int chat_close_reason_flushes(chat_close_reason r)
{
    return r != CHAT_CLOSE_SLOW && r != CHAT_CLOSE_WRITE_TIMEOUT &&
           r != CHAT_CLOSE_NOMEM;
}

const char *chat_close_reason_str(chat_close_reason r)
{
    switch (r) {
    case CHAT_CLOSE_NONE: return "open";
    case CHAT_CLOSE_QUIT: return "quit";
    case CHAT_CLOSE_EOF: return "eof";
    case CHAT_CLOSE_IDLE: return "idle";
    case CHAT_CLOSE_LOGIN_TIMEOUT: return "login-timeout";
    case CHAT_CLOSE_FULL: return "full";
    case CHAT_CLOSE_SHUTDOWN: return "shutdown";
    case CHAT_CLOSE_SLOW: return "slow";
    case CHAT_CLOSE_WRITE_TIMEOUT: return "write-timeout";
    case CHAT_CLOSE_NOMEM: return "nomem";
    }
    return "unknown";
}

static int flushes(chat_close_reason r) { return chat_close_reason_flushes(r); }

void chat_peer_nomem(chat_broker *b, chat_peer *p)
{
    chat_peer_doom(b, p, CHAT_CLOSE_NOMEM);
}

void chat_peer_reply(chat_broker *b, chat_peer *p, chat_msg *m)
{
    if (p->state == PEER_CLOSING)
        return;
    if (!m || chat_peer_enqueue(b, p, m)) {
        chat_peer_nomem(b, p);
        return;
    }
    /* Replies are never dropped, so a peer that keeps asking without
     * reading is bounded here instead (but not by the greeting or a
     * room's history, which are bounded already and not its doing). */
    if (!p->bounded && p->out.bytes > 4 * b->opt.high_water)
        chat_peer_doom(b, p, CHAT_CLOSE_SLOW);
}

void chat_peer_reply_always(chat_broker *b, chat_peer *p, chat_msg *m)
{
    if (p->state != PEER_CLOSING && (!m || chat_peer_enqueue(b, p, m)))
        chat_peer_nomem(b, p);
}

void chat_peer_text(chat_broker *b, chat_peer *p, chat_text id,
                    const chat_targs *args)
{
    if (p->state == PEER_CLOSING || !chat_text_shown(p->dialect, id))
        return;
    chat_msg *m = chat_text_render_for(&b->alloc, p->format, id, args);
    chat_peer_reply(b, p, m);
    chat_msg_unref(&b->alloc, m);
}

void chat_peer_undelivered(chat_broker *b, chat_peer *p)
{
    if (p->state == PEER_CLOSING || p->doomed)
        return;
    if (p->slow) {
        p->dropped++;
        b->stats.dropped++;
        return;
    }
    chat_peer_nomem(b, p); /* only reached when queueing failed */
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
    chat_bus_release(b, p->name); /* the cluster may give it out again */
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
        chat_wait_discard(b, p); /* a waiting message dies with its sender */
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

void chat_peer_help(chat_broker *b, chat_peer *p)
{
    unsigned f = p->format;
    if (!chat_text_shown(p->dialect, CHAT_T_HELP))
        return;
    if (!b->help[f])
        b->help[f] = chat_text_render_for(&b->alloc, f, CHAT_T_HELP, NULL);
    chat_peer_reply(b, p, b->help[f]); /* NULL: out of memory */
}

void chat_peer_welcome(chat_broker *b, chat_peer *p)
{
    p->bounded = 1;
    if (chat_dialect_of(p->dialect)->greet_help)
        chat_peer_help(b, p);
    chat_peer_text(b, p, CHAT_T_YOU_ARE, &(chat_targs){.n = p->name});
    p->bounded = 0;
    if (b->bus.down) /* cluster mode, the link lost: say so at once */
        chat_peer_text(b, p, CHAT_T_CLUSTER_DOWN, NULL);
    const char *room = b->default_room;
    if (chat_room_enter(b, p, room, strlen(room)))
        chat_peer_nomem(b, p);
}

void chat_peer_named(chat_broker *b, chat_peer *p, const char *name,
                     size_t len, int plain)
{
    if (chat_peer_set_name(b, p, name, len)) {
        chat_peer_nomem(b, p);
        return;
    }
    p->plain_name = (uint8_t)plain;
    b->gen.in_use += (uint32_t)plain;
    p->state = PEER_ACTIVE;
    p->last_input_ms = b->now;
    chat_list_move_back(&b->idle, &p->time_link);
    chat_peer_welcome(b, p);
}

void chat_peer_renamed(chat_broker *b, chat_peer *p, const char *name,
                       size_t len)
{
    char old[CHAT_KEY_SIZE];
    memcpy(old, p->name, sizeof(old));
    (void)chat_peer_set_name(b, p, name, len); /* cannot fail: see it */
    if (!p->room)
        return; /* its join waits for the room's history (fetch.c) */
    chat_room_notice(b, p->room, CHAT_T_RENAMED,
                     &(chat_targs){.n = p->name, .o = old});
    chat_bus_presence(b, CHAT_WIRE_RENAMED, p->name, p->room->name, old);
}

void chat_peer_free(chat_broker *b, chat_peer *p)
{
    chat_wait_discard(b, p);
    chat_outbox_clear(&p->out, &b->rings);
    chat_framer_clear(&p->framer);
    chat_mem_free(&b->alloc, p);
}

/* ---- release and accessors ---- */

void chat_peer_release(chat_broker *b, chat_peer *p, uint64_t now_ms)
{
    if (!p)
        return;
    b->now = now_ms;
    if (p->state != PEER_CLOSING)
        chat_peer_close(b, p, p->doomed ? (chat_close_reason)p->reason
                                        : CHAT_CLOSE_EOF);
    b->stats.bytes_queued -= p->out.bytes;
    chat_list_remove(&p->ready_link);
    chat_list_remove(&p->write_link);
    chat_list_remove(&p->all_link);
    if (p->counted)
        b->n_peers--;
    b->stats.peers--;
    chat_peer_free(b, p);
    chat_broker_settle(b);
}

void *chat_peer_user(const chat_peer *p) { return p->user; }

chat_dialect chat_peer_dialect(const chat_peer *p)
{
    return (chat_dialect)p->dialect;
}

int chat_peer_send_raw(chat_broker *b, chat_peer *p, const void *data,
                       size_t len, uint64_t now_ms)
{
    if (!len)
        return CHAT_ERR_INVALID;
    if (chat_peer_done(p))
        return CHAT_ERR_STATE;
    b->now = now_ms;
    chat_msgb mb;
    chat_msgb_init(&mb, &b->alloc, len);
    chat_msgb_add(&mb, data, len);
    chat_msg *m = chat_msgb_take(&mb);
    if (!m)
        return CHAT_ERR_NOMEM;
    chat_peer_reply(b, p, m); /* counted, bounded by the 4x rule */
    chat_msg_unref(&b->alloc, m);
    chat_broker_settle(b);
    return CHAT_OK;
}

const char *chat_peer_name(const chat_peer *p)
{
    return p->name[0] ? p->name : NULL;
}

const char *chat_peer_room(const chat_peer *p)
{
    return p->room ? p->room->name : NULL;
}

chat_close_reason chat_peer_close_reason(const chat_peer *p)
{
    return p->state == PEER_CLOSING ? (chat_close_reason)p->reason
                                    : CHAT_CLOSE_NONE;
}

/* ---- output ---- */

size_t chat_peer_peek(const chat_peer *p, chat_iov *iov, size_t max)
{
    return chat_outbox_peek(&p->out, iov, max);
}

size_t chat_peer_pending(const chat_peer *p) { return p->out.bytes; }

void chat_peer_consume(chat_broker *b, chat_peer *p, size_t n, uint64_t now_ms)
{
    b->now = now_ms;
    if (n > p->out.bytes)
        n = p->out.bytes;
    if (n == 0)
        return;
    chat_outbox_consume(&p->out, &b->rings, n);
    b->stats.bytes_queued -= n;
    p->last_progress_ms = now_ms;
    if (p->out.count == 0)
        chat_list_remove(&p->write_link);
    else
        chat_list_move_back(&b->writes, &p->write_link);
    /* Below the low-water mark a slow peer gets traffic again, told how
     * much it missed, so received + dropped adds up to what was sent. */
    if (p->slow && p->out.bytes < b->opt.high_water / 2) {
        p->slow = 0;
        if (p->dropped) {
            char count[24];
            chat_format_uint(count, p->dropped);
            p->dropped = 0;
            chat_peer_text(b, p, CHAT_T_DROPPED, &(chat_targs){.o = count});
        }
    }
    chat_broker_settle(b);
}
