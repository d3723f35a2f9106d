/*
 * A peer's input: bytes (chat_peer_feed) or whole lines
 * (chat_peer_feed_line) framed into lines, the rate limit, and lines held
 * behind a message that waits for a filter. Complete lines go on to
 * chat_peer_line (command.c).
 */
#include "broker_int.h"

static void rate_notice(chat_broker *b, chat_peer *p)
{
    if (p->rate_noticed && b->now - p->last_notice_ms < 1000)
        return;
    p->rate_noticed = 1;
    p->last_notice_ms = b->now;
    chat_peer_text(b, p, CHAT_T_TOO_FAST, NULL);
}

/* A line of p's while a message of p's waits: it waits too, in order. */
static void hold(chat_broker *b, chat_peer *p, const char *line, size_t len)
{
    if (chat_wait_hold(b, p, line, len) == 0)
        return;
    b->stats.rate_limited++;
    rate_notice(b, p); /* the backlog is full: as if sent too fast */
}

/* Framer events of one peer, executed as they complete. */
static int on_frame(void *ctx, chat_frame_event ev, const char *line,
                    size_t len)
{
    chat_peer *p = ctx;
    chat_broker *b = p->broker;
    if (chat_peer_done(p))
        return 1;
    if (ev == CHAT_FRAME_INTERRUPT) {
        chat_peer_text(b, p, CHAT_T_BYE, NULL);
        chat_peer_doom(b, p, CHAT_CLOSE_QUIT);
    } else if (!chat_bucket_take(&p->bucket, b->now, b->opt.rate,
                                 chat_burst(b))) {
        b->stats.rate_limited++;
        rate_notice(b, p);
    } else if (ev == CHAT_FRAME_TOO_LONG) {
        b->stats.too_long++;
        chat_peer_text(b, p, CHAT_T_TOO_LONG, NULL);
    } else if (ev == CHAT_FRAME_NOMEM) {
        chat_peer_nomem(b, p);
    } else if (chat_peer_waiting(p)) {
        hold(b, p, line, len);
    } else {
        chat_peer_line(b, p, line, len);
    }
    return chat_peer_done(p);
}

/* Any input counts as activity; login peers are timed from joining, so
 * their last_input_ms stays the join time until they log in. */
static void input_seen(chat_broker *b, chat_peer *p, uint64_t now_ms)
{
    b->now = now_ms;
    if (p->state == PEER_ACTIVE) {
        p->last_input_ms = now_ms;
        chat_list_move_back(&b->idle, &p->time_link);
    }
    p->broker = b;
}

int chat_peer_feed(chat_broker *b, chat_peer *p, const void *data, size_t len,
                   uint64_t now_ms)
{
    if (p->lines)
        return CHAT_ERR_INVALID;
    if (chat_peer_done(p))
        return CHAT_ERR_STATE;
    input_seen(b, p, now_ms);
    chat_framer_feed(&p->framer, data, len, on_frame, p);
    chat_broker_settle(b);
    return CHAT_OK;
}

int chat_peer_feed_line(chat_broker *b, chat_peer *p, const void *data,
                        size_t len, int more, uint64_t now_ms)
{
    if (!p->lines)
        return CHAT_ERR_INVALID;
    if (chat_peer_done(p))
        return CHAT_ERR_STATE;
    input_seen(b, p, now_ms);
    chat_framer_add(&p->framer, data, len);
    if (!more)
        (void)chat_framer_end(&p->framer, on_frame, p);
    chat_broker_settle(b);
    return CHAT_OK;
}

void chat_peer_eof(chat_broker *b, chat_peer *p, uint64_t now_ms)
{
    b->now = now_ms;
    if (chat_peer_done(p))
        return;
    p->broker = b;
    /* A last line of bytes with no "\n" runs as if it had one (a telnet
     * user's last words); pieces of a line that never ended are not a
     * line (a WebSocket message cut off mid-way) and are dropped. */
    if (p->lines)
        chat_framer_clear(&p->framer);
    else
        chat_framer_finish(&p->framer, on_frame, p);
    if (chat_peer_done(p)) {
        /* it quit on its last line */
    } else if (chat_peer_waiting(p)) {
        chat_wait_hold_eof(p); /* close once what waits has run */
    } else {
        chat_peer_doom(b, p, CHAT_CLOSE_EOF);
    }
    chat_broker_settle(b);
}
