/* Per-peer output queue of shared messages; see outbox.h. */
#include "outbox.h"

#include "alloc.h"

#define OUTBOX_MIN 8
#define POOL_MAX 4096 /* rings kept for reuse: 256 KiB at most */

static chat_msg **ring_get(chat_ringpool *pool, uint32_t cap)
{
    if (cap == OUTBOX_MIN && pool->free) {
        chat_msg **ring = pool->free;
        pool->free = *(void **)ring;
        pool->count--;
        return ring;
    }
    return chat_mem_alloc(pool->a, (size_t)cap * sizeof(chat_msg *));
}

static void ring_put(chat_ringpool *pool, chat_msg **ring, uint32_t cap)
{
    if (!ring)
        return;
    if (cap == OUTBOX_MIN && pool->count < POOL_MAX) {
        *(void **)ring = pool->free;
        pool->free = ring;
        pool->count++;
        return;
    }
    chat_mem_free(pool->a, ring);
}

void chat_ringpool_clear(chat_ringpool *pool)
{
    while (pool->free) {
        void *ring = pool->free;
        pool->free = *(void **)ring;
        chat_mem_free(pool->a, ring);
    }
    pool->count = 0;
}

static int grow(chat_outbox *o, chat_ringpool *pool)
{
    uint32_t cap = o->cap ? o->cap * 2 : OUTBOX_MIN;
    if (cap < o->cap)
        return CHAT_ERR_NOMEM;
    chat_msg **ring = ring_get(pool, cap);
    if (!ring)
        return CHAT_ERR_NOMEM;
    for (uint32_t i = 0; i < o->count; i++)
        ring[i] = o->ring[(o->head + i) & (o->cap - 1)];
    ring_put(pool, o->ring, o->cap);
    o->ring = ring;
    o->cap = cap;
    o->head = 0;
    return CHAT_OK;
}

int chat_outbox_push(chat_outbox *o, chat_ringpool *pool, chat_msg *m)
{
    if (o->count == o->cap && grow(o, pool))
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

void chat_outbox_consume(chat_outbox *o, chat_ringpool *pool, size_t n)
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
        chat_msg_unref(pool->a, m);
    }
    if (o->count == 0)
        chat_outbox_clear(o, pool);
}

void chat_outbox_clear(chat_outbox *o, chat_ringpool *pool)
{
    for (uint32_t i = 0; i < o->count; i++)
        chat_msg_unref(pool->a, o->ring[(o->head + i) & (o->cap - 1)]);
    ring_put(pool, o->ring, o->cap);
    o->ring = NULL;
    o->cap = o->head = o->count = o->off = 0;
    o->bytes = 0;
}
