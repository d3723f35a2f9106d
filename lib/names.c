/* The default-name generator; see names.h. */
#include "names.h"
#include "mix.h"

#include <libchat/common.h>
#include <stdio.h>
#include <string.h>

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void chat_namegen_init(chat_namegen *g, uint64_t seed)
{
    memset(g, 0, sizeof(*g));
    g->total = chat_n_adjectives * chat_n_animals;
    /* Mix the seed so nearby seeds give unrelated walks. */
    uint64_t z = chat_splitmix64(seed, 1);
    /* A step near a third of the grid moves both words on each time. */
    g->step = g->total / 3 + (uint32_t)(z % (g->total / 3));
    while (gcd(g->step, g->total) != 1)
        g->step++;
    g->offset = (uint32_t)((z >> 32) % g->total);
    g->suffix = 2;
}

static void compose(const chat_namegen *g, uint32_t idx, uint32_t suffix,
                    char out[32])
{
    (void)g;
    const char *adj = chat_adjectives[idx / chat_n_animals];
    const char *animal = chat_animals[idx % chat_n_animals];
    if (suffix)
        snprintf(out, 32, "%s%s%u", adj, animal, (unsigned)suffix);
    else
        snprintf(out, 32, "%s%s", adj, animal);
}

/* The next combination in the walk; the suffix moves on each full lap. */
static uint32_t advance(chat_namegen *g, int numbered)
{
    uint32_t idx = (uint32_t)((g->offset + (uint64_t)g->cursor * g->step) %
                              g->total);
    if (++g->cursor == g->total) {
        g->cursor = 0;
        /* Numbers wrap: by then the low ones are mostly free again. */
        if (numbered && ++g->suffix > 9999)
            g->suffix = 2;
    }
    return idx;
}

int chat_namegen_next(chat_namegen *g, char out[32], chat_name_taken_fn taken,
                      void *ctx, int *plain)
{
    /* At most one lap over plain names: they run out only when all are
     * held (in_use counts ours; names users picked by hand are skipped). */
    if (g->in_use < g->total) {
        for (uint32_t i = 0; i < g->total; i++) {
            compose(g, advance(g, 0), 0, out);
            if (!taken(ctx, out)) {
                *plain = 1;
                return 0;
            }
        }
    }
    /* Each numbered candidate differs from the last (peers + 1) ones, so
     * this ends within (peers + 1) steps; the bound is a backstop. */
    for (uint64_t i = 0; i < (uint64_t)g->total * 9998; i++) {
        compose(g, advance(g, 1), g->suffix, out);
        if (!taken(ctx, out)) {
            *plain = 0;
            return 0;
        }
    }
    return CHAT_ERR_STATE;
}
