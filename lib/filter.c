/* The message-filter chain: moderation, logging and bots plug in here. */
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

size_t chat_filter_text(const char *buf, size_t n, char *scratch)
{
    if (n > CHAT_MAX_LINE || !chat_utf8_valid(buf, n))
        return 0;
    return chat_text_sanitize(scratch, buf, n);
}

chat_filter_verdict chat_filters_run(chat_broker *b, chat_msg_kind kind,
                                     const chat_peer *from, const char **text,
                                     size_t *len, char *scratch, uint32_t *at,
                                     uint64_t token)
{
    for (; *at < b->n_filters; (*at)++) {
        chat_filter_msg m = {
            .kind = kind,
            .sender = from->name,
            .room = kind == CHAT_KIND_DIRECT ? NULL : from->room->name,
            .text = *text,
            .len = *len,
            .token = token,
        };
        char buf[CHAT_MAX_LINE];
        size_t n = 0;
        chat_filter_entry *f = &b->filters[*at];
        chat_filter_verdict v = f->fn(f->ctx, &m, buf, &n);
        if (v == CHAT_FILTER_DROP || v == CHAT_FILTER_PENDING)
            return v;
        if (v != CHAT_FILTER_REWRITE)
            continue;
        n = chat_filter_text(buf, n, scratch);
        if (n == 0)
            return CHAT_FILTER_DROP;
        *text = scratch;
        *len = n;
    }
    return CHAT_FILTER_ALLOW;
}

int chat_broker_add_filter(chat_broker *b, chat_filter_fn fn, void *ctx)
{
    if (!b || !fn)
        return CHAT_ERR_INVALID;
    size_t n = b->n_filters;
    chat_filter_entry *v = chat_mem_realloc(&b->alloc, b->filters,
                                            n * sizeof(*v), (n + 1) * sizeof(*v));
    if (!v)
        return CHAT_ERR_NOMEM;
    v[n].fn = fn;
    v[n].ctx = ctx;
    b->filters = v;
    b->n_filters = n + 1;
    return CHAT_OK;
}

/* ctx stays non-const to mirror chat_broker_add_filter: it is compared,
 * never written, but callers pass the pointer they registered. */
// cppcheck-suppress constParameter
int chat_broker_remove_filter(chat_broker *b, chat_filter_fn fn, void *ctx)
{
    for (size_t i = 0; b && i < b->n_filters; i++) {
        if (b->filters[i].fn != fn || b->filters[i].ctx != ctx)
            continue;
        memmove(&b->filters[i], &b->filters[i + 1],
                (b->n_filters - i - 1) * sizeof(b->filters[0]));
        b->n_filters--;
        return CHAT_OK;
    }
    return CHAT_ERR_NOT_FOUND;
}
