/* Allocation through a broker's chat_allocator, so tests can fail it. */
#ifndef CHAT_ALLOC_H
#define CHAT_ALLOC_H

#include <libchat/common.h>

/* Fill *dst from src, or with malloc/realloc/free when src is NULL. */
void chat_allocator_init(chat_allocator *dst, const chat_allocator *src);

void *chat_mem_alloc(const chat_allocator *a, size_t size);
/* Zeroed n*size bytes; NULL on overflow or failure. */
void *chat_mem_calloc(const chat_allocator *a, size_t n, size_t size);
/* Resize p (old_size bytes) to size; NULL on failure, p then still valid. */
void *chat_mem_realloc(const chat_allocator *a, void *p, size_t old_size,
                       size_t size);
void chat_mem_free(const chat_allocator *a, void *p);

#endif
