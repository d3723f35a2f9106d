/*
 * One line from a peer: login names, chat, and the command table of
 * doc/protocol.md. Every user-visible string of the protocol lives here or in
 * broker.c, next to the rule that sends it.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "text.h"

#define NAME_ERROR "Name must be 2-24 characters: letters, digits, _ or -"
#define ROOM_ERROR "Room must be 2-24 characters: letters, digits, _ or -"

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

/* Relay text from p to its room as kind, after the filters. */
static void say(chat_broker *b, chat_peer *p, chat_msg_kind kind,
                const char *text, size_t len)
{
    char scratch[CHAT_MAX_LINE];
    if (!chat_filters_run(b, kind, p, &text, &len, scratch))
        return;
    chat_msgb mb;
    chat_msgb_init(&mb, &b->alloc, len + CHAT_NAME_MAX + 8);
    if (kind == CHAT_KIND_ME) {
        chat_msgb_str(&mb, "* ");
        chat_msgb_str(&mb, p->name);
        chat_msgb_add(&mb, " ", 1);
    } else {
        chat_msgb_str(&mb, p->name);
        chat_msgb_add(&mb, ": ", 2);
    }
    chat_msgb_add(&mb, text, len);
    chat_msg *m = chat_msgb_end(&mb);
    if (!m)
        return; /* out of memory: the line is lost for everyone alike */
    b->stats.messages++;
    chat_room_remember(b, p->room, m);
    chat_room_broadcast(b, p->room, m);
    chat_msg_unref(&b->alloc, m);
}

static void cmd_help(chat_broker *b, chat_peer *p, args *a)
{
    (void)a;
    chat_peer_reply(b, p, b->help);
}

static void cmd_name(chat_broker *b, chat_peer *p, args *a)
{
    if (!chat_name_valid(a->rest, a->rest_len)) {
        chat_peer_replyf(b, p, NAME_ERROR, CHAT_END);
        return;
    }
    chat_peer *other = find_user(b, a->rest, a->rest_len);
    if (other && other != p) {
        chat_peer_replyf(b, p, a->rest, " is already taken", CHAT_END);
        return;
    }
    if (strcmp(p->name, a->rest) == 0) { /* nothing changes: no broadcast */
        chat_peer_replyf(b, p, "You are ", p->name, CHAT_END);
        return;
    }
    char old[CHAT_KEY_SIZE];
    memcpy(old, p->name, sizeof(old));
    (void)chat_peer_set_name(b, p, a->rest, a->rest_len); /* cannot fail */
    chat_msg *m = chat_msg_cat(&b->alloc, old, " is now ", p->name, CHAT_END);
    if (m)
        chat_room_broadcast(b, p->room, m);
    chat_msg_unref(&b->alloc, m);
}

static void cmd_join(chat_broker *b, chat_peer *p, args *a)
{
    if (!chat_name_valid(a->rest, a->rest_len)) {
        chat_peer_replyf(b, p, ROOM_ERROR, CHAT_END);
        return;
    }
    if (chat_room_find(b, a->rest, a->rest_len) == p->room) {
        chat_peer_replyf(b, p, "You are in ", p->room->name, CHAT_END);
        return;
    }
    if (chat_room_enter(b, p, a->rest, a->rest_len))
        chat_peer_nomem(b, p);
}

static int by_count_then_name(const void *x, const void *y)
{
    const chat_room *r = *(chat_room *const *)x, *s = *(chat_room *const *)y;
    if (r->count != s->count)
        return r->count > s->count ? -1 : 1;
    return chat_name_cmp(r->name, s->name);
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
    chat_msgb_str(&mb, "Rooms - ");
    for (size_t i = 0; i < n; i++) {
        chat_msgb_str(&mb, i ? ", " : "");
        chat_msgb_str(&mb, v[i]->name);
        chat_msgb_str(&mb, " (");
        chat_msgb_uint(&mb, v[i]->count);
        chat_msgb_str(&mb, ")");
    }
    chat_mem_free(&b->alloc, v);
    chat_msg *m = chat_msgb_end(&mb);
    chat_peer_reply(b, p, m);
    chat_msg_unref(&b->alloc, m);
}

static int by_name(const void *x, const void *y)
{
    return chat_name_cmp((*(chat_peer *const *)x)->name,
                         (*(chat_peer *const *)y)->name);
}

static void cmd_users(chat_broker *b, chat_peer *p, args *a)
{
    (void)a;
    chat_room *r = p->room;
    chat_peer **v = chat_mem_alloc(&b->alloc, r->count * sizeof(*v));
    if (!v) {
        chat_peer_nomem(b, p);
        return;
    }
    size_t n = 0;
    for (chat_link *l = r->members.next; l != &r->members; l = l->next)
        v[n++] = CHAT_CONTAINER(l, chat_peer, room_link);
    qsort(v, n, sizeof(*v), by_name);
    chat_msgb mb;
    chat_msgb_init(&mb, &b->alloc, 16 + n * (CHAT_NAME_MAX + 2));
    chat_msgb_str(&mb, "Users - ");
    for (size_t i = 0; i < n; i++) {
        chat_msgb_str(&mb, i ? ", " : "");
        chat_msgb_str(&mb, v[i]->name);
    }
    chat_mem_free(&b->alloc, v);
    chat_msg *m = chat_msgb_end(&mb);
    chat_peer_reply(b, p, m);
    chat_msg_unref(&b->alloc, m);
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

static int seen(chat_peer *const *v, size_t n, const chat_peer *p)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == p)
            return 1;
    return 0;
}

/* Deliver "from {sender}: {text}" to each known name, once each; the
 * sender hears "No such user" per unknown name, then "to {names}: ...". */
static void cmd_msg(chat_broker *b, chat_peer *p, args *a)
{
    size_t names_len, text_len;
    const char *text;
    char scratch[CHAT_MAX_LINE];
    if (!split_first(a, &names_len, &text, &text_len)) {
        chat_peer_replyf(b, p, "Usage: /msg NAME[,NAME...] TEXT", CHAT_END);
        return;
    }
    if (!chat_filters_run(b, CHAT_KIND_DIRECT, p, &text, &text_len, scratch))
        return;
    chat_peer *to[CHAT_MAX_LINE / 2];
    size_t n_to = 0;
    chat_msgb echo;
    chat_msgb_init(&echo, &b->alloc, names_len + text_len + 8);
    chat_msgb_str(&echo, "to ");
    for (size_t i = 0; i < names_len;) {
        size_t j = i;
        while (j < names_len && a->rest[j] != ',')
            j++;
        const char *name = a->rest + i;
        size_t len = j - i;
        i = j + 1;
        if (!len)
            continue;
        chat_peer *q = find_user(b, name, len);
        if (!q) {
            char unknown[CHAT_MAX_LINE + 1];
            memcpy(unknown, name, len);
            unknown[len] = '\0';
            chat_peer_replyf(b, p, "No such user: ", unknown, CHAT_END);
        } else if (!seen(to, n_to, q)) {
            chat_msgb_str(&echo, n_to ? ", " : "");
            chat_msgb_add(&echo, name, len);
            to[n_to++] = q;
        }
    }
    if (n_to == 0) {
        chat_msg_unref(&b->alloc, chat_msgb_end(&echo));
        return;
    }
    chat_msgb_str(&echo, ": ");
    chat_msgb_add(&echo, text, text_len);
    chat_msgb mb;
    chat_msgb_init(&mb, &b->alloc, CHAT_NAME_MAX + text_len + 8);
    chat_msgb_str(&mb, "from ");
    chat_msgb_str(&mb, p->name);
    chat_msgb_str(&mb, ": ");
    chat_msgb_add(&mb, text, text_len);
    chat_msg *m = chat_msgb_end(&mb);
    if (m) {
        b->stats.messages++;
        for (size_t i = 0; i < n_to; i++)
            chat_peer_deliver(b, to[i], m);
    }
    chat_msg_unref(&b->alloc, m);
    m = chat_msgb_end(&echo);
    chat_peer_reply(b, p, m);
    chat_msg_unref(&b->alloc, m);
}

static void cmd_me(chat_broker *b, chat_peer *p, args *a)
{
    say(b, p, CHAT_KIND_ME, a->rest, a->rest_len);
}

static void cmd_quit(chat_broker *b, chat_peer *p, args *a)
{
    (void)a;
    chat_peer_replyf(b, p, "Bye!", CHAT_END);
    chat_peer_doom(b, p, CHAT_CLOSE_QUIT);
}

typedef struct command {
    const char *word;
    const char *usage; /* NULL: takes no argument */
    void (*run)(chat_broker *b, chat_peer *p, args *a);
} command;

static const command commands[] = {
    {"/help", NULL, cmd_help},
    {"/name", "Usage: /name NAME", cmd_name},
    {"/nick", "Usage: /nick NAME", cmd_name},
    {"/join", "Usage: /join ROOM", cmd_join},
    {"/rooms", NULL, cmd_rooms},
    {"/users", NULL, cmd_users},
    {"/msg", "Usage: /msg NAME[,NAME...] TEXT", cmd_msg},
    {"/me", "Usage: /me TEXT", cmd_me},
    {"/quit", NULL, cmd_quit},
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
        if (c->usage && a.rest_len == 0)
            chat_peer_replyf(b, p, c->usage, CHAT_END);
        else
            c->run(b, p, &a);
        return;
    }
    char word[CHAT_MAX_LINE + 1];
    memcpy(word, a.word, a.word_len);
    word[a.word_len] = '\0';
    chat_peer_replyf(b, p, "Unrecognized command ", word, ", try /help", CHAT_END);
}

/* Login mode: the line is the wanted name. */
static void login_line(chat_broker *b, chat_peer *p, const char *text,
                       size_t len)
{
    if (!chat_name_valid(text, len)) {
        chat_peer_replyf(b, p, NAME_ERROR, CHAT_END);
        return;
    }
    if (find_user(b, text, len)) {
        char name[CHAT_KEY_SIZE];
        memcpy(name, text, len);
        name[len] = '\0';
        chat_peer_replyf(b, p, name, " is already taken", CHAT_END);
        return;
    }
    if (chat_peer_set_name(b, p, text, len)) {
        chat_peer_nomem(b, p);
        return;
    }
    p->state = PEER_ACTIVE;
    p->last_input_ms = b->now;
    chat_list_move_back(&b->idle, &p->time_link);
    chat_peer_welcome(b, p);
}

void chat_line(chat_broker *b, chat_peer *p, const char *line, size_t len)
{
    if (len == 1 && line[0] == 0x04) { /* a Ctrl-D line: like /quit */
        cmd_quit(b, p, NULL);
        return;
    }
    if (!chat_utf8_valid(line, len)) {
        chat_peer_replyf(b, p, "Messages must be valid UTF-8", CHAT_END);
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
    else
        say(b, p, CHAT_KIND_CHAT, text, n);
}
