/* Token bucket for the per-user line rate limit; time comes in as ms. */
#ifndef CHAT_RATELIMIT_H
#define CHAT_RATELIMIT_H

#include <stdint.h>

typedef struct chat_bucket {
    uint64_t last_ms;   /* when tokens were last refilled */
    uint64_t tokens;    /* in thousandths of a line */
} chat_bucket;

/* A full bucket at now_ms. */
void chat_bucket_init(chat_bucket *b, uint64_t now_ms, uint32_t burst);
/* Take one line's token; 1 if allowed, 0 if over the rate. rate 0: always 1. */
int chat_bucket_take(chat_bucket *b, uint64_t now_ms, uint32_t rate,
                     uint32_t burst);

#endif
