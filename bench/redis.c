/*
 * chat-bench --target redis: the same load against redis-server's pub/sub,
 * so one generator measures chatd and redis in the same run. A room is a
 * channel of the same name. Receivers SUBSCRIBE to it and are in once
 * redis confirms; senders PING (a subscribed connection may not PUBLISH)
 * and are in once it answers. A message is PUBLISHed with the same text a
 * chatd sender writes; it comes back to each subscriber as
 * ["message", channel, text], which counts exactly as a chat line does,
 * and to its sender as the number of subscribers that got it, which
 * acknowledges it as chatd's echo would (--ack server).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "bench.h"

void bench_redis_start(struct bench_conn *c)
{
    char room[CHAT_NAME_MAX + 1], cmd[64 + sizeof room];
    int n;

    c->state = CONN_JOINING;
    if (c->sender) {
        bench_send(c, "*1\r\n$4\r\nPING\r\n", 14);
        return;
    }
    bench_room_name(c->b, c->room, room, sizeof room);
    n = snprintf(cmd, sizeof cmd, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n",
                 strlen(room), room);
    bench_send(c, cmd, (size_t)n);
}

char *bench_redis_publish(struct bench_conn *c, size_t size)
{
    char room[CHAT_NAME_MAX + 1], head[64 + sizeof room];
    size_t n;
    char *p;

    bench_room_name(c->b, c->room, room, sizeof room);
    n = (size_t)snprintf(head, sizeof head,
                         "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n",
                         strlen(room), room, size);
    /* the text, then CRLF: the caller writes the text and the CR */
    p = bench_send_reserve(c, n + size + 2);
    if (!p)
        return NULL;
    memcpy(p, head, n);
    p[n + size + 1] = '\n';
    return p + n;
}

/* A subscription confirmed: ours if it names this client's room. */
static void subscribed(struct bench_conn *c, const char *channel, size_t len)
{
    char room[CHAT_NAME_MAX + 1];

    bench_room_name(c->b, c->room, room, sizeof room);
    if (c->state == CONN_JOINING && !c->sender &&
        bench_line_is(channel, len, room))
        bench_conn_ready(c);
}

static void message(struct bench_conn *c, const char *text, size_t len)
{
    struct bench_msg m;

    if (c->state == CONN_READY && bench_payload_parse_text(text, len, &m))
        bench_load_payload(c, &m);
    else
        c->b->n.foreign++;
}

/* An error reply, or a line that is not RESP: the run cannot go on. */
static void refused(struct bench_conn *c, const char *line, size_t len,
                    const char *what)
{
    bench_note_line(c, line, len);
    bench_fatal(c->b, "connection %u: %s: %s", c->id + 1, what,
                c->last_line);
}

void bench_redis_line(struct bench_conn *c, const char *line, size_t len)
{
    struct bench_resp_event ev;

    switch (bench_resp_line(&c->resp, line, len, &ev)) {
    case BENCH_RESP_MESSAGE:
        message(c, ev.data, ev.len);
        break;
    case BENCH_RESP_SUBSCRIBED:
        subscribed(c, ev.data, ev.len);
        break;
    case BENCH_RESP_INTEGER:
        if (c->state == CONN_READY && c->sender)
            bench_load_publish_reply(c);
        break;
    case BENCH_RESP_STATUS:
        if (c->state == CONN_JOINING && c->sender &&
            bench_line_is(ev.data, ev.len, "PONG"))
            bench_conn_ready(c);
        break;
    case BENCH_RESP_ERROR:
        refused(c, ev.data, ev.len, "redis answered");
        break;
    case BENCH_RESP_BAD:
        refused(c, line, len, "not a redis reply");
        break;
    case BENCH_RESP_NONE:
    case BENCH_RESP_OTHER:
        break;
    }
}
