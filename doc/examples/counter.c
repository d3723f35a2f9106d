/* counter - see counter.h. */
#include "counter.h"

#include <stdlib.h>
#include <string.h>

typedef struct room_count {
    char name[CHAT_NAME_MAX + 1];
    uint64_t chat, me;
} room_count;

struct counter {
    room_count *rooms; /* in first-seen order */
    size_t n, cap;
    uint64_t chat, me, direct; /* totals */
    uint64_t unfiled;
};

int counter_new(counter **out)
{
    counter *n = calloc(1, sizeof(*n));
    if (!n)
        return CHAT_ERR_NOMEM;
    *out = n;
    return CHAT_OK;
}

void counter_free(counter *n)
{
    if (!n)
        return;
    free(n->rooms);
    free(n);
}

static int same_name(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return 0;
        if (!x)
            return 1;
    }
}

/* A linear search: fine for an example with a handful of rooms; a real
 * server would hash the lowercased name. */
static room_count *find_room(const counter *n, const char *room)
{
    for (size_t i = 0; i < n->n; i++)
        if (same_name(n->rooms[i].name, room))
            return &n->rooms[i];
    return NULL;
}

static room_count *add_room(counter *n, const char *room)
{
    if (strlen(room) > CHAT_NAME_MAX)
        return NULL;
    if (n->n == n->cap) {
        size_t cap = n->cap ? 2 * n->cap : 4;
        room_count *r = realloc(n->rooms, cap * sizeof(*r));
        if (!r)
            return NULL;
        n->rooms = r;
        n->cap = cap;
    }
    room_count *r = &n->rooms[n->n++];
    memset(r, 0, sizeof(*r));
    strcpy(r->name, room);
    return r;
}

chat_filter_verdict counter_filter(void *ctx, const chat_filter_msg *msg,
                                   char *buf, size_t *len)
{
    counter *n = ctx;
    (void)buf;
    (void)len;
    if (msg->kind == CHAT_KIND_DIRECT) {
        n->direct++;
        return CHAT_FILTER_ALLOW;
    }
    if (msg->kind == CHAT_KIND_ME)
        n->me++;
    else
        n->chat++;
    room_count *r = msg->room ? find_room(n, msg->room) : NULL;
    if (!r && msg->room)
        r = add_room(n, msg->room);
    if (!r) {
        /* Counting must never cost the message: keep the totals only. */
        n->unfiled++;
        return CHAT_FILTER_ALLOW;
    }
    if (msg->kind == CHAT_KIND_ME)
        r->me++;
    else
        r->chat++;
    return CHAT_FILTER_ALLOW;
}

uint64_t counter_get(const counter *n, chat_msg_kind kind, const char *room)
{
    if (kind == CHAT_KIND_DIRECT)
        return n->direct;
    if (!room)
        return kind == CHAT_KIND_ME ? n->me : n->chat;
    const room_count *r = find_room(n, room);
    if (!r)
        return 0;
    return kind == CHAT_KIND_ME ? r->me : r->chat;
}

uint64_t counter_unfiled(const counter *n)
{
    return n->unfiled;
}

void counter_print(const counter *n, FILE *out)
{
    for (size_t i = 0; i < n->n; i++)
        fprintf(out, "room %s: %llu chat, %llu me\n", n->rooms[i].name,
                (unsigned long long)n->rooms[i].chat,
                (unsigned long long)n->rooms[i].me);
    fprintf(out, "direct: %llu\n", (unsigned long long)n->direct);
}
