/*
 * A peer's outbox: a FIFO of message references plus how far the head has
 * been written. A ring of pointers, so a delivery is a store and a refcount
 * increment; the ring is freed when it drains, so idle peers hold nothing.
 */
#ifndef CHAT_OUTBOX_H
#define CHAT_OUTBOX_H

#include <libchat/broker.h>

#include "message.h"

/* Rings are recycled through per-broker free lists, one per size class
 * (8, 16, ... 1024 slots): fan-out empties and refills outboxes every
 * loop pass, and recycling spares a malloc/free pair per peer per pass
 * while idle peers still hold no ring at all. Each class keeps at most
 * 256 KiB. */
#define CHAT_RING_CLASSES 8

typedef struct chat_ringpool {
    const chat_allocator *a;
    void *free[CHAT_RING_CLASSES];     /* rings linked through slot 0 */
    uint32_t count[CHAT_RING_CLASSES];
} chat_ringpool;

/* Free every pooled ring. */
void chat_ringpool_clear(chat_ringpool *pool);

typedef struct chat_outbox {
    chat_msg **ring;
    uint32_t cap;   /* 0 or a power of two */
    uint32_t head;
    uint32_t count;
    uint32_t off;   /* bytes of ring[head] already written */
    uint32_t hint;  /* size of the last ring: the next one starts there, so
                       a steady flow never regrows ring by ring */
    size_t bytes;   /* pending bytes: sum of lengths minus off */
} chat_outbox;

/* Double the ring (the cold path of push). CHAT_ERR_NOMEM on failure. */
int chat_outbox_grow(chat_outbox *o, chat_ringpool *pool);

/* Queue a reference to m (taking a new ref). CHAT_ERR_NOMEM on failure.
 * Inline: this is the per-recipient step of every fan-out. */
static inline int chat_outbox_push(chat_outbox *o, chat_ringpool *pool,
                                   chat_msg *m)
{
    if (o->count == o->cap && chat_outbox_grow(o, pool))
        return CHAT_ERR_NOMEM;
    o->ring[(o->head + o->count) & (o->cap - 1)] = m;
    o->count++;
    o->bytes += m->len;
    chat_msg_ref(m);
    return CHAT_OK;
}
size_t chat_outbox_peek(const chat_outbox *o, chat_iov *iov, size_t max);
/* Drop n written bytes (n <= o->bytes). */
void chat_outbox_consume(chat_outbox *o, chat_ringpool *pool, size_t n);
/* Drop everything and give the ring back. */
void chat_outbox_clear(chat_outbox *o, chat_ringpool *pool);

#endif
