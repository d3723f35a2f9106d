/* Room history; see history.h. */
#include "history.h"

#include "alloc.h"

chat_line *chat_history_at(const chat_history *h, uint32_t i)
{
    return h->ring[(h->head + i) % h->cap];
}

void chat_history_clear(chat_history *h, const chat_allocator *a)
{
    for (uint32_t i = 0; i < h->count; i++)
        chat_line_unref(a, chat_history_at(h, i));
    chat_mem_free(a, h->ring);
    h->ring = NULL;
    h->cap = h->head = h->count = 0;
}

/* The --history limit changed (or first use): move the newest lines into
 * a ring of the new size. */
static int resize(chat_history *h, const chat_allocator *a, uint32_t limit)
{
    chat_line **ring = chat_mem_alloc(a, (size_t)limit * sizeof(*ring));
    if (!ring)
        return CHAT_ERR_NOMEM;
    uint32_t keep = h->count < limit ? h->count : limit;
    uint32_t skip = h->count - keep;
    for (uint32_t i = 0; i < h->count; i++) {
        chat_line *m = chat_history_at(h, i);
        if (i < skip)
            chat_line_unref(a, m);
        else
            ring[i - skip] = m;
    }
    chat_mem_free(a, h->ring);
    h->ring = ring;
    h->cap = limit;
    h->head = 0;
    h->count = keep;
    return CHAT_OK;
}

int chat_history_push(chat_history *h, const chat_allocator *a, chat_line *m,
                      uint32_t limit)
{
    if (limit == 0) {
        chat_history_clear(h, a);
        return CHAT_OK;
    }
    if (h->cap != limit && resize(h, a, limit))
        return CHAT_ERR_NOMEM;
    chat_line_ref(m);
    if (h->count == h->cap) {
        chat_line_unref(a, h->ring[h->head]);
        h->ring[h->head] = m;
        h->head = (h->head + 1) % h->cap;
    } else {
        h->ring[(h->head + h->count) % h->cap] = m;
        h->count++;
    }
    return CHAT_OK;
}
