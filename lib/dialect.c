/*
 * The dialects' texts: the one home of every line the broker sends. A
 * text is a template: {n} a name, {r} a room, {o} another piece, {t} the
 * relayed text; everything else is literal. doc/protocol.md quotes these.
 */
#include "dialect.h"

#include <string.h>

/* A dialect's text that is never sent. */
static const char hidden[] = "";
#define CHAT_HIDDEN hidden

/* chat: doc/protocol.md, the default; other dialects start from it. */
static const chat_dialect_def chat = {
    .name = "chat",
    .echo = 1,
    .greet_help = 1,
    .text = {
        [CHAT_T_CHAT] = "{n}: {t}",
        [CHAT_T_ME] = "* {n} {t}",
        [CHAT_T_DIRECT] = "from {n}: {t}",
        [CHAT_T_JOINED] = "{n} joined {r}",
        [CHAT_T_LEFT] = "{n} left {r}",
        [CHAT_T_RENAMED] = "{o} is now {n}",
        [CHAT_T_HELP] =
            "Server commands\n"
            "/help - show this help\n"
            "/name NAME - change your name (alias: /nick NAME)\n"
            "/join ROOM - leave your room and join ROOM, creating it if needed\n"
            "/rooms - list the rooms and how many are in each\n"
            "/users - list the users in your room\n"
            "/msg NAME[,NAME...] TEXT - send a direct message\n"
            "/me TEXT - act something out in your room\n"
            "/quit - leave the chat",
        [CHAT_T_YOU_ARE] = "You are {n}",
        [CHAT_T_YOU_JOINED] = "You joined {r}",
        [CHAT_T_YOU_ARE_IN] = "You are in {r}",
        [CHAT_T_DIRECT_SENT] = "to {o}: {t}",
        [CHAT_T_NAME_INVALID] =
            "Name must be 2-24 characters: letters, digits, _ or -",
        [CHAT_T_ROOM_INVALID] =
            "Room must be 2-24 characters: letters, digits, _ or -",
        [CHAT_T_NAME_TAKEN] = "{o} is already taken",
        [CHAT_T_ROOMS] = "Rooms - {o}",
        [CHAT_T_USERS] = "Users - {o}",
        [CHAT_T_NO_SUCH_USER] = "No such user: {o}",
        [CHAT_T_USAGE_NAME] = "Usage: /name NAME",
        [CHAT_T_USAGE_NICK] = "Usage: /nick NAME",
        [CHAT_T_USAGE_JOIN] = "Usage: /join ROOM",
        [CHAT_T_USAGE_MSG] = "Usage: /msg NAME[,NAME...] TEXT",
        [CHAT_T_USAGE_ME] = "Usage: /me TEXT",
        [CHAT_T_UNKNOWN_COMMAND] = "Unrecognized command {o}, try /help",
        [CHAT_T_BYE] = "Bye!",
        [CHAT_T_IDLE] = "Disconnected for inactivity",
        [CHAT_T_FULL] = "Server is full, try again later",
        [CHAT_T_SHUTDOWN] = "Server shutting down...",
        [CHAT_T_DROPPED] = "Server is very busy and dropped {o} messages, sorry!",
        [CHAT_T_TOO_LONG] = "Messages can only be 400 bytes long",
        [CHAT_T_BAD_UTF8] = "Messages must be valid UTF-8",
        [CHAT_T_TOO_FAST] = "You are sending too fast, slow down",
        [CHAT_T_FILTER_LATE] =
            "Your message was not sent: the filter did not answer in time",
        [CHAT_T_CLUSTER_DOWN] =
            "Chat with other servers is unavailable; users here can still chat",
        [CHAT_T_CLUSTER_UP] = "Chat with other servers is available again",
        [CHAT_T_NAME_LOST] =
            "Your name {o} was taken on another server; you are now {n}",
    },
};

/*
 * a-chat: the async-std book's chat. Its client sends a login, then
 * "name1, name2: text" lines, and prints what it receives; the book's
 * server only ever sends "from {sender}: {text}". So an a-chat user sees
 * direct messages, answers to what they asked and the server's notices,
 * and no room traffic, greeting or echo (doc/protocol.md, "a-chat").
 */
static const chat_dialect_def a_chat = {
    .name = "a-chat",
    .login = 1,
    .addressed = 1,
    .text = {
        [CHAT_T_CHAT] = CHAT_HIDDEN,
        [CHAT_T_ME] = CHAT_HIDDEN,
        [CHAT_T_JOINED] = CHAT_HIDDEN,
        [CHAT_T_LEFT] = CHAT_HIDDEN,
        [CHAT_T_RENAMED] = CHAT_HIDDEN,
        [CHAT_T_YOU_ARE] = CHAT_HIDDEN,
        [CHAT_T_YOU_JOINED] = CHAT_HIDDEN,
        [CHAT_T_DIRECT_SENT] = CHAT_HIDDEN,
        [CHAT_T_NO_SUCH_USER] = CHAT_HIDDEN,
    },
};

/*
 * telex: the Telex series' server. The first line is the name; room lines
 * read "<{name}> {text}" and senders get no echo of their own; notices
 * about others start with "* ", as in IRC clients. Our commands and
 * replies stay (doc/protocol.md, "telex").
 */
static const chat_dialect_def telex = {
    .name = "telex",
    .login = 1,
    .text = {
        [CHAT_T_CHAT] = "<{n}> {t}",
        [CHAT_T_ME] = "* {n} {t}",
        [CHAT_T_DIRECT] = "*{n}* {t}",
        [CHAT_T_JOINED] = "* {n} joined {r}",
        [CHAT_T_LEFT] = "* {n} left {r}",
        [CHAT_T_RENAMED] = "* {o} is now {n}",
        [CHAT_T_DIRECT_SENT] = "-> {o}: {t}",
    },
};

const chat_dialect_def *const chat_dialects[CHAT_DIALECT_COUNT] = {
    [CHAT_DIALECT_CHAT] = &chat,
    [CHAT_DIALECT_A_CHAT] = &a_chat,
    [CHAT_DIALECT_TELEX] = &telex,
};

static const char *template_of(chat_dialect d, chat_text id)
{
    const char *s = chat_dialects[d]->text[id];
    return s ? s : chat.text[id];
}

int chat_text_shown(chat_dialect d, chat_text id)
{
    return template_of(d, id) != CHAT_HIDDEN;
}

static void add_piece(chat_msgb *mb, char key, const chat_targs *args)
{
    const char *s = key == 'n' ? args->n : key == 'r' ? args->r
                  : key == 'o' ? args->o : NULL;
    if (key == 't')
        chat_msgb_add(mb, args->t, args->t_len);
    else if (s)
        chat_msgb_str(mb, s);
}

chat_msg *chat_text_render(const chat_allocator *a, chat_dialect d,
                           chat_text id, const chat_targs *args)
{
    const char *s = template_of(d, id);
    static const chat_targs none;
    chat_msgb mb;

    if (s == CHAT_HIDDEN)
        return NULL;
    if (!args)
        args = &none;
    chat_msgb_init(&mb, a, strlen(s) + args->t_len + (size_t)2 * CHAT_NAME_MAX);
    while (*s) {
        const char *brace = strchr(s, '{');
        if (!brace || !brace[1] || brace[2] != '}') {
            chat_msgb_str(&mb, s);
            break;
        }
        chat_msgb_add(&mb, s, (size_t)(brace - s));
        add_piece(&mb, brace[1], args);
        s = brace + 3;
    }
    return chat_msgb_end(&mb);
}

chat_msg *chat_text_render_for(const chat_allocator *a, unsigned fmt,
                               chat_text id, const chat_targs *args)
{
    chat_msg *m = chat_text_render(a, chat_format_dialect(fmt), id, args);
    if (!m)
        return NULL;
    chat_msg *framed = chat_frame(a, fmt, m);
    chat_msg_unref(a, m);
    return framed;
}

int chat_dialect_parse(const char *name, chat_dialect *out)
{
    for (int d = 0; name && d < CHAT_DIALECT_COUNT; d++) {
        if (strcmp(name, chat_dialects[d]->name) == 0) {
            if (out)
                *out = (chat_dialect)d;
            return CHAT_OK;
        }
    }
    return CHAT_ERR_INVALID;
}

const char *chat_dialect_name(chat_dialect d)
{
    return (unsigned)d < CHAT_DIALECT_COUNT ? chat_dialects[d]->name : NULL;
}
