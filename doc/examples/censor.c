/* censor - see censor.h. */
#include "censor.h"

#include <stdlib.h>
#include <string.h>

typedef struct censor_word {
    char *text;
    size_t len;
} censor_word;

struct censor {
    censor_word *words;
    size_t n;
};

static char ascii_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Bytes of non-ASCII characters count as word characters, so a listed
 * word is never found inside a longer word in another script. */
static int is_word_byte(char ch)
{
    unsigned char u = (unsigned char)ch;
    return u >= 0x80 || u == '_' || (u >= '0' && u <= '9') ||
           (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
}

int censor_new(censor **out, const char *const *words, size_t n)
{
    censor *c = calloc(1, sizeof(*c));
    if (!c)
        return CHAT_ERR_NOMEM;
    c->words = calloc(n ? n : 1, sizeof(*c->words));
    if (!c->words) {
        free(c);
        return CHAT_ERR_NOMEM;
    }
    for (; c->n < n; c->n++) {
        size_t len = strlen(words[c->n]);
        if (len == 0 || len > CHAT_MAX_LINE) {
            censor_free(c);
            return CHAT_ERR_INVALID;
        }
        c->words[c->n].text = malloc(len);
        if (!c->words[c->n].text) {
            censor_free(c);
            return CHAT_ERR_NOMEM;
        }
        memcpy(c->words[c->n].text, words[c->n], len);
        c->words[c->n].len = len;
    }
    *out = c;
    return CHAT_OK;
}

void censor_free(censor *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->words[i].text);
    free(c->words);
    free(c);
}

static int word_equals(const censor_word *w, const char *text)
{
    for (size_t i = 0; i < w->len; i++)
        if (ascii_lower(w->text[i]) != ascii_lower(text[i]))
            return 0;
    return 1;
}

/* Length of the listed word that starts at text[at] as a whole word, or 0. */
static size_t match_at(const censor *c, const char *text, size_t len, size_t at)
{
    if (at > 0 && is_word_byte(text[at - 1]))
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        const censor_word *w = &c->words[i];
        size_t end = at + w->len;
        if (end > len || !word_equals(w, text + at))
            continue;
        if (end == len || !is_word_byte(text[end]))
            return w->len;
    }
    return 0;
}

/* One asterisk per UTF-8 character: skip continuation bytes (10xxxxxx). */
static size_t mask(char *dst, const char *src, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)src[i] & 0xC0) != 0x80)
            dst[n++] = '*';
    return n;
}

chat_filter_verdict censor_filter(void *ctx, const chat_filter_msg *msg,
                                  char *buf, size_t *len)
{
    const censor *c = ctx;
    size_t in = 0, out = 0;
    int changed = 0;

    /* The output is never longer than the input, so buf (CHAT_MAX_LINE
     * bytes, msg->len at most that) always has room. */
    while (in < msg->len) {
        size_t m = match_at(c, msg->text, msg->len, in);
        if (m > 0) {
            out += mask(buf + out, msg->text + in, m);
            in += m;
            changed = 1;
        } else {
            buf[out++] = msg->text[in++];
        }
    }
    if (!changed)
        return CHAT_FILTER_ALLOW;
    *len = out;
    return CHAT_FILTER_REWRITE;
}
