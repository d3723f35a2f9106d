/*
 * Fuzz chatd's WebSocket decoder (server/ws.c) with client streams.
 *
 * Input: byte 0 seeds how the stream is cut into reads, byte 1 picks a
 * message cap (0: none, else 1..255 bytes), the rest is the stream. Seeds
 * (corpus_ws/, written by seeds.py) mask with the key 00 00 00 00, so
 * payload bytes are plain text the fuzzer can mutate meaningfully.
 *
 * Checks:
 *   - split points do not change the events: the stream decoded in one
 *     read and in reads of pseudo-random sizes gives the same events
 *     (text pieces joined per message) and uses the same bytes;
 *   - every read comes in a buffer of exactly its size, so ASan sees any
 *     read past the input;
 *   - the events keep the promises of ws.h: an empty text piece only at
 *     a message's end, control payloads of at most 125 bytes, valid close
 *     codes, failure codes from the documented set, nothing after CLOSE
 *     or FAIL, every finished message valid UTF-8 by an independent
 *     validator, no message longer than the cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define MAX_EVENTS 1024

struct record {
    size_t n;
    uint32_t hash[MAX_EVENTS];
    int ended;            /* a CLOSE or FAIL was seen */
    int in_text;          /* a text message is open */
    unsigned char *text;  /* the open message so far */
    size_t text_len, cap;
    uint64_t max_message;
};

static uint32_t fnv(uint32_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Code point by code point, the plain way (not ws.c's way). */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            k = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            k = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            k = 3, cp = c & 0x07;
        else
            return 0;
        if (i + k >= n)
            return 0; /* cut short */
        for (unsigned j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

static void add(struct record *r, uint32_t h)
{
    if (r->n < MAX_EVENTS)
        r->hash[r->n++] = h;
}

/* A text message is recorded once, whole, when it ends (or fails). */
static void text_piece(struct record *r, const struct chatd_ws_event *ev)
{
    if (ev->len == 0 && !ev->fin)
        abort();
    if (r->text_len + ev->len > r->cap)
        abort(); /* more text than input */
    if (ev->len)
        memcpy(r->text + r->text_len, ev->data, ev->len);
    r->text_len += ev->len;
    r->in_text = !ev->fin;
    if (r->max_message && r->text_len > r->max_message)
        abort();
    if (ev->fin) {
        if (!utf8_valid(r->text, r->text_len))
            abort();
        add(r, fnv(2166136261u ^ 1, r->text, r->text_len));
        r->text_len = 0;
    }
}

static void check_control(const struct chatd_ws_event *ev)
{
    if (ev->len > CHATD_WS_CONTROL_MAX)
        abort();
    if (ev->type == CHATD_WS_CLOSE &&
        ((ev->code && !chatd_ws_close_code_valid(ev->code)) ||
         (!ev->code && ev->len) || !utf8_valid((const void *)ev->data, ev->len)))
        abort();
    if (ev->type == CHATD_WS_FAIL &&
        ev->code != CHATD_WS_PROTOCOL_ERROR &&
        ev->code != CHATD_WS_UNSUPPORTED_DATA &&
        ev->code != CHATD_WS_INVALID_DATA && ev->code != CHATD_WS_TOO_BIG)
        abort();
}

static int on_event(void *ctx, const struct chatd_ws_event *ev)
{
    struct record *r = ctx;
    if (r->ended)
        abort(); /* nothing after CLOSE or FAIL */
    if (ev->type == CHATD_WS_TEXT) {
        text_piece(r, ev);
        return 0;
    }
    check_control(ev);
    if (ev->type == CHATD_WS_CLOSE || ev->type == CHATD_WS_FAIL) {
        r->ended = 1;
        if (r->text_len) /* the valid start of an abandoned message */
            add(r, fnv(2166136261u ^ 2, r->text, r->text_len));
    }
    uint32_t h = fnv(2166136261u ^ (uint32_t)ev->type * 7919u, &ev->code,
                     sizeof ev->code);
    /* A FAIL's reason is for people; only its code must agree. */
    if (ev->type != CHATD_WS_FAIL)
        h = fnv(h, ev->data, ev->len);
    add(r, h);
    return 0;
}

/* Feed data[0..size) in reads whose sizes come from seed (0: one read).
 * Returns the bytes used. */
static size_t decode(const uint8_t *data, size_t size, unsigned seed,
                     struct record *r)
{
    struct chatd_ws_decoder d;
    size_t off = 0, used = 0;
    uint32_t s = seed * 2654435761u + 1;
    chatd_ws_init(&d, r->max_message);
    while (off < size) {
        size_t n = size - off;
        if (seed) {
            s = s * 1103515245u + 12345u;
            size_t want = 1 + (s >> 16) % 23;
            n = n < want ? n : want;
        }
        unsigned char *buf = malloc(n);
        if (!buf)
            abort();
        memcpy(buf, data + off, n);
        size_t u = chatd_ws_feed(&d, buf, n, on_event, r);
        free(buf);
        if (u > n || (u < n && !chatd_ws_finished(&d)))
            abort();
        used += u;
        off += n;
        if (u < n)
            break;
    }
    if (chatd_ws_finished(&d) != r->ended)
        abort();
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned seed = data[0] | 1;
    uint64_t max_message = data[1];
    data += 2;
    size -= 2;
    static struct record whole, split;
    unsigned char *text = malloc(2 * size + 2);
    if (!text)
        abort();
    memset(&whole, 0, sizeof whole);
    memset(&split, 0, sizeof split);
    whole.text = text;
    split.text = text + size + 1;
    whole.cap = split.cap = size;
    whole.max_message = split.max_message = max_message;
    size_t u1 = decode(data, size, 0, &whole);
    size_t u2 = decode(data, size, seed, &split);
    free(text);
    if (u1 != u2 || whole.n != split.n || whole.ended != split.ended ||
        memcmp(whole.hash, split.hash, whole.n * sizeof whole.hash[0]) != 0)
        abort();
    return 0;
}
