/*
 * One line from a peer: login names, chat, a-chat's addressed lines, and
 * the command table of doc/protocol.md. What each reply says is in
 * dialect.c; this file decides which one is sent, and when.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

typedef struct args {
    const char *word; /* the command word as typed, "/" included */
    size_t word_len;
    char *rest;       /* arguments, trimmed; NUL-terminated */
    size_t rest_len;
} args;

static chat_peer *find_user(chat_broker *b, const char *name, size_t len)
{
    if (len > CHAT_NAME_MAX)
        return NULL;
    char key[CHAT_KEY_SIZE];
    chat_fold(key, name, len);
    return chat_map_find(&b->names, key);
}

/* Someone here or (cluster mode) on another node is called name, or a
 * user here is claiming it. */
static int name_in_use(chat_broker *b, const char *name, size_t len)
{
    char key[CHAT_KEY_SIZE];
    if (len > CHAT_NAME_MAX)
        return 0;
    chat_fold(key, name, len);
    return find_user(b, name, len) || chat_remote_find(b, name, len) ||
           chat_claim_pending(b, key);
}

static void relay_direct(chat_broker *b, chat_peer *p, const char *names,
                         size_t names_len, const char *text, size_t len);

/* A chat line or /me that passed the filters: to the room, into history. */
static void relay_said(chat_broker *b, chat_peer *p, chat_msg_kind kind,
                       const char *text, size_t len)
{
    chat_targs said = {.n = p->name, .r = p->room->name, .t = text,
                       .t_len = len};
    chat_line *l = chat_line_new(&b->alloc,
                                 kind == CHAT_KIND_ME ? CHAT_T_ME : CHAT_T_CHAT,
                                 &said);
    if (!l)
        return; /* out of memory: the line is lost for everyone alike */
    b->stats.messages++;
    chat_room_remember(b, p->room, l);
    chat_room_relay(b, p->room, l, p);
    chat_line_unref(&b->alloc, l);
    chat_wire w = {.kind = kind == CHAT_KIND_ME ? CHAT_WIRE_ME : CHAT_WIRE_CHAT,
                   .text = text, .text_len = len};
    memcpy(w.name, p->name, sizeof(w.name));
    memcpy(w.room, p->room->name, sizeof(w.room));
    chat_bus_publish(b, CHAT_CHANNEL_ROOM, p->room->name, &w, 1);
}

static void relay(chat_broker *b, chat_peer *p, chat_msg_kind kind,
                  const char *names, size_t names_len, const char *text,
                  size_t len)
{
    if (kind == CHAT_KIND_DIRECT)
        relay_direct(b, p, names, names_len, text, len);
    else
        relay_said(b, p, kind, text, len);
}

/* The filters from *at on, then relay, drop or wait. names: DIRECT's. */
static void filter_and_relay(chat_broker *b, chat_peer *p, chat_msg_kind kind,
                             const char *names, size_t names_len,
                             const char *text, size_t len, uint32_t at)
{
    char scratch[CHAT_MAX_LINE];
    uint64_t token = ++b->next_token;
    chat_filter_verdict v =
        chat_filters_run(b, kind, p, &text, &len, scratch, &at, token);
    if (v == CHAT_FILTER_ALLOW) {
        relay(b, p, kind, names, names_len, text, len);
    } else if (v == CHAT_FILTER_DROP) {
        b->stats.filtered++;
    } else if (chat_wait_start(b, p, token, kind, at + 1, names, names_len,
                               text, len)) {
        chat_peer_nomem(b, p);
    }
}

void chat_message_resume(chat_broker *b, chat_wait *w,
                         chat_filter_verdict verdict, const char *text,
                         size_t len)
{
    char scratch[CHAT_MAX_LINE];
    const char *t = w->text;
    size_t n = w->text_len;
    if (verdict == CHAT_FILTER_REWRITE) {
        n = text ? chat_filter_text(text, len, scratch) : 0;
        t = scratch;
    }
    if (verdict == CHAT_FILTER_DROP || n == 0) {
        b->stats.filtered++;
        return;
    }
    filter_and_relay(b, w->peer, (chat_msg_kind)w->kind, w->names,
                     w->names_len, t, n, w->next_filter);
}

static void cmd_help(chat_broker *b, chat_peer *p, args *a)
{
    (void)a;
    chat_peer_help(b, p);
}

static void cmd_name(chat_broker *b, chat_peer *p, args *a)
{
    if (!chat_name_valid(a->rest, a->rest_len)) {
        chat_peer_text(b, p, CHAT_T_NAME_INVALID, NULL);
        return;
    }
    /* p's own name, in this spelling or another: not a new name. */
    int own = chat_word_eq(a->rest, a->rest_len, p->name);
    if (!own && name_in_use(b, a->rest, a->rest_len)) {
        chat_peer_text(b, p, CHAT_T_NAME_TAKEN, &(chat_targs){.o = a->rest});
        return;
    }
    if (strcmp(p->name, a->rest) == 0) { /* nothing changes: no broadcast */
        chat_peer_text(b, p, CHAT_T_YOU_ARE, &(chat_targs){.n = p->name});
        return;
    }
    /* A new name is the cluster's to grant; a new spelling of one's own
     * is not a new name. */
    if (chat_bus_live(&b->bus) && !own) {
        if (chat_claim_start(b, p, CHAT_CLAIM_RENAME, a->rest, a->rest_len, 0))
            chat_peer_nomem(b, p);
        return;
    }
    chat_peer_renamed(b, p, a->rest, a->rest_len);
}

static void cmd_join(chat_broker *b, chat_peer *p, args *a)
{
    if (!chat_name_valid(a->rest, a->rest_len)) {
        chat_peer_text(b, p, CHAT_T_ROOM_INVALID, NULL);
        return;
    }
    if (chat_room_find(b, a->rest, a->rest_len) == p->room) {
        chat_peer_text(b, p, CHAT_T_YOU_ARE_IN, &(chat_targs){.r = p->room->name});
        return;
    }
    if (chat_room_enter(b, p, a->rest, a->rest_len))
        chat_peer_nomem(b, p);
}

static int by_count_then_name(const void *x, const void *y)
{
    const chat_room *r = *(chat_room *const *)x, *s = *(chat_room *const *)y;
    uint32_t rn = r->count + r->remote_count, sn = s->count + s->remote_count;
    if (rn != sn)
        return rn > sn ? -1 : 1;
    return chat_name_cmp(r->name, s->name);
}

/* Reply with text id, its {o} the list mb built; mb is used up. */
static void reply_list(chat_broker *b, chat_peer *p, chat_text id,
                       chat_msgb *mb)
{
    chat_msg *list = chat_msgb_end(mb);
    if (!list) {
        chat_peer_nomem(b, p);
        return;
    }
    list->data[list->len - 1] = '\0'; /* the "\n" end() added */
    chat_peer_text(b, p, id, &(chat_targs){.o = list->data});
    chat_msg_unref(&b->alloc, list);
}

static void cmd_rooms(chat_broker *b, chat_peer *p, args *a)
{
    (void)a;
    size_t n = b->rooms.count, pos = 0;
    chat_room **v = chat_mem_alloc(&b->alloc, n * sizeof(*v));
    if (!v) {
        chat_peer_nomem(b, p);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = chat_map_next(&b->rooms, &pos);
    qsort(v, n, sizeof(*v), by_count_then_name);
    chat_msgb mb;
    chat_msgb_init(&mb, &b->alloc, 16 + n * (CHAT_NAME_MAX + 8));
    for (size_t i = 0; i < n; i++) {
        chat_msgb_str(&mb, i ? ", " : "");
        chat_msgb_str(&mb, v[i]->name);
        chat_msgb_str(&mb, " (");
        chat_msgb_uint(&mb, (uint64_t)v[i]->count + v[i]->remote_count);
        chat_msgb_str(&mb, ")");
    }
    chat_mem_free(&b->alloc, v);
    reply_list(b, p, CHAT_T_ROOMS, &mb);
}

static int by_name(const void *x, const void *y)
{
    return chat_name_cmp(*(const char *const *)x, *(const char *const *)y);
}

/* The names of r's members, here and on other nodes. */
static size_t member_names(const chat_room *r, const char **v)
{
    size_t n = 0;
    for (const chat_link *l = r->members.next; l != &r->members; l = l->next)
        v[n++] = CHAT_CONTAINER(l, chat_peer, room_link)->name;
    for (const chat_link *l = r->remote_members.next; l != &r->remote_members;
         l = l->next)
        v[n++] = CHAT_CONTAINER(l, chat_remote, room_link)->name;
    return n;
}

static void cmd_users(chat_broker *b, chat_peer *p, args *a)
{
    (void)a;
    chat_room *r = p->room;
    size_t total = (size_t)r->count + r->remote_count;
    const char **v = chat_mem_alloc(&b->alloc, total * sizeof(*v));
    if (!v) {
        chat_peer_nomem(b, p);
        return;
    }
    size_t n = member_names(r, v);
    qsort(v, n, sizeof(*v), by_name);
    chat_msgb mb;
    chat_msgb_init(&mb, &b->alloc, 16 + n * (CHAT_NAME_MAX + 2));
    for (size_t i = 0; i < n; i++) {
        chat_msgb_str(&mb, i ? ", " : "");
        chat_msgb_str(&mb, v[i]);
    }
    chat_mem_free(&b->alloc, v);
    reply_list(b, p, CHAT_T_USERS, &mb);
}

/* Split "NAMES TEXT": names end at the first blank. */
static int split_first(args *a, size_t *names_len, const char **text,
                       size_t *text_len)
{
    size_t i = 0;
    while (i < a->rest_len && a->rest[i] != ' ' && a->rest[i] != '\t')
        i++;
    size_t j = i;
    while (j < a->rest_len && (a->rest[j] == ' ' || a->rest[j] == '\t'))
        j++;
    if (i == 0 || j == a->rest_len)
        return 0;
    *names_len = i;
    *text = a->rest + j;
    *text_len = a->rest_len - j;
    return 1;
}

/* A direct message's recipient: a user here, or on another node. */
typedef struct recipient {
    chat_peer *local;
    chat_remote *far;
} recipient;

static int seen(const recipient *v, size_t n, const void *who)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].local == who || (void *)v[i].far == who)
            return 1;
    return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* The next name of a "a,b" (or a-chat's "a, b") list at names[*i..n),
 * trimmed; moves *i past it and its comma. */
static size_t next_name(const char *names, size_t n, size_t *i,
                        const char **name)
{
    size_t j = *i;
    while (j < n && names[j] != ',')
        j++;
    size_t s = *i, e = j;
    while (s < e && is_blank(names[s]))
        s++;
    while (e > s && is_blank(names[e - 1]))
        e--;
    *i = j + 1;
    *name = names + s;
    return e - s;
}

/* The recipients named in names[0..n) into to (once each); the sender
 * hears "No such user" per unknown name (dialects that skip them quietly
 * hide it), and echo collects the names as typed. Returns how many. */
static size_t resolve(chat_broker *b, chat_peer *p, const char *names,
                      size_t n, recipient *to, chat_msgb *echo)
{
    size_t n_to = 0;
    for (size_t i = 0; i < n;) {
        const char *name;
        size_t len = next_name(names, n, &i, &name);
        if (!len)
            continue;
        recipient r = {find_user(b, name, len), NULL};
        if (!r.local)
            r.far = chat_remote_find(b, name, len);
        void *who = r.local ? (void *)r.local : (void *)r.far;
        if (!who) {
            char unknown[CHAT_MAX_LINE + 1];
            memcpy(unknown, name, len);
            unknown[len] = '\0';
            chat_peer_text(b, p, CHAT_T_NO_SUCH_USER, &(chat_targs){.o = unknown});
        } else if (!seen(to, n_to, who)) {
            chat_msgb_str(echo, n_to ? ", " : "");
            chat_msgb_add(echo, name, len);
            to[n_to++] = r;
        }
    }
    return n_to;
}

/* A direct message to a user on another node goes to that node. */
static void send_far(chat_broker *b, const chat_peer *p, const chat_remote *u,
                     const char *text, size_t len)
{
    chat_wire w = {.kind = CHAT_WIRE_DIRECT, .text = text, .text_len = len};
    memcpy(w.name, p->name, sizeof(w.name));
    memcpy(w.other, u->name, sizeof(u->name));
    chat_bus_publish(b, CHAT_CHANNEL_NODE, u->node, &w, 0);
}

/* "from {sender}: {text}" to each known name, once each, each in its own
 * dialect; the sender gets "to {names}: {text}". */
static void relay_direct(chat_broker *b, chat_peer *p, const char *names,
                         size_t names_len, const char *text, size_t len)
{
    recipient to[CHAT_MAX_LINE / 2];
    chat_msgb echo;
    chat_msgb_init(&echo, &b->alloc, names_len + 1);
    size_t n_to = resolve(b, p, names, names_len, to, &echo);
    chat_msg *typed = chat_msgb_end(&echo);
    if (n_to == 0 || !typed) {
        chat_msg_unref(&b->alloc, typed);
        return;
    }
    typed->data[typed->len - 1] = '\0';
    chat_line *l = chat_line_new(&b->alloc, CHAT_T_DIRECT,
                                 &(chat_targs){.n = p->name, .t = text,
                                               .t_len = len});
    if (l) {
        b->stats.messages++;
        for (size_t i = 0; i < n_to; i++) {
            chat_msg *m = to[i].local
                ? chat_line_bytes(&b->alloc, l, to[i].local->format) : NULL;
            if (m)
                chat_peer_deliver(b, to[i].local, m);
            else if (to[i].far)
                send_far(b, p, to[i].far, text, len);
        }
        chat_line_unref(&b->alloc, l);
    }
    chat_peer_text(b, p, CHAT_T_DIRECT_SENT,
                   &(chat_targs){.o = typed->data, .t = text, .t_len = len});
    chat_msg_unref(&b->alloc, typed);
}

static void cmd_msg(chat_broker *b, chat_peer *p, args *a)
{
    size_t names_len, text_len;
    const char *text;
    if (!split_first(a, &names_len, &text, &text_len)) {
        chat_peer_text(b, p, CHAT_T_USAGE_MSG, NULL);
        return;
    }
    filter_and_relay(b, p, CHAT_KIND_DIRECT, a->rest, names_len, text,
                     text_len, 0);
}

static void cmd_me(chat_broker *b, chat_peer *p, args *a)
{
    filter_and_relay(b, p, CHAT_KIND_ME, NULL, 0, a->rest, a->rest_len, 0);
}

static void cmd_quit(chat_broker *b, chat_peer *p, args *a)
{
    (void)a;
    chat_peer_text(b, p, CHAT_T_BYE, NULL);
    chat_peer_doom(b, p, CHAT_CLOSE_QUIT);
}

typedef struct command {
    const char *word;
    chat_text usage; /* CHAT_T_COUNT: takes no argument */
    void (*run)(chat_broker *b, chat_peer *p, args *a);
} command;

static const command commands[] = {
    {"/help", CHAT_T_COUNT, cmd_help},
    {"/name", CHAT_T_USAGE_NAME, cmd_name},
    {"/nick", CHAT_T_USAGE_NICK, cmd_name},
    {"/join", CHAT_T_USAGE_JOIN, cmd_join},
    {"/rooms", CHAT_T_COUNT, cmd_rooms},
    {"/users", CHAT_T_COUNT, cmd_users},
    {"/msg", CHAT_T_USAGE_MSG, cmd_msg},
    {"/me", CHAT_T_USAGE_ME, cmd_me},
    {"/quit", CHAT_T_COUNT, cmd_quit},
};

static void command_line(chat_broker *b, chat_peer *p, char *text, size_t len)
{
    args a;
    size_t i = 0;
    while (i < len && text[i] != ' ' && text[i] != '\t')
        i++;
    a.word = text;
    a.word_len = i;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    a.rest = text + i;
    a.rest_len = len - i;
    a.rest[a.rest_len] = '\0';
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        const command *c = &commands[k];
        if (!chat_word_eq(a.word, a.word_len, c->word))
            continue;
        if (c->usage != CHAT_T_COUNT && a.rest_len == 0)
            chat_peer_text(b, p, c->usage, NULL);
        else
            c->run(b, p, &a);
        return;
    }
    char word[CHAT_MAX_LINE + 1];
    memcpy(word, a.word, a.word_len);
    word[a.word_len] = '\0';
    chat_peer_text(b, p, CHAT_T_UNKNOWN_COMMAND, &(chat_targs){.o = word});
}

/* a-chat: "name1, name2: text" is a direct message to each; a line with
 * no ":" or no text is ignored, as the book's server does. */
static void addressed_line(chat_broker *b, chat_peer *p, const char *line,
                           size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return;
    const char *names = line;
    size_t names_len = (size_t)(colon - line);
    const char *text = colon + 1;
    size_t text_len = len - names_len - 1;
    while (text_len && is_blank(*text)) {
        text++;
        text_len--;
    }
    if (text_len)
        filter_and_relay(b, p, CHAT_KIND_DIRECT, names, names_len, text,
                         text_len, 0);
}

/* Login mode: the line is the wanted name. */
static void login_line(chat_broker *b, chat_peer *p, const char *text,
                       size_t len)
{
    if (!chat_name_valid(text, len)) {
        chat_peer_text(b, p, CHAT_T_NAME_INVALID, NULL);
        return;
    }
    if (name_in_use(b, text, len)) {
        char name[CHAT_KEY_SIZE];
        memcpy(name, text, len);
        name[len] = '\0';
        chat_peer_text(b, p, CHAT_T_NAME_TAKEN, &(chat_targs){.o = name});
        return;
    }
    if (!chat_bus_live(&b->bus))
        chat_peer_named(b, p, text, len, 0);
    else if (chat_claim_start(b, p, CHAT_CLAIM_LOGIN, text, len, 0))
        chat_peer_nomem(b, p);
}

void chat_peer_line(chat_broker *b, chat_peer *p, const char *line, size_t len)
{
    if (len == 1 && line[0] == 0x04) { /* a Ctrl-D line: like /quit */
        cmd_quit(b, p, NULL);
        return;
    }
    if (!chat_utf8_valid(line, len)) {
        b->stats.bad_utf8++;
        chat_peer_text(b, p, CHAT_T_BAD_UTF8, NULL);
        return;
    }
    char text[CHAT_MAX_LINE + 1];
    size_t n = chat_text_sanitize(text, line, len);
    if (n == 0)
        return;
    if (p->state == PEER_LOGIN)
        login_line(b, p, text, n);
    else if (text[0] == '/')
        command_line(b, p, text, n);
    else if (chat_dialect_of(p->dialect)->addressed)
        addressed_line(b, p, text, n);
    else
        filter_and_relay(b, p, CHAT_KIND_CHAT, NULL, 0, text, n, 0);
}
