/*
 * chat-bench: a log-linear histogram. Below BENCH_HIST_SUB every value has
 * its own bucket; above, each power of two is cut into BENCH_HIST_SUB
 * equal buckets, so a bucket is never wider than 1/64 of its values and
 * adding a value is a shift and an add, whatever the range (1 ns to hours).
 */
#include <string.h>

#include "bench.h"

#define SUB_BITS 6 /* log2(BENCH_HIST_SUB) */

void bench_hist_reset(struct bench_hist *h)
{
    memset(h, 0, sizeof *h);
}

static unsigned top_bit(uint64_t v)
{
    unsigned n = 0;

    while (v >>= 1)
        n++;
    return n;
}

static size_t index_of(uint64_t v)
{
    unsigned shift;
    size_t i;

    if (v < BENCH_HIST_SUB)
        return (size_t)v;
    shift = top_bit(v) - SUB_BITS;
    i = (size_t)(shift + 1) * BENCH_HIST_SUB +
        (size_t)((v >> shift) - BENCH_HIST_SUB);
    return i < BENCH_HIST_BUCKETS ? i : BENCH_HIST_BUCKETS - 1;
}

/* The middle of bucket i: the value reported for anything in it. */
static uint64_t value_of(size_t i)
{
    unsigned shift;
    uint64_t lo;

    if (i < BENCH_HIST_SUB)
        return i;
    shift = (unsigned)(i / BENCH_HIST_SUB) - 1;
    lo = (uint64_t)(i % BENCH_HIST_SUB + BENCH_HIST_SUB) << shift;
    return lo + (((uint64_t)1 << shift) >> 1);
}

void bench_hist_add(struct bench_hist *h, uint64_t v)
{
    h->bucket[index_of(v)]++;
    h->count++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
    uint64_t rank, seen = 0;

    if (h->count == 0)
        return 0;
    if (q <= 0)
        q = 0;
    /* The smallest value with at least q of the samples at or below it. */
    rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count || rank == 0)
        rank++;
    if (rank >= h->count)
        return h->max; /* the top sample is known exactly */
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t v = value_of(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}
