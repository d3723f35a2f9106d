/* The framer's state, embeddable in a peer (lib/ only). */
#ifndef CHAT_FRAMER_INT_H
#define CHAT_FRAMER_INT_H

#include <libchat/framer.h>

struct chat_framer {
    const chat_allocator *alloc;
    char *buf;        /* partial line; allocated only while one is pending */
    uint16_t len;     /* bytes in buf */
    uint16_t max;     /* max line length */
    uint8_t telnet;   /* consume IAC sequences */
    uint8_t tstate;   /* telnet parser state */
    uint8_t skip;     /* discarding the rest of the line: 0, TOO_LONG, NOMEM */
};

/* Set up a framer in place; it allocates nothing until a line is split. */
void chat_framer_init(chat_framer *f, const chat_allocator *a, size_t max_line,
                      unsigned flags);
/* Release the partial-line buffer. */
void chat_framer_clear(chat_framer *f);

#endif
