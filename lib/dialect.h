/*
 * Dialects: what each kind of line looks like to a peer, and how a peer's
 * input reads. Every user-visible string of the broker lives in dialect.c,
 * in one table per dialect; code names a line by its chat_text id and the
 * pieces that fill it, and never spells the words itself.
 */
#ifndef CHAT_DIALECT_H
#define CHAT_DIALECT_H

#include <libchat/broker.h>

#include "framing.h"
#include "message.h"

/* Every line the broker can send. The first group is relayed (shared by
 * many recipients, kept in history); the rest are replies to one peer. */
typedef enum chat_text {
    CHAT_T_CHAT,          /* {n}: {t} */
    CHAT_T_ME,            /* * {n} {t} */
    CHAT_T_DIRECT,        /* from {n}: {t} */
    CHAT_T_JOINED,        /* {n} joined {r} */
    CHAT_T_LEFT,          /* {n} left {r} */
    CHAT_T_RENAMED,       /* {o} is now {n} */
    CHAT_T_RELAYED_COUNT, /* not a text: the end of the relayed group */
    CHAT_T_HELP = CHAT_T_RELAYED_COUNT,
    CHAT_T_YOU_ARE,       /* {n} */
    CHAT_T_YOU_JOINED,    /* {r} */
    CHAT_T_YOU_ARE_IN,    /* {r} */
    CHAT_T_DIRECT_SENT,   /* {o}: the names; {t} */
    CHAT_T_NAME_INVALID,
    CHAT_T_ROOM_INVALID,
    CHAT_T_NAME_TAKEN,    /* {o} */
    CHAT_T_ROOMS,         /* {o}: the list */
    CHAT_T_USERS,         /* {o}: the list */
    CHAT_T_NO_SUCH_USER,  /* {o} */
    CHAT_T_USAGE_NAME,
    CHAT_T_USAGE_NICK,
    CHAT_T_USAGE_JOIN,
    CHAT_T_USAGE_MSG,
    CHAT_T_USAGE_ME,
    CHAT_T_UNKNOWN_COMMAND, /* {o}: the word as typed */
    CHAT_T_BYE,
    CHAT_T_IDLE,
    CHAT_T_FULL,
    CHAT_T_SHUTDOWN,
    CHAT_T_DROPPED,       /* {o}: how many */
    CHAT_T_TOO_LONG,
    CHAT_T_BAD_UTF8,
    CHAT_T_TOO_FAST,
    CHAT_T_FILTER_LATE,   /* a waiting filter did not answer in time */
    CHAT_T_CLUSTER_DOWN,  /* cluster mode: the link to the bus is lost */
    CHAT_T_CLUSTER_UP,    /* ... and back */
    CHAT_T_NAME_LOST,     /* {o} the name lost to another node, {n} the new */
    CHAT_T_COUNT
} chat_text;

/* The pieces a text is filled with; a NULL piece is empty. */
typedef struct chat_targs {
    const char *n; /* a user name */
    const char *r; /* a room name */
    const char *o; /* another piece (see chat_text) */
    const char *t; /* relayed text, t_len bytes (not NUL-terminated) */
    size_t t_len;
} chat_targs;

typedef struct chat_dialect_def {
    const char *name;      /* as in chatd's ?dialect= */
    uint8_t login;         /* the first line is the name by default */
    uint8_t echo;          /* senders get their own chat and /me lines */
    uint8_t greet_help;    /* the greeting starts with the help text */
    uint8_t addressed;     /* "name1, name2: text" is a direct message and
                              other lines but commands are ignored */
    const char *text[CHAT_T_COUNT]; /* NULL: chat's text; CHAT_HIDDEN: none */
} chat_dialect_def;

extern const chat_dialect_def *const chat_dialects[CHAT_DIALECT_COUNT];

static inline const chat_dialect_def *chat_dialect_of(chat_dialect d)
{
    return chat_dialects[d];
}

/* Non-zero if peers of dialect d are sent text id at all. */
int chat_text_shown(chat_dialect d, chat_text id);

/* Text id rendered for dialect d with args, "\n" appended (refs 1). NULL
 * if d does not show it (check chat_text_shown) or out of memory. */
chat_msg *chat_text_render(const chat_allocator *a, chat_dialect d,
                           chat_text id, const chat_targs *args);

/* The same, framed for format fmt (framing.h). */
chat_msg *chat_text_render_for(const chat_allocator *a, unsigned fmt,
                               chat_text id, const chat_targs *args);

#endif
