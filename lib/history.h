/* A room's recent chat lines: a ring of message references. */
#ifndef CHAT_HISTORY_H
#define CHAT_HISTORY_H

#include "line.h"

typedef struct chat_history {
    chat_line **ring;
    uint32_t cap; /* the limit the ring was sized for */
    uint32_t head;
    uint32_t count;
} chat_history;

/* Keep m (taking a ref), dropping the oldest past limit lines. A limit
 * different from the ring's resizes it; 0 empties it. */
int chat_history_push(chat_history *h, const chat_allocator *a, chat_line *m,
                      uint32_t limit);
/* The i-th kept line, oldest first (i < count). */
chat_line *chat_history_at(const chat_history *h, uint32_t i);
void chat_history_clear(chat_history *h, const chat_allocator *a);

#endif
