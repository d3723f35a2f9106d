/* Output framing; see framing.h. */
#include "framing.h"

#include <string.h>

#include "alloc.h"

/* RFC 6455 5.2: FIN and opcode 1 (text), no mask (server to client),
 * then the payload length in 7 bits, or 126 and 16 bits, or 127 and 64. */
static size_t ws_header(unsigned char *h, size_t len)
{
    h[0] = 0x81;
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

chat_msg *chat_frame(const chat_allocator *a, unsigned fmt, chat_msg *m)
{
    if (fmt / CHAT_DIALECT_COUNT == CHAT_FRAMING_LINES) {
        chat_msg_ref(m);
        return m;
    }
    chat_msgb mb;
    chat_msgb_init(&mb, a, m->len + 16);
    for (const char *s = m->data, *end = m->data + m->len; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = (size_t)((nl ? nl : end) - s);
        unsigned char h[10];
        chat_msgb_add(&mb, (const char *)h, ws_header(h, n));
        chat_msgb_add(&mb, s, n);
        s += n + 1;
    }
    return chat_msgb_take(&mb);
}
