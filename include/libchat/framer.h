/*
 * libchat - the line framer: bytes in, lines out.
 *
 * Splits a byte stream into lines per doc/protocol.md "Lines": lines end in
 * "\n", a "\r" just before it is dropped, a line over max_line bytes is
 * discarded whole (reported once, never buffered past the limit), and with
 * telnet handling on, IAC sequences are consumed (split across feeds too)
 * and IAC IP / BRK / ABORT are reported as an interrupt.
 *
 * The framer does no UTF-8 or command handling: that is the broker's. It is
 * public so clients (chat-cli) and fuzzers can reuse the exact framing.
 */
#ifndef LIBCHAT_FRAMER_H
#define LIBCHAT_FRAMER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chat_framer chat_framer;

typedef enum chat_frame_event {
    CHAT_FRAME_LINE,      /* a complete line: (line, len), terminator removed */
    CHAT_FRAME_TOO_LONG,  /* a line over max_line was discarded (line NULL, len 0) */
    CHAT_FRAME_INTERRUPT, /* telnet IAC IP, IAC BRK or IAC ABORT (line NULL) */
    CHAT_FRAME_NOMEM,     /* a partial line could not be buffered and was
                             discarded up to its newline (line NULL) */
} chat_frame_event;

/* Options for chat_framer_new(). */
#define CHAT_FRAMER_TELNET 0x1 /* consume telnet IAC sequences */

/*
 * Called once per event. `line` points into framer- or caller-owned memory
 * and is valid only during the call; it is not NUL-terminated and may hold
 * any bytes but '\n'. Return 0 to go on, non-zero to stop the feed: the
 * bytes after this event are then left unconsumed.
 */
typedef int (*chat_frame_fn)(void *ctx, chat_frame_event ev, const char *line,
                             size_t len);

/*
 * Create a framer for lines of at most max_line bytes (1..65534), with
 * flags from CHAT_FRAMER_*. The framer buffers at most max_line + 1 bytes,
 * only while a line is incomplete. On success *out owns the framer (free it
 * with chat_framer_free). Errors: CHAT_ERR_INVALID, CHAT_ERR_NOMEM; *out is
 * left untouched on error.
 */
CHAT_EXTERN int chat_framer_new(chat_framer **out, size_t max_line,
                                unsigned flags, const chat_allocator *alloc);

/* Free a framer and any partial line it holds. NULL is accepted. */
CHAT_EXTERN void chat_framer_free(chat_framer *f);

/*
 * Feed len bytes, calling fn for each event in order. Returns the number of
 * bytes consumed: len, or fewer if fn asked to stop. The buffer for a
 * partial line is allocated only while one is pending; if that allocation
 * fails the line is discarded and reported as CHAT_FRAME_NOMEM. The caller
 * keeps ownership of data.
 */
CHAT_EXTERN size_t chat_framer_feed(chat_framer *f, const void *data, size_t len,
                                  chat_frame_fn fn, void *ctx);

/*
 * End of input: a pending partial line (no "\n" yet) is delivered as a
 * CHAT_FRAME_LINE, as a telnet user who typed a last line and closed would
 * expect. A pending over-long line yields nothing more. The framer is reset.
 */
CHAT_EXTERN void chat_framer_finish(chat_framer *f, chat_frame_fn fn, void *ctx);

/* Bytes of an incomplete line currently buffered (0..max_line+1). */
CHAT_EXTERN size_t chat_framer_buffered(const chat_framer *f);

#ifdef __cplusplus
}
#endif

#endif /* LIBCHAT_FRAMER_H */
