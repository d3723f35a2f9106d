/* The default allocator and the helpers every module allocates through. */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

static void *libc_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *libc_realloc(void *ctx, void *p, size_t size)
{
    (void)ctx;
    return realloc(p, size);
}

static void libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

void chat_allocator_init(chat_allocator *dst, const chat_allocator *src)
{
    if (src && src->malloc && src->free) {
        *dst = *src;
        return;
    }
    dst->malloc = libc_malloc;
    dst->realloc = libc_realloc;
    dst->free = libc_free;
    dst->ctx = NULL;
}

void *chat_mem_alloc(const chat_allocator *a, size_t size)
{
    return a->malloc(a->ctx, size ? size : 1);
}

void *chat_mem_calloc(const chat_allocator *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = chat_mem_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *chat_mem_realloc(const chat_allocator *a, void *p, size_t old_size,
                       size_t size)
{
    if (a->realloc)
        return a->realloc(a->ctx, p, size ? size : 1);
    /* No realloc hook: emulate it, which is why callers pass old_size. */
    void *q = chat_mem_alloc(a, size);
    if (!q)
        return NULL;
    if (p) {
        memcpy(q, p, old_size < size ? old_size : size);
        a->free(a->ctx, p);
    }
    return q;
}

void chat_mem_free(const chat_allocator *a, void *p)
{
    if (p)
        a->free(a->ctx, p);
}
