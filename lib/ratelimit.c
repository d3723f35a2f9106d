/* Token bucket: R lines a second, bursts of B. Lazy refill from the clock
 * passed in, so it needs no timer and tests need no sleep. */
#include "ratelimit.h"

#define UNIT 1000u /* tokens per line: rate R refills R units per ms */

void chat_bucket_init(chat_bucket *b, uint64_t now_ms, uint32_t burst)
{
    b->last_ms = now_ms;
    b->tokens = (uint64_t)burst * UNIT;
}

int chat_bucket_take(chat_bucket *b, uint64_t now_ms, uint32_t rate,
                     uint32_t burst)
{
    if (rate == 0)
        return 1;
    uint64_t cap = (uint64_t)burst * UNIT;
    if (now_ms > b->last_ms) {
        uint64_t elapsed = now_ms - b->last_ms;
        /* Clamp first so elapsed * rate cannot overflow. */
        uint64_t refill = elapsed >= cap ? cap : elapsed * rate;
        b->tokens = b->tokens + refill > cap ? cap : b->tokens + refill;
        b->last_ms = now_ms;
    }
    if (b->tokens < UNIT)
        return 0;
    b->tokens -= UNIT;
    return 1;
}
