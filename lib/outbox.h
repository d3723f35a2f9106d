/*
 * A peer's outbox: a FIFO of message references plus how far the head has
 * been written. A ring of pointers, so a delivery is a store and a refcount
 * increment; the ring is freed when it drains, so idle peers hold nothing.
 */
#ifndef CHAT_OUTBOX_H
#define CHAT_OUTBOX_H

#include <libchat/broker.h>

#include "message.h"

/* Rings of the minimum size are recycled through a per-broker free list:
 * fan-out empties and refills outboxes every loop pass, and recycling
 * spares a malloc/free pair per peer per pass while idle peers still
 * hold no ring at all. */
typedef struct chat_ringpool {
    const chat_allocator *a;
    void *free;     /* rings linked through their first slot */
    uint32_t count;
} chat_ringpool;

/* Free every pooled ring. */
void chat_ringpool_clear(chat_ringpool *pool);

typedef struct chat_outbox {
    chat_msg **ring;
    uint32_t cap;   /* 0 or a power of two */
    uint32_t head;
    uint32_t count;
    uint32_t off;   /* bytes of ring[head] already written */
    size_t bytes;   /* pending bytes: sum of lengths minus off */
} chat_outbox;

/* Queue a reference to m (taking a new ref). CHAT_ERR_NOMEM on failure. */
int chat_outbox_push(chat_outbox *o, chat_ringpool *pool, chat_msg *m);
size_t chat_outbox_peek(const chat_outbox *o, chat_iov *iov, size_t max);
/* Drop n written bytes (n <= o->bytes). */
void chat_outbox_consume(chat_outbox *o, chat_ringpool *pool, size_t n);
/* Drop everything and give the ring back. */
void chat_outbox_clear(chat_outbox *o, chat_ringpool *pool);

#endif
