/*
 * chatd - WebSocket frames: the client-to-server decoder and the server's
 * control-frame encoders. See ws.h for the events and why not wslay.
 *
 * The decoder is a two-state machine per frame: collect the header (2 to
 * 14 bytes, kept in the decoder because a read may end anywhere in it),
 * then walk the payload in the caller's buffer. Rules that the first two
 * header bytes decide are checked as soon as those bytes are in, so a
 * stream that breaks them fails before its length or mask arrive.
 *
 * Split points must not change what the caller sees beyond how text is
 * cut into pieces (tests/fuzz/fuzz_ws.c checks this): when a piece holds
 * an invalid byte, the valid bytes before it are delivered, then FAIL.
 */
#include "ws.h"

#include <string.h>

enum { WS_HEAD, WS_PAYLOAD, WS_DONE };

enum {
    OP_CONTINUATION = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xA,
};

/* What a step tells the feed loop. */
enum { GO_ON, STOP };

struct sink {
    chatd_ws_callback cb;
    void *ctx;
};

static int emit(const struct sink *s, enum chatd_ws_event_type type, int fin,
                unsigned code, const void *data, size_t len)
{
    struct chatd_ws_event ev = {type, fin, code, data, len};
    return s->cb(s->ctx, &ev) ? STOP : GO_ON;
}

/* The stream broke a rule: nothing it sends later is decoded. */
static int fail(struct chatd_ws_decoder *d, const struct sink *s,
                unsigned code, const char *why)
{
    d->state = WS_DONE;
    (void)emit(s, CHATD_WS_FAIL, 0, code, why, strlen(why));
    return STOP;
}

/* ---- UTF-8 ------------------------------------------------------------ */

static void utf8_reset(struct chatd_ws_utf8 *u)
{
    u->need = 0;
    u->lo = 0x80;
    u->hi = 0xBF;
}

/*
 * A lead byte: how many continuation bytes follow, and the range of the
 * first one. The narrowed ranges after E0, ED, F0 and F4 are what rule
 * out overlong forms, UTF-16 surrogates and code points past U+10FFFF
 * (RFC 3629 section 4); C0, C1 and F5..FF never start a sequence.
 */
static int utf8_lead(struct chatd_ws_utf8 *u, unsigned char c)
{
    u->lo = 0x80;
    u->hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        u->need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        u->need = 2;
        u->lo = c == 0xE0 ? 0xA0 : 0x80;
        u->hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        u->need = 3;
        u->lo = c == 0xF0 ? 0x90 : 0x80;
        u->hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    return 1;
}

/* Chat text is mostly ASCII: skip it eight bytes at a time. */
static size_t skip_ascii(const unsigned char *p, size_t i, size_t n)
{
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull)
            break;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

/*
 * Go on validating with n more bytes. Returns the offset of the first
 * byte that cannot be part of valid UTF-8, or n if there is none (a code
 * point may still be open: u->need).
 */
static size_t utf8_check(struct chatd_ws_utf8 *u, const unsigned char *p,
                         size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (u->need == 0) {
            i = skip_ascii(p, i, n);
            if (i == n)
                break;
            if (!utf8_lead(u, p[i]))
                return i;
        } else {
            if (p[i] < u->lo || p[i] > u->hi)
                return i;
            u->need--;
            u->lo = 0x80;
            u->hi = 0xBF;
        }
        i++;
    }
    return n;
}

/* ---- frame header ----------------------------------------------------- */

static int is_control(unsigned opcode)
{
    return opcode >= 0x8;
}

/* The rules the first two bytes decide: NULL if they keep them, else why
 * not, with the close code in *code. */
static const char *check_start(const struct chatd_ws_decoder *d,
                               unsigned *code)
{
    unsigned b0 = d->head[0], b1 = d->head[1], op = b0 & 0x0F;
    *code = CHATD_WS_PROTOCOL_ERROR;
    /* No extension is ever negotiated, so no reserved bit may be set. */
    if (b0 & 0x70)
        return "reserved bits set";
    if (op == OP_CONTINUATION && !d->in_message)
        return "continuation without a message";
    if ((op == OP_TEXT || op == OP_BINARY) && d->in_message)
        return "new message inside a fragmented one";
    if (op > OP_BINARY && op != OP_CLOSE && op != OP_PING && op != OP_PONG)
        return "unknown opcode";
    if (!(b1 & 0x80))
        return "unmasked client frame";
    if (is_control(op) && !(b0 & 0x80))
        return "fragmented control frame";
    if (is_control(op) && (b1 & 0x7F) > CHATD_WS_CONTROL_MAX)
        return "control frame too long";
    /* Chat lines are text; binary data has no meaning here. */
    if (op == OP_BINARY) {
        *code = CHATD_WS_UNSUPPORTED_DATA;
        return "binary messages are not supported";
    }
    return NULL;
}

/* The whole header's size once its first two bytes are known: those two,
 * the extended length (0, 2 or 8 bytes) and the 4-byte mask key. */
static unsigned head_size(const unsigned char *h)
{
    unsigned len7 = h[1] & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

/* The header is complete: set up for the payload. */
static int start_frame(struct chatd_ws_decoder *d, const struct sink *s)
{
    const unsigned char *h = d->head;
    unsigned len7 = h[1] & 0x7F, k = 2;
    uint64_t n = len7;
    if (len7 == 126) {
        n = (uint64_t)h[2] << 8 | h[3];
        k = 4;
    } else if (len7 == 127) {
        n = 0;
        for (k = 2; k < 10; k++)
            n = n << 8 | h[k];
        if (n >> 63)
            return fail(d, s, CHATD_WS_PROTOCOL_ERROR, "frame length over 2^63");
    }
    memcpy(d->mask, h + k, 4);
    d->fin = h[0] >> 7;
    d->opcode = h[0] & 0x0F;
    d->remaining = n;
    d->mask_pos = 0;
    d->head_len = 0;
    d->control_len = 0;
    if (d->opcode == OP_TEXT) {
        d->in_message = 1;
        d->message_bytes = 0;
        utf8_reset(&d->utf8);
    }
    d->state = WS_PAYLOAD;
    return GO_ON;
}

/* Collect header bytes; the header may end in a later read. */
static int step_head(struct chatd_ws_decoder *d, const unsigned char *buf,
                     size_t len, size_t *off, const struct sink *s)
{
    while (*off < len) {
        d->head[d->head_len++] = buf[(*off)++];
        if (d->head_len == 2) {
            unsigned code;
            const char *why = check_start(d, &code);
            if (why)
                return fail(d, s, code, why);
        }
        if (d->head_len >= 2 && d->head_len == head_size(d->head))
            return start_frame(d, s);
    }
    return GO_ON;
}

/* ---- payload ---------------------------------------------------------- */

/* XOR with the mask key, continuing at the payload offset's phase. */
static void unmask(unsigned char *p, size_t n, const unsigned char mask[4],
                   unsigned *pos)
{
    unsigned k = *pos;
    size_t i = 0;
    if (n >= 16) {
        /* The key rotated to this phase, twice: eight bytes per XOR. */
        unsigned char m[8];
        uint64_t w, mw;
        for (unsigned j = 0; j < 8; j++)
            m[j] = mask[(k + j) & 3];
        memcpy(&mw, m, 8);
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8);
            w ^= mw;
            memcpy(p + i, &w, 8);
        }
    }
    for (; i < n; i++, k = (k + 1) & 3)
        p[i] ^= mask[k];
    *pos = k;
}

/* A close frame is complete: check it, deliver it, and stop. */
static int close_frame(struct chatd_ws_decoder *d, const struct sink *s)
{
    const unsigned char *c = d->control;
    unsigned code = 0;
    struct chatd_ws_utf8 u;
    if (d->control_len == 1)
        return fail(d, s, CHATD_WS_PROTOCOL_ERROR, "close frame of 1 byte");
    if (d->control_len >= 2) {
        code = (unsigned)c[0] << 8 | c[1];
        if (!chatd_ws_close_code_valid(code))
            return fail(d, s, CHATD_WS_PROTOCOL_ERROR, "invalid close code");
        utf8_reset(&u);
        if (utf8_check(&u, c + 2, d->control_len - 2) != d->control_len - 2 ||
            u.need)
            return fail(d, s, CHATD_WS_INVALID_DATA, "close reason is not UTF-8");
    }
    d->state = WS_DONE;
    (void)emit(s, CHATD_WS_CLOSE, 0, code, code ? c + 2 : c,
               code ? d->control_len - 2 : 0);
    return STOP;
}

/* Control payload is kept whole (at most 125 bytes) until it ends. */
static int control_bytes(struct chatd_ws_decoder *d, const unsigned char *p,
                         size_t n, const struct sink *s)
{
    if (n)
        memcpy(d->control + d->control_len, p, n);
    d->control_len += (unsigned)n;
    if (d->remaining)
        return GO_ON;
    d->state = WS_HEAD;
    if (d->opcode == OP_CLOSE)
        return close_frame(d, s);
    return emit(s, d->opcode == OP_PING ? CHATD_WS_PING : CHATD_WS_PONG, 0, 0,
                d->control, d->control_len);
}

/*
 * How many of a text piece's n bytes may be delivered, and the failure
 * (code, why) that follows them, if any. The size cap and UTF-8 are
 * weighed at the same byte, so that whichever comes first wins however
 * the stream was split.
 */
static size_t text_verdict(struct chatd_ws_decoder *d, const unsigned char *p,
                           size_t n, int last, unsigned *code,
                           const char **why)
{
    size_t ok = utf8_check(&d->utf8, p, n);
    size_t room = n;
    if (d->max_message && d->max_message - d->message_bytes < n)
        room = (size_t)(d->max_message - d->message_bytes);
    *code = 0;
    if (room < n && room <= ok) {
        *code = CHATD_WS_TOO_BIG;
        *why = "message too big";
        return room;
    }
    if (ok < n) {
        *code = CHATD_WS_INVALID_DATA;
        *why = "invalid UTF-8";
    } else if (last && d->utf8.need) {
        *code = CHATD_WS_INVALID_DATA;
        *why = "message ends inside a UTF-8 sequence";
    }
    return ok;
}

/*
 * A piece of text: deliver what is valid, with fin on the message's end.
 * *taken is how many of the n bytes count as used: all of them, unless
 * the stream fails on one of them (then up to that one).
 */
static int text_bytes(struct chatd_ws_decoder *d, const unsigned char *p,
                      size_t n, const struct sink *s, size_t *taken)
{
    int last = d->remaining == 0 && d->fin;
    unsigned code;
    const char *why = NULL;
    size_t ok = text_verdict(d, p, n, last, &code, &why);
    d->message_bytes += ok;
    *taken = n;
    if (code) {
        if (ok < n)
            *taken = ok + 1;
        /* The caller drops the message anyway; delivering its valid
         * prefix first keeps the events independent of split points. */
        if (ok)
            (void)emit(s, CHATD_WS_TEXT, 0, 0, p, ok);
        return fail(d, s, code, why);
    }
    if (d->remaining == 0)
        d->state = WS_HEAD;
    if (last) {
        d->in_message = 0;
        d->message_bytes = 0;
    } else if (n == 0) {
        return GO_ON; /* an empty non-final frame: nothing to say */
    }
    return emit(s, CHATD_WS_TEXT, last, 0, p, n);
}

/* Payload bytes of the current frame (none if it is empty). */
static int step_payload(struct chatd_ws_decoder *d, unsigned char *buf,
                        size_t len, size_t *off, const struct sink *s)
{
    size_t avail = len - *off;
    size_t n = d->remaining < avail ? (size_t)d->remaining : avail;
    unsigned char *p = buf + *off;
    unmask(p, n, d->mask, &d->mask_pos);
    d->remaining -= n;
    if (is_control(d->opcode)) {
        *off += n;
        return control_bytes(d, p, n, s);
    }
    size_t taken;
    int r = text_bytes(d, p, n, s, &taken);
    *off += taken;
    return r;
}

/* ---- the API ------------------------------------------------------------ */

void chatd_ws_init(struct chatd_ws_decoder *d, uint64_t max_message)
{
    memset(d, 0, sizeof *d);
    d->state = WS_HEAD;
    d->max_message = max_message;
    utf8_reset(&d->utf8);
}

size_t chatd_ws_feed(struct chatd_ws_decoder *d, unsigned char *buf,
                     size_t len, chatd_ws_callback cb, void *ctx)
{
    struct sink s = {cb, ctx};
    size_t off = 0;
    while (d->state != WS_DONE) {
        int r;
        if (d->state == WS_HEAD) {
            if (off == len)
                break;
            r = step_head(d, buf, len, &off, &s);
        } else {
            /* An empty frame ends here even with no bytes left. */
            if (off == len && d->remaining)
                break;
            r = step_payload(d, buf, len, &off, &s);
        }
        if (r == STOP)
            break;
    }
    return off;
}

int chatd_ws_finished(const struct chatd_ws_decoder *d)
{
    return d->state == WS_DONE;
}

uint64_t chatd_ws_message_bytes(const struct chatd_ws_decoder *d)
{
    return d->message_bytes;
}

/* ---- encoders ------------------------------------------------------------ */

/* A server frame: FIN set, unmasked (RFC 6455 section 5.1). */
static size_t control_frame(unsigned char *out, unsigned opcode,
                            const void *payload, size_t len)
{
    if (len > CHATD_WS_CONTROL_MAX)
        len = CHATD_WS_CONTROL_MAX;
    out[0] = (unsigned char)(0x80 | opcode);
    out[1] = (unsigned char)len;
    if (len)
        memcpy(out + 2, payload, len);
    return 2 + len;
}

size_t chatd_ws_pong(unsigned char *out, const void *payload, size_t len)
{
    return control_frame(out, OP_PONG, payload, len);
}

size_t chatd_ws_close(unsigned char *out, unsigned code, const char *reason,
                      size_t reason_len)
{
    unsigned char body[CHATD_WS_CONTROL_MAX];
    size_t n = reason_len;
    if (code == 0)
        return control_frame(out, OP_CLOSE, NULL, 0);
    if (n > CHATD_WS_CONTROL_MAX - 2) {
        /* Cut before a code point that would straddle the limit. */
        n = CHATD_WS_CONTROL_MAX - 2;
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
            n--;
    }
    body[0] = (unsigned char)(code >> 8);
    body[1] = (unsigned char)code;
    if (n)
        memcpy(body + 2, reason, n);
    return control_frame(out, OP_CLOSE, body, 2 + n);
}

/*
 * RFC 6455 section 7.4 and the IANA registry: 1004 is reserved; 1005,
 * 1006 and 1015 mean "none", "abnormal" and "TLS failure" and must never
 * be sent; 1012-1014 were registered after the RFC; 1016-2999 are for
 * future standards; 3000-3999 for libraries and 4000-4999 private.
 */
int chatd_ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}
