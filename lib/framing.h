/*
 * Output framing: the broker renders a line for a peer's dialect, then
 * frames it for the peer's transport: "\n"-terminated lines, or one
 * WebSocket text frame per line. A dialect and a framing together make
 * a format; a relayed line is rendered at most once per format present
 * among its recipients.
 */
#ifndef CHAT_FRAMING_H
#define CHAT_FRAMING_H

#include <libchat/broker.h>

#include "message.h"

#define CHAT_FRAMINGS 2
#define CHAT_FORMATS (CHAT_DIALECT_COUNT * CHAT_FRAMINGS)

static inline unsigned chat_format(chat_dialect d, chat_framing f)
{
    return (unsigned)d + CHAT_DIALECT_COUNT * (unsigned)f;
}

static inline chat_dialect chat_format_dialect(unsigned fmt)
{
    return (chat_dialect)(fmt % CHAT_DIALECT_COUNT);
}

/* m ("\n"-terminated lines) framed for fmt: m itself (a new reference)
 * for line framing, else a new message of one frame per line. NULL if
 * out of memory. The caller keeps its reference to m. */
chat_msg *chat_frame(const chat_allocator *a, unsigned fmt, chat_msg *m);

#endif
