/* Refcounted messages and the builder that formats them once. */
#include "message.h"

#include <stdarg.h>
#include <string.h>

#include "alloc.h"

void chat_msg_free(const chat_allocator *a, chat_msg *m) { chat_mem_free(a, m); }

void chat_msgb_init(chat_msgb *b, const chat_allocator *a, size_t hint)
{
    b->a = a;
    b->cap = hint < 32 ? 32 : hint;
    b->failed = 0;
    b->m = chat_mem_alloc(a, sizeof(chat_msg) + b->cap);
    if (!b->m) {
        b->failed = 1;
        return;
    }
    b->m->refs = 1;
    b->m->len = 0;
}

static int reserve(chat_msgb *b, size_t n)
{
    if (b->failed)
        return 0;
    size_t need = (size_t)b->m->len + n;
    if (need <= b->cap)
        return 1;
    size_t cap = b->cap;
    while (cap < need)
        cap *= 2;
    if (cap > UINT32_MAX) {
        b->failed = 1;
        return 0;
    }
    chat_msg *m = chat_mem_realloc(b->a, b->m, sizeof(chat_msg) + b->cap,
                                   sizeof(chat_msg) + cap);
    if (!m) {
        b->failed = 1;
        return 0;
    }
    b->m = m;
    b->cap = cap;
    return 1;
}

void chat_msgb_add(chat_msgb *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->m->data + b->m->len, s, n);
    b->m->len += (uint32_t)n;
}

void chat_msgb_str(chat_msgb *b, const char *s) { chat_msgb_add(b, s, strlen(s)); }

size_t chat_format_uint(char out[24], uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out, tmp + i, sizeof(tmp) - i);
    out[sizeof(tmp) - i] = '\0';
    return sizeof(tmp) - i;
}

void chat_msgb_uint(chat_msgb *b, uint64_t v)
{
    char tmp[24];
    size_t n = chat_format_uint(tmp, v);
    chat_msgb_add(b, tmp, n);
}

chat_msg *chat_msgb_end(chat_msgb *b)
{
    chat_msgb_add(b, "\n", 1);
    return chat_msgb_take(b);
}

chat_msg *chat_msgb_take(chat_msgb *b)
{
    if (b->failed) {
        chat_mem_free(b->a, b->m);
        b->m = NULL;
        return NULL;
    }
    chat_msg *m = b->m;
    b->m = NULL;
    return m;
}

chat_msg *chat_msg_cat(const chat_allocator *a, ...)
{
    va_list ap;
    size_t total = 1;
    va_start(ap, a);
    for (const char *s; (s = va_arg(ap, const char *));)
        total += strlen(s);
    va_end(ap);

    chat_msgb b;
    chat_msgb_init(&b, a, total);
    va_start(ap, a);
    for (const char *s; (s = va_arg(ap, const char *));)
        chat_msgb_str(&b, s);
    va_end(ap);
    return chat_msgb_end(&b);
}
