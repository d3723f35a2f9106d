/*
 * Line framing and telnet IAC handling (doc/protocol.md "Lines").
 *
 * The common case - a chunk holding whole lines and no IAC byte - is
 * framed in place with memchr and never copied. Only a line split across
 * feeds, or one with telnet commands inside, is assembled byte by byte in
 * a buffer that exists just while that line is incomplete, so an idle
 * connection holds no line buffer.
 */
#include "framer_int.h"

#include <string.h>

#include "alloc.h"

enum { IAC = 255, DONT = 254, DO = 253, WONT = 252, WILL = 251, SB = 250,
       IP = 244, BRK = 243, SE = 240, ABORT = 238 };

enum { T_DATA, T_IAC, T_OPTION, T_SB, T_SB_IAC };

enum { SKIP_NONE, SKIP_TOO_LONG, SKIP_NOMEM };

void chat_framer_init(chat_framer *f, const chat_allocator *a, size_t max_line,
                      unsigned flags)
{
    memset(f, 0, sizeof(*f));
    f->alloc = a;
    f->max = (uint16_t)max_line;
    f->telnet = (flags & CHAT_FRAMER_TELNET) != 0;
}

void chat_framer_clear(chat_framer *f)
{
    chat_mem_free(f->alloc, f->buf);
    f->buf = NULL;
    f->len = 0;
}

/* Deliver a line whose "\n" has been seen: drop one "\r", check length. */
static int emit_line(chat_framer *f, const char *s, size_t n, chat_frame_fn fn,
                     void *ctx)
{
    if (n && s[n - 1] == '\r')
        n--;
    if (n > f->max)
        return fn(ctx, CHAT_FRAME_TOO_LONG, NULL, 0);
    return fn(ctx, CHAT_FRAME_LINE, s, n);
}

/* End of a buffered (or discarded) line at "\n". */
static int end_line(chat_framer *f, chat_frame_fn fn, void *ctx)
{
    int skip = f->skip, rc;
    f->skip = SKIP_NONE;
    if (skip == SKIP_TOO_LONG)
        rc = fn(ctx, CHAT_FRAME_TOO_LONG, NULL, 0);
    else if (skip == SKIP_NOMEM)
        rc = fn(ctx, CHAT_FRAME_NOMEM, NULL, 0);
    else
        rc = emit_line(f, f->buf ? f->buf : "", f->len, fn, ctx);
    chat_framer_clear(f);
    return rc;
}

/* Append a data byte; past max+1 bytes (room for a final "\r") the line
 * can only be too long, so it is discarded instead of buffered. */
static void append(chat_framer *f, unsigned char c)
{
    if (f->skip)
        return;
    if (f->len == f->max + 1u) {
        f->skip = SKIP_TOO_LONG;
        chat_framer_clear(f);
        return;
    }
    if (!f->buf) {
        f->buf = chat_mem_alloc(f->alloc, (size_t)f->max + 1);
        if (!f->buf) {
            f->skip = SKIP_NOMEM;
            return;
        }
    }
    f->buf[f->len++] = (char)c;
}

/* One byte of a telnet command; returns non-zero to stop (interrupt). */
static int telnet_byte(chat_framer *f, unsigned char c, chat_frame_fn fn,
                       void *ctx)
{
    switch (f->tstate) {
    case T_IAC:
        f->tstate = T_DATA;
        if (c >= WILL && c <= DONT)
            f->tstate = T_OPTION;
        else if (c == SB)
            f->tstate = T_SB;
        else if (c == IP || c == BRK || c == ABORT)
            return fn(ctx, CHAT_FRAME_INTERRUPT, NULL, 0);
        return 0; /* any other command, IAC IAC included, is consumed */
    case T_OPTION:
        f->tstate = T_DATA;
        return 0;
    case T_SB:
        if (c == IAC)
            f->tstate = T_SB_IAC;
        return 0;
    default: /* T_SB_IAC: IAC SE ends it; IAC IAC is escaped data */
        f->tstate = c == SE ? T_DATA : T_SB;
        return 0;
    }
}

/* Byte by byte over p[i..end); returns non-zero if fn asked to stop, with
 * *pos just past the byte that stopped it. */
static int slow_path(chat_framer *f, const unsigned char *p, size_t i,
                     size_t end, chat_frame_fn fn, void *ctx, size_t *pos)
{
    for (; i < end; i++) {
        unsigned char c = p[i];
        int stop = 0;
        if (f->tstate != T_DATA)
            stop = telnet_byte(f, c, fn, ctx);
        else if (c == IAC && f->telnet)
            f->tstate = T_IAC;
        else if (c == '\n')
            stop = end_line(f, fn, ctx);
        else
            append(f, c);
        if (stop) {
            *pos = i + 1;
            return 1;
        }
    }
    *pos = end;
    return 0;
}

static int idle_state(const chat_framer *f)
{
    return f->len == 0 && f->tstate == T_DATA && f->skip == SKIP_NONE;
}

static size_t feed(chat_framer *f, const void *data, size_t len,
                   chat_frame_fn fn, void *ctx)
{
    const unsigned char *p = data;
    size_t i = 0;
    while (i < len) {
        const unsigned char *nl = memchr(p + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - p) : len;
        if (nl && idle_state(f) &&
            !(f->telnet && memchr(p + i, IAC, end - i))) {
            size_t start = i;
            i = end + 1;
            if (emit_line(f, (const char *)p + start, end - start, fn, ctx))
                return i;
            continue;
        }
        /* Through the newline (inclusive), so each byte is scanned O(1)
         * times even when IAC sequences keep resetting the state. */
        if (slow_path(f, p, i, nl ? end + 1 : len, fn, ctx, &i))
            return i;
    }
    return len;
}

/* ---- public API --------------------------------------------------------- */

typedef struct framer_box {
    chat_framer f;
    chat_allocator alloc;
} framer_box;

int chat_framer_new(chat_framer **out, size_t max_line, unsigned flags,
                    const chat_allocator *alloc)
{
    if (!out || max_line < 1 || max_line > 65534)
        return CHAT_ERR_INVALID;
    chat_allocator a;
    chat_allocator_init(&a, alloc);
    framer_box *box = chat_mem_alloc(&a, sizeof(*box));
    if (!box)
        return CHAT_ERR_NOMEM;
    box->alloc = a;
    chat_framer_init(&box->f, &box->alloc, max_line, flags);
    *out = &box->f;
    return CHAT_OK;
}

void chat_framer_free(chat_framer *f)
{
    if (!f)
        return;
    framer_box *box = (framer_box *)(void *)f;
    chat_framer_clear(f);
    chat_allocator a = box->alloc;
    chat_mem_free(&a, box);
}

size_t chat_framer_feed(chat_framer *f, const void *data, size_t len,
                        chat_frame_fn fn, void *ctx)
{
    return feed(f, data, len, fn, ctx);
}

void chat_framer_add(chat_framer *f, const void *data, size_t len)
{
    if (f->skip)
        return;
    if ((size_t)f->len + len > f->max) {
        f->skip = SKIP_TOO_LONG; /* never buffered past the limit */
        chat_framer_clear(f);
        return;
    }
    if (!f->buf && len) {
        f->buf = chat_mem_alloc(f->alloc, (size_t)f->max + 1);
        if (!f->buf) {
            f->skip = SKIP_NOMEM;
            return;
        }
    }
    if (len)
        memcpy(f->buf + f->len, data, len);
    f->len = (uint16_t)(f->len + len);
}

int chat_framer_end(chat_framer *f, chat_frame_fn fn, void *ctx)
{
    return end_line(f, fn, ctx);
}

void chat_framer_finish(chat_framer *f, chat_frame_fn fn, void *ctx)
{
    if (f->len && f->skip == SKIP_NONE)
        (void)emit_line(f, f->buf, f->len, fn, ctx);
    chat_framer_clear(f);
    f->tstate = T_DATA;
    f->skip = SKIP_NONE;
}

size_t chat_framer_buffered(const chat_framer *f) { return f->len; }
