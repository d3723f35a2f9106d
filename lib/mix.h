/* splitmix64's output function: spreads nearby inputs (seeds, counters)
 * into unrelated-looking 64-bit values. Not for secrets. */
#ifndef CHAT_MIX_H
#define CHAT_MIX_H

#include <stdint.h>

/* The i-th value of the splitmix64 sequence started at seed. */
static inline uint64_t chat_splitmix64(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + i * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#endif
