/*
 * Refcounted output messages. A line is formatted once into one allocation
 * (header and bytes together, like nghttp2's rcbuf); every outbox and the
 * room history hold a reference instead of a copy.
 */
#ifndef CHAT_MESSAGE_H
#define CHAT_MESSAGE_H

#include <libchat/common.h>

typedef struct chat_msg {
    uint32_t refs;
    uint32_t len;  /* bytes in data, the trailing "\n" included */
    char data[];
} chat_msg;

/* Free a message whose last reference is gone. */
void chat_msg_free(const chat_allocator *a, chat_msg *m);

static inline void chat_msg_ref(chat_msg *m) { m->refs++; }

/* Inline: every consumed delivery drops a reference. */
static inline void chat_msg_unref(const chat_allocator *a, chat_msg *m)
{
    if (m && --m->refs == 0)
        chat_msg_free(a, m);
}

/* A builder that grows a message in place, then hands it over with one
 * reference. A failed allocation poisons it: end() then returns NULL. */
typedef struct chat_msgb {
    const chat_allocator *a;
    chat_msg *m;
    size_t cap;
    int failed;
} chat_msgb;

void chat_msgb_init(chat_msgb *b, const chat_allocator *a, size_t hint);
void chat_msgb_add(chat_msgb *b, const char *s, size_t n);
void chat_msgb_str(chat_msgb *b, const char *s);
void chat_msgb_uint(chat_msgb *b, uint64_t v);
/* v in decimal into out, NUL-terminated; returns its length. */
size_t chat_format_uint(char out[24], uint64_t v);
/* Appends "\n" and returns the message (refs 1), or NULL on failure. */
chat_msg *chat_msgb_end(chat_msgb *b);
/* The message as built, with nothing appended (refs 1), or NULL. */
chat_msg *chat_msgb_take(chat_msgb *b);

/* Ends the variadic piece lists below: a typed null pointer, because a
 * bare NULL may be an int where va_arg expects a pointer. */
#define CHAT_END ((const char *)0)

/* A message of NUL-terminated pieces followed by "\n"; the list ends with
 * CHAT_END. NULL on allocation failure. */
chat_msg *chat_msg_cat(const chat_allocator *a, ...);

#endif
