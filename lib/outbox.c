/* Per-peer output queue of shared messages; see outbox.h. */
#include "outbox.h"

#include "alloc.h"

#define OUTBOX_MIN 8

static int grow(chat_outbox *o, const chat_allocator *a)
{
    uint32_t cap = o->cap ? o->cap * 2 : OUTBOX_MIN;
    if (cap < o->cap)
        return CHAT_ERR_NOMEM;
    chat_msg **ring = chat_mem_alloc(a, (size_t)cap * sizeof(*ring));
    if (!ring)
        return CHAT_ERR_NOMEM;
    for (uint32_t i = 0; i < o->count; i++)
        ring[i] = o->ring[(o->head + i) & (o->cap - 1)];
    chat_mem_free(a, o->ring);
    o->ring = ring;
    o->cap = cap;
    o->head = 0;
    return CHAT_OK;
}

int chat_outbox_push(chat_outbox *o, const chat_allocator *a, chat_msg *m)
{
    if (o->count == o->cap && grow(o, a))
        return CHAT_ERR_NOMEM;
    o->ring[(o->head + o->count) & (o->cap - 1)] = m;
    o->count++;
    o->bytes += m->len;
    chat_msg_ref(m);
    return CHAT_OK;
}

size_t chat_outbox_peek(const chat_outbox *o, chat_iov *iov, size_t max)
{
    size_t k = 0;
    for (uint32_t i = 0; i < o->count && k < max; i++, k++) {
        const chat_msg *m = o->ring[(o->head + i) & (o->cap - 1)];
        uint32_t skip = i == 0 ? o->off : 0;
        iov[k].base = m->data + skip;
        iov[k].len = m->len - skip;
    }
    return k;
}

void chat_outbox_consume(chat_outbox *o, const chat_allocator *a, size_t n)
{
    if (n > o->bytes)
        n = o->bytes;
    o->bytes -= n;
    while (n) {
        chat_msg *m = o->ring[o->head];
        size_t left = m->len - o->off;
        if (n < left) {
            o->off += (uint32_t)n;
            break;
        }
        n -= left;
        o->off = 0;
        o->head = (o->head + 1) & (o->cap - 1);
        o->count--;
        chat_msg_unref(a, m);
    }
    if (o->count == 0)
        chat_outbox_clear(o, a);
}

void chat_outbox_clear(chat_outbox *o, const chat_allocator *a)
{
    for (uint32_t i = 0; i < o->count; i++)
        chat_msg_unref(a, o->ring[(o->head + i) & (o->cap - 1)]);
    chat_mem_free(a, o->ring);
    o->ring = NULL;
    o->cap = o->head = o->count = o->off = 0;
    o->bytes = 0;
}
