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

/* Line input (chat_peer_feed_line): append data to the current line as
 * content, unsplit, with no telnet handling; past max bytes the line is
 * discarded whole and remembered as too long. */
void chat_framer_add(chat_framer *f, const void *data, size_t len);
/* End the line chat_framer_add built: one event (LINE, possibly empty,
 * TOO_LONG or NOMEM); returns fn's answer. */
int chat_framer_end(chat_framer *f, chat_frame_fn fn, void *ctx);

#endif
