/* The --filter-exec protocol, both ends. See filterproto.h and
 * doc/filter.md. */
#include "filterproto.h"

#include <string.h>

#include "json.h"

static const char *const kind_names[] = {
    [CHAT_KIND_CHAT] = "chat",
    [CHAT_KIND_ME] = "me",
    [CHAT_KIND_DIRECT] = "direct",
};

static const char *const verdict_names[] = {
    [CHAT_FILTER_ALLOW] = "allow",
    [CHAT_FILTER_DROP] = "drop",
    [CHAT_FILTER_REWRITE] = "rewrite",
};

#define NKINDS (sizeof kind_names / sizeof kind_names[0])
#define NVERDICTS (sizeof verdict_names / sizeof verdict_names[0])

/* The index of the name equal to s (len bytes) in names[first..n), or -1. */
static int lookup(const char *const *names, size_t first, size_t n,
                  const char *s, size_t len)
{
    for (size_t i = first; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return (int)i;
    return -1;
}

/* Close the line: "}\n"; its length, or 0 if it overflowed. */
static size_t finish(chatp_jout *o)
{
    chatp_jout_raw(o, "}\n");
    return o->overflow ? 0 : o->len;
}

size_t chatp_filter_write_request(const chatp_filter_request *r, char *buf,
                                  size_t cap)
{
    chatp_jout o;

    if (r->kind < CHAT_KIND_CHAT || (size_t)r->kind >= NKINDS)
        return 0;
    chatp_jout_init(&o, buf, cap);
    chatp_jout_raw(&o, "{\"id\":");
    chatp_jout_uint(&o, r->id);
    chatp_jout_raw(&o, ",\"kind\":\"");
    chatp_jout_raw(&o, kind_names[r->kind]);
    chatp_jout_raw(&o, "\",\"sender\":");
    chatp_jout_string(&o, r->sender, strlen(r->sender));
    chatp_jout_raw(&o, ",\"room\":");
    if (r->room)
        chatp_jout_string(&o, r->room, strlen(r->room));
    else
        chatp_jout_raw(&o, "null");
    chatp_jout_raw(&o, ",\"text\":");
    chatp_jout_string(&o, r->text, r->len);
    return finish(&o);
}

size_t chatp_filter_write_answer(const chatp_filter_answer *a, char *buf,
                                 size_t cap)
{
    chatp_jout o;

    if ((size_t)a->verdict >= NVERDICTS)
        return 0;
    chatp_jout_init(&o, buf, cap);
    chatp_jout_raw(&o, "{\"id\":");
    chatp_jout_uint(&o, a->id);
    chatp_jout_raw(&o, ",\"verdict\":\"");
    chatp_jout_raw(&o, verdict_names[a->verdict]);
    chatp_jout_raw(&o, "\"");
    if (a->verdict == CHAT_FILTER_REWRITE) {
        chatp_jout_raw(&o, ",\"text\":");
        chatp_jout_string(&o, a->text, a->len);
    }
    return finish(&o);
}

enum { RQ_ID, RQ_KIND, RQ_SENDER, RQ_ROOM, RQ_TEXT, RQ_N };

int chatp_filter_read_request(const char *line, size_t len,
                              chatp_filter_request *r, char *buf, size_t cap)
{
    chatp_json_member m[RQ_N] = {
        [RQ_ID] = {.key = "id", .accept = CHATP_JSON_UINT},
        [RQ_KIND] = {.key = "kind", .accept = CHATP_JSON_STRING},
        [RQ_SENDER] = {.key = "sender", .accept = CHATP_JSON_STRING},
        [RQ_ROOM] = {.key = "room",
                     .accept = CHATP_JSON_STRING | CHATP_JSON_NULL},
        [RQ_TEXT] = {.key = "text", .accept = CHATP_JSON_STRING},
    };
    int kind;

    if (chatp_json_parse_object(line, len, m, RQ_N, buf, cap) != 0)
        return -1;
    for (int i = 0; i < RQ_N; i++)
        if (!m[i].type)
            return -1;
    kind = lookup(kind_names, CHAT_KIND_CHAT, NKINDS, m[RQ_KIND].str,
                  m[RQ_KIND].len);
    /* A direct message has no room, and only a direct message. */
    if (kind < 0 || (kind == CHAT_KIND_DIRECT) !=
                        (m[RQ_ROOM].type == CHATP_JSON_NULL))
        return -1;
    r->id = m[RQ_ID].num;
    r->kind = (chat_msg_kind)kind;
    r->sender = m[RQ_SENDER].str;
    r->room = kind == CHAT_KIND_DIRECT ? NULL : m[RQ_ROOM].str;
    r->text = m[RQ_TEXT].str;
    r->len = m[RQ_TEXT].len;
    return 0;
}

enum { AN_ID, AN_VERDICT, AN_TEXT, AN_N };

int chatp_filter_read_answer(const char *line, size_t len,
                             chatp_filter_answer *a, char *buf, size_t cap)
{
    chatp_json_member m[AN_N] = {
        [AN_ID] = {.key = "id", .accept = CHATP_JSON_UINT},
        [AN_VERDICT] = {.key = "verdict", .accept = CHATP_JSON_STRING},
        [AN_TEXT] = {.key = "text", .accept = CHATP_JSON_STRING},
    };
    int v;

    if (chatp_json_parse_object(line, len, m, AN_N, buf, cap) != 0 ||
        !m[AN_ID].type || !m[AN_VERDICT].type)
        return -1;
    v = lookup(verdict_names, 0, NVERDICTS, m[AN_VERDICT].str,
               m[AN_VERDICT].len);
    /* text comes with a rewrite and with nothing else. */
    if (v < 0 || (v == CHAT_FILTER_REWRITE) != (m[AN_TEXT].type != 0) ||
        m[AN_TEXT].len > CHAT_MAX_LINE)
        return -1;
    a->id = m[AN_ID].num;
    a->verdict = (chat_filter_verdict)v;
    a->text = m[AN_TEXT].type ? m[AN_TEXT].str : NULL;
    a->len = m[AN_TEXT].type ? m[AN_TEXT].len : 0;
    return 0;
}
