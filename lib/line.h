/*
 * Structured lines: what the broker relays (a chat line, a /me, a direct
 * message, a join, a leave, a rename) before it is bytes. A line is
 * refcounted and shared by every recipient and by the room's history; it
 * is rendered into bytes lazily, once per format (dialect and framing)
 * among its recipients, and each rendering (a chat_msg) is shared by every
 * recipient of that format. So a room of one format renders a line once,
 * as before dialects existed.
 */
#ifndef CHAT_LINE_H
#define CHAT_LINE_H

#include "dialect.h"

typedef struct chat_line {
    uint32_t refs;
    uint8_t kind;        /* chat_text, one of the relayed group */
    uint8_t tried;       /* bit f: rendering for format f was attempted */
    uint16_t text_len;
    chat_msg *out[CHAT_FORMATS]; /* NULL: not rendered or not shown */
    char *name, *room, *other;         /* into data; "" when absent */
    char data[];         /* name, room, other (NUL-terminated), text */
} chat_line;

/* A line of kind with its pieces copied (refs 1), or NULL without memory.
 * args->o and args->r may be NULL. */
chat_line *chat_line_new(const chat_allocator *a, chat_text kind,
                         const chat_targs *args);

static inline void chat_line_ref(chat_line *l) { l->refs++; }
void chat_line_free(const chat_allocator *a, chat_line *l);
static inline void chat_line_unref(const chat_allocator *a, chat_line *l)
{
    if (l && --l->refs == 0)
        chat_line_free(a, l);
}

/* The cold path of chat_line_bytes. */
chat_msg *chat_line_render(const chat_allocator *a, chat_line *l, unsigned fmt);

/* l's bytes for format fmt (framing.h), or NULL if its dialect does not
 * show it (or no memory: then it is lost for that format alone, as an
 * undeliverable line). The line keeps the reference: take one to keep the
 * bytes. Inline: a fan-out asks once per recipient and almost always
 * finds it rendered. */
static inline chat_msg *chat_line_bytes(const chat_allocator *a, chat_line *l,
                                        unsigned fmt)
{
    chat_msg *m = l->out[fmt];
    if (m || (l->tried >> fmt & 1))
        return m;
    return chat_line_render(a, l, fmt);
}

#endif
