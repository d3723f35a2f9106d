/*
 * Fuzz the message format between nodes: whatever arrives from Redis is
 * either refused or decodes to a valid message whose encoding decodes
 * back to the same fields. Never a read past the input.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const chat_wire *a, const chat_wire *b)
{
    return strcmp(a->node, b->node) == 0 && a->seq == b->seq &&
           a->kind == b->kind && strcmp(a->name, b->name) == 0 &&
           strcmp(a->room, b->room) == 0 && strcmp(a->other, b->other) == 0 &&
           a->text_len == b->text_len &&
           (a->text_len == 0 || memcmp(a->text, b->text, a->text_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan sees any read past it. */
    char *msg = malloc(size ? size : 1);
    chat_allocator a;
    chat_wire w, back;
    if (!msg)
        return 0;
    if (size)
        memcpy(msg, data, size);
    chat_allocator_init(&a, NULL);
    if (chat_wire_decode(msg, size, &w) == 0) {
        if (!chat_wire_valid(&w))
            abort();
        chat_msg *m = chat_wire_encode(&a, &w);
        if (m) {
            if (chat_wire_decode(m->data, m->len, &back) != 0 || !same(&w, &back))
                abort();
            chat_msg_unref(&a, m);
        }
    }
    free(msg);
    return 0;
}
