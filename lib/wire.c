/* The message format between nodes; see wire.h and doc/cluster.md. */
#include "wire.h"

#include <string.h>

#include "text.h"

static const char *const kinds[CHAT_WIRE_KINDS] = {
    "chat", "me", "direct", "joined", "left", "renamed", "here", "gone",
    "node-gone", "sync",
};

/* Which fields each kind carries: N name, R room, O other (a name), T
 * text, G other holding a node id. */
enum { N = 1, R = 2, O = 4, T = 8, G = 16 };
static const unsigned char fields[CHAT_WIRE_KINDS] = {
    [CHAT_WIRE_CHAT] = N | R | T,    [CHAT_WIRE_ME] = N | R | T,
    [CHAT_WIRE_DIRECT] = N | O | T,  [CHAT_WIRE_JOINED] = N | R,
    [CHAT_WIRE_LEFT] = N | R,        [CHAT_WIRE_RENAMED] = N | O | R,
    [CHAT_WIRE_HERE] = N | R,        [CHAT_WIRE_GONE] = N,
    [CHAT_WIRE_NODE_GONE] = G,       [CHAT_WIRE_SYNC] = 0,
};

int chat_node_id_valid(const char *s, size_t n)
{
    if (n < 1 || n > CHAT_NODE_MAX)
        return 0;
    /* The name rule's characters, with its own length rule. */
    for (size_t i = 0; i < n; i++)
        if (!chat_name_char(s[i]))
            return 0;
    return 1;
}

/* A field is present and valid, or absent (empty), as the kind says. */
static int field_ok(const char *s, int wanted)
{
    size_t n = strlen(s);
    return wanted ? chat_name_valid(s, n) : n == 0;
}

/* Relayed text is what a user could have sent: 1-400 bytes of valid
 * UTF-8 that sanitizing leaves unchanged. */
static int text_ok(const char *t, size_t n, int wanted)
{
    char clean[CHAT_MAX_LINE];
    if (!wanted)
        return n == 0;
    if (n == 0 || n > CHAT_MAX_LINE || !chat_utf8_valid(t, n))
        return 0;
    return chat_text_sanitize(clean, t, n) == n && memcmp(clean, t, n) == 0;
}

int chat_wire_valid(const chat_wire *w)
{
    if ((unsigned)w->kind >= CHAT_WIRE_KINDS || w->seq == 0 ||
        !chat_node_id_valid(w->node, strlen(w->node)))
        return 0;
    unsigned f = fields[w->kind];
    int other = (f & G) ? chat_node_id_valid(w->other, strlen(w->other))
                        : field_ok(w->other, (f & O) != 0);
    return field_ok(w->name, (f & N) != 0) && field_ok(w->room, (f & R) != 0) &&
           other && text_ok(w->text, w->text_len, (f & T) != 0);
}

/* The next token of s[*i..n) up to stop (not included), copied into out
 * (cap bytes with its NUL); -1 if it is too long or stop never comes. */
static int token(const char *s, size_t n, size_t *i, char stop, char *out,
                 size_t cap)
{
    const char *end = memchr(s + *i, stop, n - *i);
    if (!end)
        return -1;
    size_t len = (size_t)(end - (s + *i));
    if (len >= cap)
        return -1;
    memcpy(out, s + *i, len);
    out[len] = '\0';
    *i += len + 1;
    return 0;
}

static int parse_seq(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s || (s[0] == '0'))
        return -1; /* empty, or leading zero: one spelling per number */
    for (; *s; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - d) / 10)
            return -1; /* not a digit, or past 2^64 - 1 */
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_kind(const char *s, chat_wire_kind *out)
{
    for (int k = 0; k < CHAT_WIRE_KINDS; k++) {
        if (strcmp(s, kinds[k]) == 0) {
            *out = (chat_wire_kind)k;
            return 0;
        }
    }
    return -1;
}

int chat_wire_decode(const char *msg, size_t len, chat_wire *w)
{
    char version[4], seq[24], kind[16];
    size_t i = 0;
    memset(w, 0, sizeof(*w));
    if (token(msg, len, &i, ' ', version, sizeof version) ||
        strcmp(version, "c1") != 0 ||
        token(msg, len, &i, ' ', w->node, sizeof w->node) ||
        token(msg, len, &i, ' ', seq, sizeof seq) || parse_seq(seq, &w->seq) ||
        token(msg, len, &i, '\n', kind, sizeof kind) ||
        parse_kind(kind, &w->kind) ||
        token(msg, len, &i, '\n', w->name, sizeof w->name) ||
        token(msg, len, &i, '\n', w->room, sizeof w->room) ||
        token(msg, len, &i, '\n', w->other, sizeof w->other))
        return -1;
    w->text = msg + i;
    w->text_len = len - i;
    return chat_wire_valid(w) ? 0 : -1;
}

chat_msg *chat_wire_encode(const chat_allocator *a, const chat_wire *w)
{
    chat_msgb mb;
    chat_msgb_init(&mb, a, 64 + w->text_len);
    chat_msgb_str(&mb, "c1 ");
    chat_msgb_str(&mb, w->node);
    chat_msgb_str(&mb, " ");
    chat_msgb_uint(&mb, w->seq);
    chat_msgb_str(&mb, " ");
    chat_msgb_str(&mb, kinds[w->kind]);
    const char *pieces[] = {w->name, w->room, w->other};
    for (size_t k = 0; k < 3; k++) {
        chat_msgb_str(&mb, "\n");
        chat_msgb_str(&mb, pieces[k]);
    }
    chat_msgb_str(&mb, "\n");
    if (w->text_len)
        chat_msgb_add(&mb, w->text, w->text_len);
    return chat_msgb_take(&mb);
}
