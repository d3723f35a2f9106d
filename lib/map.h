/*
 * A string-keyed hash map of objects (users by name, rooms by name).
 *
 * Keys live inside the objects (a NUL-terminated folded name at a fixed
 * offset), so the map stores only a hash and a pointer per slot. Open
 * addressing with linear probing and backward-shift deletion: no tombstones,
 * O(1) average insert/find/remove. Hashing is SipHash-1-3 keyed per broker,
 * so users choosing names cannot force collisions.
 */
#ifndef CHAT_MAP_H
#define CHAT_MAP_H

#include <libchat/common.h>

typedef struct chat_map_slot {
    uint64_t hash;
    void *obj; /* NULL: empty */
} chat_map_slot;

typedef struct chat_map {
    chat_map_slot *slots;
    size_t cap;        /* 0 or a power of two */
    size_t count;
    size_t key_offset; /* where the folded key sits in each object */
    uint64_t k0, k1;   /* SipHash key */
} chat_map;

void chat_map_init(chat_map *m, size_t key_offset, uint64_t k0, uint64_t k1);
void chat_map_free(chat_map *m, const chat_allocator *a);

void *chat_map_find(const chat_map *m, const char *key);
/* Insert obj (whose key must not be present). CHAT_ERR_NOMEM on failure. */
int chat_map_insert(chat_map *m, const chat_allocator *a, void *obj);
/* Remove obj if present (by identity). */
void chat_map_remove(chat_map *m, const chat_allocator *a, void *obj);

/* Iterate: start with *pos = 0; returns NULL at the end. */
void *chat_map_next(const chat_map *m, size_t *pos);

uint64_t chat_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif
