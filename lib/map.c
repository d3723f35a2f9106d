/* Open-addressing hash map keyed by a folded name; see map.h. */
#include "map.h"

#include <string.h>

#include "alloc.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3)                                               \
    do {                                                                       \
        (v0) += (v1); (v1) = ROTL(v1, 13); (v1) ^= (v0);                       \
        (v0) = ROTL(v0, 32);                                                   \
        (v2) += (v3); (v3) = ROTL(v3, 16); (v3) ^= (v2);                       \
        (v0) += (v3); (v3) = ROTL(v3, 21); (v3) ^= (v0);                       \
        (v2) += (v1); (v1) = ROTL(v1, 17); (v1) ^= (v2);                       \
        (v2) = ROTL(v2, 32);                                                   \
    } while (0)

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* SipHash-1-3: one compression and three finalization rounds, as Redis and
 * Python use for hash tables; ample for keys of at most 24 bytes. */
uint64_t chat_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(p + i);
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)p[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

void chat_map_init(chat_map *m, size_t key_offset, uint64_t k0, uint64_t k1)
{
    memset(m, 0, sizeof(*m));
    m->key_offset = key_offset;
    m->k0 = k0;
    m->k1 = k1;
}

void chat_map_free(chat_map *m, const chat_allocator *a)
{
    chat_mem_free(a, m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static const char *key_of(const chat_map *m, const void *obj)
{
    return (const char *)obj + m->key_offset;
}

static uint64_t hash_key(const chat_map *m, const char *key)
{
    return chat_siphash(m->k0, m->k1, key, strlen(key));
}

void *chat_map_find(const chat_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    uint64_t h = hash_key(m, key);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const chat_map_slot *s = &m->slots[i];
        if (!s->obj)
            return NULL;
        if (s->hash == h && strcmp(key_of(m, s->obj), key) == 0)
            return s->obj;
    }
}

static void place(chat_map_slot *slots, size_t cap, uint64_t h, void *obj)
{
    size_t mask = cap - 1;
    size_t i = h & mask;
    while (slots[i].obj)
        i = (i + 1) & mask;
    slots[i].hash = h;
    slots[i].obj = obj;
}

static int resize(chat_map *m, const chat_allocator *a, size_t cap)
{
    chat_map_slot *slots = chat_mem_calloc(a, cap, sizeof(*slots));
    if (!slots)
        return CHAT_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].obj)
            place(slots, cap, m->slots[i].hash, m->slots[i].obj);
    chat_mem_free(a, m->slots);
    m->slots = slots;
    m->cap = cap;
    return CHAT_OK;
}

int chat_map_insert(chat_map *m, const chat_allocator *a, void *obj)
{
    /* Keep the load at most 1/2 so probe runs stay short. */
    if ((m->count + 1) * 2 > m->cap) {
        int rc = resize(m, a, m->cap ? m->cap * 2 : 16);
        if (rc)
            return rc;
    }
    place(m->slots, m->cap, hash_key(m, key_of(m, obj)), obj);
    m->count++;
    return CHAT_OK;
}

/* Backward-shift deletion: pull later members of the probe run into the
 * hole so lookups never need tombstones. */
static void delete_at(chat_map *m, size_t hole)
{
    size_t mask = m->cap - 1;
    size_t i = hole;
    for (;;) {
        i = (i + 1) & mask;
        chat_map_slot *s = &m->slots[i];
        if (!s->obj)
            break;
        size_t home = s->hash & mask;
        /* Movable if its home is not within (hole, i] cyclically. */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            m->slots[hole] = *s;
            hole = i;
        }
    }
    m->slots[hole].obj = NULL;
    m->slots[hole].hash = 0;
}

void chat_map_remove(chat_map *m, const chat_allocator *a, void *obj)
{
    if (!m->cap)
        return;
    uint64_t h = hash_key(m, key_of(m, obj));
    size_t mask = m->cap - 1;
    for (size_t i = h & mask; m->slots[i].obj; i = (i + 1) & mask) {
        if (m->slots[i].obj == obj) {
            delete_at(m, i);
            m->count--;
            /* Give memory back after a storm of joins; failure is harmless. */
            if (m->cap > 64 && m->count * 8 < m->cap)
                (void)resize(m, a, m->cap / 2);
            return;
        }
    }
}

void *chat_map_next(const chat_map *m, size_t *pos)
{
    while (*pos < m->cap) {
        void *obj = m->slots[(*pos)++].obj;
        if (obj)
            return obj;
    }
    return NULL;
}
