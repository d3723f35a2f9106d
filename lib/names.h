/*
 * Random default names ("HushedLlama"): an affine permutation of the
 * adjective x animal grid. idx = (offset + k * step) mod M with step
 * coprime to M visits every combination exactly once per M steps, so the
 * generator never retries at random and covers all names before repeating
 * one; names in use are skipped. Only when every combination is taken are
 * numbered names ("ZenMammoth2") handed out.
 */
#ifndef CHAT_NAMES_H
#define CHAT_NAMES_H

#include <stdint.h>

extern const char *const chat_adjectives[];
extern const char *const chat_animals[];
extern const uint32_t chat_n_adjectives, chat_n_animals;

typedef struct chat_namegen {
    uint32_t total;  /* combinations */
    uint32_t step;   /* coprime to total */
    uint32_t offset;
    uint32_t cursor; /* position in the walk, 0..total-1 */
    uint32_t suffix; /* next number for numbered names, from 2 */
    uint32_t in_use; /* plain combinations held by peers */
} chat_namegen;

void chat_namegen_init(chat_namegen *g, uint64_t seed);

/* Is this display name in use? (case-insensitive; the caller folds) */
typedef int (*chat_name_taken_fn)(void *ctx, const char *name);

/*
 * Write the next free name (NUL-terminated, at most 24 characters) to out.
 * *plain is set when it is a plain combination, which the caller counts in
 * in_use while a peer holds it. Returns 0, or CHAT_ERR_STATE if even the
 * numbered names are exhausted.
 */
int chat_namegen_next(chat_namegen *g, char out[32], chat_name_taken_fn taken,
                      void *ctx, int *plain);

#endif
