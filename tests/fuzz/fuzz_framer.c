/*
 * Fuzz the line framer: random chunking of random bytes, with telnet on
 * or off. Checks that lines never exceed the limit nor contain "\n", and
 * that framing does not depend on how the input was split (the same input
 * fed whole and in pieces gives the same events).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libchat/framer.h>

#define MAX_LINE 40
#define MAX_EVENTS 4096

typedef struct record {
    size_t n;
    uint32_t hash[MAX_EVENTS];
} record;

static int on_event(void *ctx, chat_frame_event ev, const char *line,
                    size_t len)
{
    record *r = ctx;
    if (ev == CHAT_FRAME_LINE && (len > MAX_LINE || memchr(line, '\n', len)))
        abort();
    uint32_t h = 2166136261u ^ (uint32_t)ev;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)line[i]) * 16777619u;
    if (r->n < MAX_EVENTS)
        r->hash[r->n++] = h;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned flags = data[0] & 1 ? CHAT_FRAMER_TELNET : 0;
    unsigned chunk = data[1] % 7 + 1;
    data += 2;
    size -= 2;
    static record whole, split;
    chat_framer *f;
    whole.n = split.n = 0;
    if (chat_framer_new(&f, MAX_LINE, flags, NULL))
        return 0;
    if (chat_framer_feed(f, data, size, on_event, &whole) != size)
        abort();
    chat_framer_finish(f, on_event, &whole);
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (chat_framer_feed(f, data + off, n, on_event, &split) != n)
            abort();
    }
    chat_framer_finish(f, on_event, &split);
    chat_framer_free(f);
    if (whole.n != split.n ||
        memcmp(whole.hash, split.hash, whole.n * sizeof(whole.hash[0])))
        abort();
    return 0;
}
