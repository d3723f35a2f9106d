/* UTF-8 validation, sanitizing relayed text, and name rules. */
#include "text.h"

#include <string.h>

/* Length of the UTF-8 sequence at s (n bytes available), 0 if malformed.
 * Follows the Unicode table of well-formed byte sequences (Table 3-7). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

int chat_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) { /* ASCII runs are the common case */
            i++;
            continue;
        }
        size_t k = utf8_seq(p + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

size_t chat_text_sanitize(char *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            continue;
        /* C1 controls U+0080..U+009F are encoded C2 80..C2 9F. */
        if (c == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) {
            i++;
            continue;
        }
        out[o++] = (char)c;
    }
    size_t start = 0;
    while (start < o && is_blank(out[start]))
        start++;
    while (o > start && is_blank(out[o - 1]))
        o--;
    if (start)
        memmove(out, out + start, o - start);
    return o - start;
}

int chat_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int chat_name_valid(const char *s, size_t n)
{
    if (n < CHAT_NAME_MIN || n > CHAT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!chat_name_char(s[i]))
            return 0;
    return 1;
}

static char lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

void chat_fold(char *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = lower(s[i]);
    out[n] = '\0';
}

int chat_name_cmp(const char *a, const char *b)
{
    for (size_t i = 0;; i++) {
        char x = lower(a[i]), y = lower(b[i]);
        if (x != y)
            return (unsigned char)x < (unsigned char)y ? -1 : 1;
        if (!x)
            break;
    }
    return strcmp(a, b);
}

int chat_word_eq(const char *s, size_t n, const char *word)
{
    for (size_t i = 0; i < n; i++)
        if (!word[i] || lower(s[i]) != lower(word[i]))
            return 0;
    return word[n] == '\0';
}
