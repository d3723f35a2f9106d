/* Per-peer output queue of shared messages; see outbox.h. */
#include "outbox.h"

#include "alloc.h"

#define OUTBOX_MIN 8u
#define POOL_BYTES ((size_t)256 * 1024) /* per size class */

/* Size class of a ring of cap slots (a power of two), or -1 if it is too
 * big to pool. */
static int ring_class(uint32_t cap)
{
    int k = __builtin_ctz(cap) - __builtin_ctz(OUTBOX_MIN);
    return k < CHAT_RING_CLASSES ? k : -1;
}

static chat_msg **ring_get(chat_ringpool *pool, uint32_t cap)
{
    int k = ring_class(cap);
    if (k >= 0 && pool->free[k]) {
        chat_msg **ring = pool->free[k];
        pool->free[k] = *(void **)ring;
        pool->count[k]--;
        return ring;
    }
    return chat_mem_alloc(pool->a, (size_t)cap * sizeof(chat_msg *));
}

static void ring_put(chat_ringpool *pool, chat_msg **ring, uint32_t cap)
{
    if (!ring)
        return;
    int k = ring_class(cap);
    if (k >= 0 && (size_t)(pool->count[k] + 1) * cap * sizeof(*ring) <= POOL_BYTES) {
        *(void **)ring = pool->free[k];
        pool->free[k] = ring;
        pool->count[k]++;
        return;
    }
    chat_mem_free(pool->a, ring);
}

void chat_ringpool_clear(chat_ringpool *pool)
{
    for (int k = 0; k < CHAT_RING_CLASSES; k++) {
        while (pool->free[k]) {
            void *ring = pool->free[k];
            pool->free[k] = *(void **)ring;
            chat_mem_free(pool->a, ring);
        }
        pool->count[k] = 0;
    }
}

int chat_outbox_grow(chat_outbox *o, chat_ringpool *pool)
{
    uint32_t cap = o->cap ? o->cap * 2 : (o->hint ? o->hint : OUTBOX_MIN);
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

size_t chat_outbox_peek(const chat_outbox *o, chat_iov *iov, size_t max)
{
    size_t n = o->count < max ? o->count : max;
    if (n == 0)
        return 0;
    uint32_t mask = o->cap - 1;
    const chat_msg *m = o->ring[o->head];
    iov[0].base = m->data + o->off; /* only the head may be part-written */
    iov[0].len = m->len - o->off;
    for (size_t i = 1; i < n; i++) {
        m = o->ring[(o->head + i) & mask];
        iov[i].base = m->data;
        iov[i].len = m->len;
    }
    return n;
}

void chat_outbox_consume(chat_outbox *o, chat_ringpool *pool, size_t n)
{
    if (n >= o->bytes) { /* all written: the usual case */
        chat_outbox_clear(o, pool);
        return;
    }
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
    /* o->count is still the fill level here: it sizes the next ring. */
    for (uint32_t i = 0; i < o->count; i++)
        chat_msg_unref(pool->a, o->ring[(o->head + i) & (o->cap - 1)]);
    ring_put(pool, o->ring, o->cap);
    /* Next time start at the size this fill needed; a ring that was less
     * than half used shrinks, so a one-off burst fades away. */
    if (o->cap)
        o->hint = o->count * 2 > o->cap || o->cap == OUTBOX_MIN ? o->cap
                                                                : o->cap / 2;
    o->ring = NULL;
    o->cap = o->head = o->count = o->off = 0;
    o->bytes = 0;
}
