/*
 * Fuzz the broker: the input is a script of operations across up to 8
 * peers (join in a dialect, for bytes or for lines; release; feed bytes
 * or a piece of a line; eof; advance time; drain fully or in part;
 * shutdown; toggle a message filter that may answer later; answer it),
 * and the broker's invariants
 * are checked after each: names are unique and match live named peers,
 * each room's count equals its members and no room is empty, output goes
 * only to live peers, no peer's backlog grows past the slow-consumer
 * bound, and no output byte is a control character other than tab and
 * newline (no terminal escapes reach anyone); every waiting message is
 * known by its token and no sender holds more lines than the backlog
 * allows. LeakSanitizer checks that freeing the broker leaves nothing
 * behind, waiting messages included.
 *
 * The broker is node "n0" of a cluster: every drain also pulls its events,
 * and op 7 with an argument 0xE0-0xEF takes the next bytes (length from
 * the next byte) as a message from another node, which the broker must
 * validate as if typed; 0xB0 and 0xB1 say the link to the bus went down
 * and came back. Two fetches of a room's history in three are answered,
 * with a line of the room, one of another room, one of its own and bytes
 * that are no message.
 *
 * A join op's bits 3-4 pick the dialect (0 chat, 1 a-chat, 2 telex, 3
 * chat) and its high bit makes it a line peer (chat_peer_feed_line, whose
 * feed ops send a piece, ending the line unless the length byte's high
 * bit says more follows).
 *
 * Script: 5 option bytes (high water, history, rate, login mode, max
 * peers), then operations of 2 bytes (op, peer) and their arguments; see
 * LLVMFuzzerTestOneInput. tests/fuzz/seeds.py writes the seed corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

#define MAX_PEERS 8

/* Past 4x the high-water mark a peer is closed (doc/protocol.md); what one
 * operation can queue on top before that happens (the greeting with the
 * history, a few replies in one feed) is far below this. */
#define BACKLOG_SLACK 16384

typedef struct script {
    const uint8_t *p;
    size_t n;
} script;

static unsigned take(script *s)
{
    if (!s->n)
        return 0;
    s->n--;
    return *s->p++;
}

static int live_index(chat_peer *const *peers, const chat_peer *p)
{
    for (int i = 0; i < MAX_PEERS; i++)
        if (peers[i] == p)
            return i;
    return -1;
}

static void check_rooms(chat_broker *b)
{
    size_t pos = 0, n = 0;
    chat_room *r;
    while ((r = chat_map_next(&b->rooms, &pos))) {
        uint32_t members = 0;
        for (chat_link *l = r->members.next; l != &r->members; l = l->next) {
            chat_peer *p = CHAT_CONTAINER(l, chat_peer, room_link);
            if (p->room != r || p->state != PEER_ACTIVE)
                abort();
            members++;
        }
        uint32_t far = 0;
        for (chat_link *l = r->remote_members.next; l != &r->remote_members;
             l = l->next) {
            if (CHAT_CONTAINER(l, chat_remote, room_link)->room != r)
                abort();
            far++;
        }
        /* A room exists while someone is in it, here or elsewhere, or
         * waits to join it; this node follows its channel exactly while
         * it has members here or joins waiting for its history. */
        uint32_t here = members + r->fetch_waiters;
        if (members != r->count || far != r->remote_count || here + far == 0 ||
            r->followed != (here != 0))
            abort();
        n++;
    }
    if (n != b->stats.rooms || b->remote.count != b->stats.remote_users)
        abort();
}

/* Every pending wait is in the token map and the deadline list; held
 * lines stay within the backlog. */
static void check_waits(chat_broker *b, chat_peer *const *peers)
{
    size_t pending = 0, listed = 0;
    for (int i = 0; i < MAX_PEERS; i++) {
        const chat_wait *w = peers[i] ? peers[i]->wait : NULL;
        if (!w)
            continue;
        if (w->peer != peers[i] || w->held_count > b->opt.filter_backlog)
            abort();
        if (w->pending && chat_map_find(&b->waits, w->key) != w)
            abort();
        pending += w->pending;
    }
    for (chat_link *l = b->wait_list.next; l != &b->wait_list; l = l->next)
        listed++;
    if (pending != b->waits.count || listed != pending)
        abort();
}

static void check(chat_broker *b, chat_peer *const *peers)
{
    size_t named = 0;
    check_waits(b, peers);
    for (int i = 0; i < MAX_PEERS; i++) {
        chat_peer *p = peers[i];
        if (p && chat_peer_pending(p) > 4 * b->opt.high_water + BACKLOG_SLACK)
            abort(); /* memory a reader that never reads can pin */
        if (!p || p->state != PEER_ACTIVE)
            continue;
        named++;
        if (chat_map_find(&b->names, p->key) != p)
            abort();
        /* Only a join waiting for a room's history leaves one outside. */
        if (!p->room && !(p->wait && p->wait->claim == CHAT_CLAIM_JOIN))
            abort();
        for (int j = 0; j < i; j++)
            if (peers[j] && peers[j]->state == PEER_ACTIVE &&
                strcmp(peers[j]->key, p->key) == 0)
                abort(); /* keys are folded: unique case-insensitively */
    }
    if (named != b->names.count || named != b->stats.named)
        abort();
    check_rooms(b);
}

/* Output is sanitized: no C0 control but tab and newline, no DEL, no C1
 * (U+0080-U+009F, UTF-8 C2 80..C2 9F). Checked per piece, which holds
 * whole lines, so a pair split by a partial consume is missed at worst. */
static void check_bytes(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') || s[i] == 0x7F)
            abort();
        if (s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F)
            abort();
    }
}

/* Write what p's transport takes: all its pending output, or only part
 * of it when partial. */
static void write_peer(chat_broker *b, chat_peer *p, uint64_t now,
                       unsigned partial)
{
    chat_iov iov[8];
    size_t k = chat_peer_peek(p, iov, 8), total = 0;
    for (size_t i = 0; i < k; i++) {
        check_bytes(iov[i].base, iov[i].len);
        total += iov[i].len;
    }
    chat_peer_consume(b, p, partial ? total / (partial + 1) : total, now);
}

/* Answer a history fetch for room with what a store might hold: a line
 * of it, a line of another room, a line of this node's own, and bytes
 * that are no message at all. */
static void stored_history(chat_broker *b, const char *room, uint64_t token,
                           uint64_t now)
{
    char ok[96], other[96], own[96];
    int n1 = snprintf(ok, sizeof ok, "c1 n9 %llu chat\nzed\n%s\n\nold news",
                      (unsigned long long)token, room);
    int n2 = snprintf(other, sizeof other, "c1 n9 1 me\nzed\nelsewhere\n\nx");
    int n3 = snprintf(own, sizeof own, "c1 n0 1 chat\nme\n%s\n\nmine", room);
    chat_bytes msgs[] = {
        {ok, (size_t)n1}, {other, (size_t)n2}, {own, (size_t)n3},
        {"c1 garbage", 10}, {NULL, 0},
    };
    (void)chat_broker_history(b, token, msgs, 5, now);
}

/* One pass of a front-end: write every ready peer, then retry the peers
 * whose output is still pending (their transports became writable); and
 * send what the cluster is told. */
static void drain(chat_broker *b, chat_peer *const *peers, uint64_t now,
                  unsigned partial)
{
    chat_peer *p;
    chat_event ev;
    while (chat_broker_next_event(b, &ev)) {
        if (ev.kind == CHAT_EVENT_PUBLISH && (!ev.data || !ev.len))
            abort();
        /* The cluster grants most claims, refuses some; others wait for
         * their timeout (when the queue dropped them, say). */
        if (ev.kind == CHAT_EVENT_CLAIM)
            (void)chat_broker_claim_done(b, ev.token, ev.token % 3 != 0, now);
        if (ev.kind == CHAT_EVENT_FETCH && ev.token % 3)
            stored_history(b, ev.target, ev.token, now);
    }
    while ((p = chat_broker_next_ready(b))) {
        if (live_index(peers, p) < 0)
            abort(); /* output for a peer that was released */
        write_peer(b, p, now, partial);
    }
    for (int i = 0; i < MAX_PEERS; i++)
        if (peers[i] && chat_peer_pending(peers[i]))
            write_peer(b, peers[i], now, partial);
}

/*
 * A filter as a moderation bot would be, misbehaving on purpose: by the
 * text's first byte it allows, drops, or rewrites to text with terminal
 * escapes, to invalid UTF-8, to nothing, or claims more than the buffer
 * holds. The broker must sanitize or drop whatever comes back.
 */
/* Tokens of messages the filter answered "later", oldest first. */
typedef struct later {
    uint64_t token[16];
    unsigned n;
} later;

static chat_filter_verdict wild_filter(void *ctx, const chat_filter_msg *m,
                                       char *buf, size_t *len)
{
    size_t n = m->len < CHAT_MAX_LINE - 8 ? m->len : CHAT_MAX_LINE - 8;
    later *lt = ctx;
    switch ((unsigned char)m->text[0] % 8) {
    case 6:
        if (lt->n == 16)
            return CHAT_FILTER_ALLOW;
        lt->token[lt->n++] = m->token;
        return CHAT_FILTER_PENDING;
    case 0:
        return CHAT_FILTER_DROP;
    case 1: /* ESC [ 3 1 m text BEL */
        memcpy(buf, "\x1b[31m", 5);
        memcpy(buf + 5, m->text, n);
        buf[5 + n] = '\a';
        *len = n + 6;
        return CHAT_FILTER_REWRITE;
    case 2: /* a C1 control and a stray continuation byte */
        memcpy(buf, "\xc2\x9b", 2);
        memcpy(buf + 2, m->text, n);
        buf[2 + n] = (char)0x80;
        *len = n + 3;
        return CHAT_FILTER_REWRITE;
    case 3:
        *len = 0;
        return CHAT_FILTER_REWRITE;
    case 4:
        memset(buf, ' ', CHAT_MAX_LINE);
        *len = CHAT_MAX_LINE + 1; /* a buggy filter: must be dropped */
        return CHAT_FILTER_REWRITE;
    case 5: /* the longest allowed rewrite */
        memset(buf, 'x', CHAT_MAX_LINE);
        *len = CHAT_MAX_LINE;
        return CHAT_FILTER_REWRITE;
    default:
        return CHAT_FILTER_ALLOW;
    }
}

/* Answer the oldest message waiting: allow, drop, rewrite (to a text
 * that needs sanitizing), or an invalid verdict. Answers to messages whose
 * sender left are refused, which is fine. */
static void answer(chat_broker *b, later *lt, unsigned v, uint64_t now)
{
    static const chat_filter_verdict verdicts[] = {
        CHAT_FILTER_ALLOW, CHAT_FILTER_DROP, CHAT_FILTER_REWRITE,
        CHAT_FILTER_PENDING,
    };
    static const char rewrite[] = "\x1b]0;later\a  ";
    if (!lt->n)
        return;
    (void)chat_broker_filter_resume(b, lt->token[0], verdicts[v % 4], rewrite,
                                    sizeof rewrite - 1, now);
    memmove(lt->token, lt->token + 1, --lt->n * sizeof(lt->token[0]));
}

/* Op 7's argument byte: rare values act, the rest do nothing. */
static void special(chat_broker *b, unsigned v, uint64_t now, int *filtered,
                    later *lt)
{
    if (v == 0xAA) {
        chat_broker_shutdown(b, now);
    } else if (v == 0x5A) {
        if (*filtered)
            (void)chat_broker_remove_filter(b, wild_filter, lt);
        else if (chat_broker_add_filter(b, wild_filter, lt) != CHAT_OK)
            return;
        *filtered = !*filtered;
    } else if (v >= 0xF0) {
        answer(b, lt, v, now);
    } else if (v == 0xB0 || v == 0xB1) { /* the link to the bus: down, up */
        (void)chat_broker_cluster_up(b, v == 0xB1, now);
    }
}

/* A message from another node: the next bytes of the script. */
static void remote(chat_broker *b, script *s, uint64_t now)
{
    size_t n = take(s) % 128;
    n = n < s->n ? n : s->n;
    (void)chat_broker_remote(b, s->p, n, now);
    s->p += n;
    s->n -= n;
}

/* Join slot i: dialect and bytes or lines from the op's high bits. */
static void join(chat_broker *b, chat_peer **peers, unsigned op, unsigned i,
                 uint64_t now)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    o.dialect = (chat_dialect)(((op >> 3) & 3) % CHAT_DIALECT_COUNT);
    o.lines = (op & 0x80) != 0;
    if (!peers[i])
        (void)chat_broker_join_opts(b, NULL, &o, now, &peers[i]);
}

/* A feed op: bytes, or a piece of a line (more if len's high bit). */
static void feed(chat_broker *b, chat_peer *p, script *s, uint64_t now)
{
    unsigned arg = take(s);
    size_t n = (arg & 0x7f) % 48;
    n = n < s->n ? n : s->n;
    if (p && p->lines)
        (void)chat_peer_feed_line(b, p, s->p, n, (arg & 0x80) != 0, now);
    else if (p)
        (void)chat_peer_feed(b, p, s->p, n, now);
    s->p += n;
    s->n -= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    script s = {data, size};
    chat_broker *b;
    if (chat_broker_new(&b, NULL))
        return 0;
    chat_broker_set_option(b, CHAT_OPT_SEED, 42);
    chat_broker_set_node(b, "n0");
    chat_broker_set_option(b, CHAT_OPT_EVENT_QUEUE, 64);
    chat_broker_set_option(b, CHAT_OPT_HIGH_WATER, 64 + take(&s) * 4);
    chat_broker_set_option(b, CHAT_OPT_HISTORY, take(&s) % 4);
    chat_broker_set_option(b, CHAT_OPT_RATE, take(&s) % 8);
    chat_broker_set_option(b, CHAT_OPT_LOGIN_MODE, take(&s) % 2);
    chat_broker_set_option(b, CHAT_OPT_MAX_PEERS, take(&s) % 8);
    chat_broker_set_option(b, CHAT_OPT_IDLE_TIMEOUT_MS, 5000);
    chat_broker_set_option(b, CHAT_OPT_WRITE_TIMEOUT_MS, 3000);
    chat_broker_set_option(b, CHAT_OPT_FILTER_TIMEOUT_MS, 2000);
    chat_broker_set_option(b, CHAT_OPT_FILTER_BACKLOG, 3);
    chat_peer *peers[MAX_PEERS] = {0};
    uint64_t now = 1000;
    int filtered = 0;
    later lt = {{0}, 0};
    while (s.n) {
        unsigned op = take(&s), i = take(&s) % MAX_PEERS;
        switch (op % 8) {
        case 0:
            join(b, peers, op, i, now);
            break;
        case 1:
            chat_peer_release(b, peers[i], now);
            peers[i] = NULL;
            break;
        case 2:
        case 3:
            feed(b, peers[i], &s, now);
            break;
        case 4:
            if (peers[i])
                chat_peer_eof(b, peers[i], now);
            break;
        case 5:
            now += take(&s) * 50;
            chat_broker_tick(b, now);
            break;
        case 6:
            drain(b, peers, now, take(&s) % 3);
            break;
        default: {
            unsigned v = take(&s);
            if (v >= 0xE0 && v < 0xF0)
                remote(b, &s, now);
            else
                special(b, v, now, &filtered, &lt);
            break;
        }
        }
        check(b, peers);
    }
    drain(b, peers, now, 0);
    for (int i = 0; i < MAX_PEERS; i++)
        chat_peer_release(b, peers[i], now);
    chat_broker_free(b);
    return 0;
}
