/*
 * Fuzz the broker: the input is a script of operations across up to 8
 * peers (join, release, feed bytes, eof, advance time, drain fully or in
 * part, shutdown), and the broker's invariants are checked after each:
 * names are unique and match live named peers, each room's count equals
 * its members and no room is empty, and output goes only to live peers.
 * LeakSanitizer checks that freeing the broker leaves nothing behind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

#define MAX_PEERS 8

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
        if (members != r->count || members == 0)
            abort();
        n++;
    }
    if (n != b->stats.rooms)
        abort();
}

static void check(chat_broker *b, chat_peer *const *peers)
{
    size_t named = 0;
    for (int i = 0; i < MAX_PEERS; i++) {
        chat_peer *p = peers[i];
        if (!p || p->state != PEER_ACTIVE)
            continue;
        named++;
        if (chat_map_find(&b->names, p->key) != p || !p->room)
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

/* Drain every ready peer; consume all, or only part when partial. */
static void drain(chat_broker *b, chat_peer *const *peers, uint64_t now,
                  unsigned partial)
{
    chat_peer *p;
    while ((p = chat_broker_next_ready(b))) {
        if (live_index(peers, p) < 0)
            abort(); /* output for a peer that was released */
        chat_iov iov[8];
        size_t k = chat_peer_peek(p, iov, 8), total = 0;
        for (size_t i = 0; i < k; i++)
            total += iov[i].len;
        chat_peer_consume(b, p, partial ? total / (partial + 1) : total, now);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    script s = {data, size};
    chat_broker *b;
    if (chat_broker_new(&b, NULL))
        return 0;
    chat_broker_set_option(b, CHAT_OPT_SEED, 42);
    chat_broker_set_option(b, CHAT_OPT_HIGH_WATER, 64 + take(&s) * 4);
    chat_broker_set_option(b, CHAT_OPT_HISTORY, take(&s) % 4);
    chat_broker_set_option(b, CHAT_OPT_RATE, take(&s) % 8);
    chat_broker_set_option(b, CHAT_OPT_LOGIN_MODE, take(&s) % 2);
    chat_broker_set_option(b, CHAT_OPT_MAX_PEERS, take(&s) % 8);
    chat_broker_set_option(b, CHAT_OPT_IDLE_TIMEOUT_MS, 5000);
    chat_broker_set_option(b, CHAT_OPT_WRITE_TIMEOUT_MS, 3000);
    chat_peer *peers[MAX_PEERS] = {0};
    uint64_t now = 1000;
    while (s.n) {
        unsigned op = take(&s), i = take(&s) % MAX_PEERS;
        switch (op % 8) {
        case 0:
            if (!peers[i])
                (void)chat_broker_join(b, NULL, now, &peers[i]);
            break;
        case 1:
            chat_peer_release(b, peers[i], now);
            peers[i] = NULL;
            break;
        case 2:
        case 3: {
            size_t n = take(&s) % 48;
            n = n < s.n ? n : s.n;
            if (peers[i])
                (void)chat_peer_feed(b, peers[i], s.p, n, now);
            s.p += n;
            s.n -= n;
            break;
        }
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
        default:
            if (take(&s) == 0xAA)
                chat_broker_shutdown(b, now);
            break;
        }
        check(b, peers);
    }
    drain(b, peers, now, 0);
    for (int i = 0; i < MAX_PEERS; i++)
        chat_peer_release(b, peers[i], now);
    chat_broker_free(b);
    return 0;
}
