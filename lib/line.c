/* Structured, refcounted lines rendered once per format; see line.h. */
#include "line.h"

#include <string.h>

#include "alloc.h"

static size_t piece_len(const char *s) { return s ? strlen(s) : 0; }

static char *put(char **at, const char *s)
{
    char *start = *at;
    size_t n = piece_len(s);
    if (n)
        memcpy(start, s, n);
    start[n] = '\0';
    *at += n + 1;
    return start;
}

chat_line *chat_line_new(const chat_allocator *a, chat_text kind,
                         const chat_targs *args)
{
    size_t size = sizeof(chat_line) + piece_len(args->n) + piece_len(args->r) +
                  piece_len(args->o) + 3 + args->t_len;
    chat_line *l = chat_mem_alloc(a, size);
    if (!l)
        return NULL;
    memset(l, 0, sizeof(*l));
    l->refs = 1;
    l->kind = (uint8_t)kind;
    char *at = l->data;
    l->name = put(&at, args->n);
    l->room = put(&at, args->r);
    l->other = put(&at, args->o);
    if (args->t_len)
        memcpy(at, args->t, args->t_len);
    l->text_len = (uint16_t)args->t_len;
    return l;
}

void chat_line_free(const chat_allocator *a, chat_line *l)
{
    for (int f = 0; f < CHAT_FORMATS; f++)
        chat_msg_unref(a, l->out[f]);
    chat_mem_free(a, l);
}

chat_msg *chat_line_render(const chat_allocator *a, chat_line *l, unsigned fmt)
{
    chat_targs args = {
        .n = l->name, .r = l->room, .o = l->other,
        .t = l->other + strlen(l->other) + 1, .t_len = l->text_len,
    };
    chat_text kind = (chat_text)l->kind;
    l->out[fmt] = chat_text_render_for(a, fmt, kind, &args);
    /* Out of memory is not remembered: the next recipient tries again. */
    if (l->out[fmt] || !chat_text_shown(chat_format_dialect(fmt), kind))
        l->tried |= (uint8_t)(1u << fmt);
    return l->out[fmt];
}
