/* Just enough JSON for one-object lines. See json.h. */
#include "json.h"

#include <string.h>

/* ---- writing --------------------------------------------------------- */

void chatp_jout_init(chatp_jout *o, char *buf, size_t cap)
{
    o->buf = buf;
    o->cap = cap;
    o->len = 0;
    o->overflow = 0;
}

static void put(chatp_jout *o, char c)
{
    if (o->len < o->cap)
        o->buf[o->len++] = c;
    else
        o->overflow = 1;
}

void chatp_jout_raw(chatp_jout *o, const char *s)
{
    for (; *s; s++)
        put(o, *s);
}

void chatp_jout_uint(chatp_jout *o, uint64_t v)
{
    char digits[20];
    size_t n = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        put(o, digits[--n]);
}

/* The two-character escape of c, or 0 if it has none. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '\b': return 'b';
    case '\f': return 'f';
    case '\n': return 'n';
    case '\r': return 'r';
    case '\t': return 't';
    default: return 0;
    }
}

void chatp_jout_string(chatp_jout *o, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    put(o, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char e = short_escape(c);
        if (e) {
            put(o, '\\');
            put(o, e);
        } else if (c < 0x20 || c == 0x7f) {
            chatp_jout_raw(o, "\\u00");
            put(o, hex[c >> 4]);
            put(o, hex[c & 0xf]);
        } else {
            put(o, (char)c);
        }
    }
    put(o, '"');
}

/* ---- reading --------------------------------------------------------- */

/* A line being read, and where its decoded strings go. */
typedef struct jin {
    const unsigned char *p, *end;
    char *out;
    size_t used, cap;
} jin;

static void skip_ws(jin *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
        j->p++;
}

static int take(jin *j, unsigned char c)
{
    if (j->p == j->end || *j->p != c)
        return 0;
    j->p++;
    return 1;
}

static int out_byte(jin *j, unsigned v)
{
    if (j->used == j->cap)
        return -1;
    j->out[j->used++] = (char)v;
    return 0;
}

/* Code point cp (never a surrogate, never 0) as UTF-8. */
static int out_utf8(jin *j, unsigned long cp)
{
    if (cp < 0x80)
        return out_byte(j, (unsigned)cp);
    if (cp < 0x800)
        return out_byte(j, 0xc0 | (unsigned)(cp >> 6)) ||
               out_byte(j, 0x80 | (unsigned)(cp & 0x3f));
    if (cp < 0x10000)
        return out_byte(j, 0xe0 | (unsigned)(cp >> 12)) ||
               out_byte(j, 0x80 | (unsigned)((cp >> 6) & 0x3f)) ||
               out_byte(j, 0x80 | (unsigned)(cp & 0x3f));
    return out_byte(j, 0xf0 | (unsigned)(cp >> 18)) ||
           out_byte(j, 0x80 | (unsigned)((cp >> 12) & 0x3f)) ||
           out_byte(j, 0x80 | (unsigned)((cp >> 6) & 0x3f)) ||
           out_byte(j, 0x80 | (unsigned)(cp & 0x3f));
}

/* The four hex digits after "\u" as a UTF-16 code unit, or -1. */
static long hex4(jin *j)
{
    long v = 0;

    if (j->end - j->p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = *j->p++;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* After "\u": one code point, a surrogate pair taking two escapes. */
static int unicode_escape(jin *j)
{
    long hi = hex4(j), lo;

    if (hi <= 0 || (hi >= 0xdc00 && hi <= 0xdfff))
        return -1; /* NUL, a lone low surrogate or not hex */
    if (hi < 0xd800 || hi > 0xdbff)
        return out_utf8(j, (unsigned long)hi);
    if (!take(j, '\\') || !take(j, 'u'))
        return -1;
    lo = hex4(j);
    if (lo < 0xdc00 || lo > 0xdfff)
        return -1;
    return out_utf8(j, 0x10000 + (((unsigned long)hi - 0xd800) << 10) +
                           ((unsigned long)lo - 0xdc00));
}

static int escape(jin *j)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *at;

    if (j->p == j->end)
        return -1;
    if (*j->p == 'u') {
        j->p++;
        return unicode_escape(j);
    }
    at = memchr(from, *j->p, sizeof from - 1);
    if (!at)
        return -1;
    j->p++;
    return out_byte(j, (unsigned char)to[at - from]);
}

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or
 * 0: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned lo = 0x80, hi = 0xbf;
    size_t n;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        lo = p[0] == 0xe0 ? 0xa0 : lo;
        hi = p[0] == 0xed ? 0x9f : hi;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        lo = p[0] == 0xf0 ? 0x90 : lo;
        hi = p[0] == 0xf4 ? 0x8f : hi;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* One character of a string's body, decoded to the output. */
static int string_char(jin *j)
{
    unsigned char c = *j->p;
    size_t n;

    if (c < 0x20)
        return -1;
    if (c == '\\') {
        j->p++;
        return escape(j);
    }
    if (c < 0x80) {
        j->p++;
        return out_byte(j, c);
    }
    n = utf8_seq(j->p, j->end);
    if (n == 0 || j->cap - j->used < n)
        return -1;
    memcpy(j->out + j->used, j->p, n);
    j->used += n;
    j->p += n;
    return 0;
}

/* A quoted string, decoded and NUL-terminated at out + *at. */
static int read_string(jin *j, size_t *at, size_t *len)
{
    if (!take(j, '"'))
        return -1;
    *at = j->used;
    while (!take(j, '"')) {
        if (j->p == j->end || string_char(j) != 0)
            return -1;
    }
    *len = j->used - *at;
    return out_byte(j, 0);
}

static int read_uint(jin *j, uint64_t *v)
{
    *v = 0;
    if (j->p == j->end || *j->p < '0' || *j->p > '9')
        return -1;
    if (*j->p == '0') { /* JSON has no leading zeros */
        j->p++;
        return j->p < j->end && *j->p >= '0' && *j->p <= '9' ? -1 : 0;
    }
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p++ - '0');
        if (*v > (UINT64_MAX - d) / 10)
            return -1;
        *v = *v * 10 + d;
    }
    return 0;
}

static int read_value(jin *j, chatp_json_member *m)
{
    size_t at;

    if (j->p == j->end)
        return -1;
    if (*j->p == '"') {
        m->type = CHATP_JSON_STRING;
        if (read_string(j, &at, &m->len) != 0)
            return -1;
        m->str = j->out + at;
    } else if (*j->p == 'n') {
        m->type = CHATP_JSON_NULL;
        if ((size_t)(j->end - j->p) < 4 || memcmp(j->p, "null", 4) != 0)
            return -1;
        j->p += 4;
    } else {
        m->type = CHATP_JSON_UINT;
        if (read_uint(j, &m->num) != 0)
            return -1;
    }
    return (m->accept & m->type) ? 0 : -1;
}

/* "key": value, where key is one of m[0..n) not seen yet. */
static int read_member(jin *j, chatp_json_member *m, size_t n)
{
    size_t at, len, i;

    if (read_string(j, &at, &len) != 0)
        return -1;
    for (i = 0; i < n; i++)
        if (strlen(m[i].key) == len && memcmp(m[i].key, j->out + at, len) == 0)
            break;
    j->used = at; /* the key's bytes are not kept */
    if (i == n || m[i].type != 0)
        return -1;
    skip_ws(j);
    if (!take(j, ':'))
        return -1;
    skip_ws(j);
    return read_value(j, &m[i]);
}

/* buf is written through j.out, which clang-tidy does not follow. */
int chatp_json_parse_object(const char *in, size_t len, chatp_json_member *m,
                            size_t n,
                            char *buf, // NOLINT(readability-non-const-parameter)
                            size_t cap)
{
    jin j = {(const unsigned char *)in, (const unsigned char *)in + len, buf,
             0, cap};

    for (size_t i = 0; i < n; i++)
        m[i].type = 0;
    skip_ws(&j);
    if (!take(&j, '{'))
        return -1;
    skip_ws(&j);
    if (!take(&j, '}')) {
        do {
            skip_ws(&j);
            if (read_member(&j, m, n) != 0)
                return -1;
            skip_ws(&j);
        } while (take(&j, ','));
        if (!take(&j, '}'))
            return -1;
    }
    skip_ws(&j);
    return j.p == j.end ? 0 : -1;
}
