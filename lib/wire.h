/*
 * The message format between chatd nodes (doc/cluster.md): one message
 * per Redis publish, versioned, text, one field per line:
 *
 *     c1 {node} {seq} {kind}\n{name}\n{room}\n{other}\n{text}
 *
 * Decoding validates everything as if a user had typed it (Redis is a
 * trust boundary): a message either decodes whole and valid, or not at
 * all.
 */
#ifndef CHAT_WIRE_H
#define CHAT_WIRE_H

#include <libchat/common.h>

#include "message.h"

#define CHAT_NODE_MAX 32 /* characters of a node id */
#define CHAT_WIRE_MAX 640 /* bytes of an encoded message, at most */
#define CHAT_BATCH_MAX 16384 /* bytes of a batch of messages, at most */
#define CHAT_SEEN_MAX 4096 /* node ids whose numbering is remembered */

typedef enum chat_wire_kind {
    CHAT_WIRE_CHAT,      /* name, room, text */
    CHAT_WIRE_ME,        /* name, room, text */
    CHAT_WIRE_DIRECT,    /* name (sender), other (recipient), text */
    CHAT_WIRE_JOINED,    /* name, room */
    CHAT_WIRE_LEFT,      /* name, room */
    CHAT_WIRE_RENAMED,   /* name (new), other (old), room */
    CHAT_WIRE_HERE,      /* name, room: presence of a user on node */
    CHAT_WIRE_GONE,      /* name: a user of node left the cluster */
    CHAT_WIRE_NODE_GONE, /* other (a node id): that node and all its users
                            are gone */
    CHAT_WIRE_SYNC,      /* no fields: node asks every node to say who is
                            where (HERE, on node's own channel) */
    CHAT_WIRE_KINDS
} chat_wire_kind;

typedef struct chat_wire {
    char node[CHAT_NODE_MAX + 1];
    uint64_t seq;
    chat_wire_kind kind;
    char name[CHAT_NAME_MAX + 1];
    char room[CHAT_NAME_MAX + 1];
    char other[CHAT_NODE_MAX + 1]; /* a name, or NODE_GONE's node id */
    const char *text; /* into the decoded message, or the caller's */
    size_t text_len;
} chat_wire;

/* Non-zero if s is a valid node id (1-32 of [A-Za-z0-9_-]). */
int chat_node_id_valid(const char *s, size_t n);

/* Decode msg[0..len) into *w (text points into msg). Returns 0, or -1 if
 * it is not a valid message of a version this library knows. */
int chat_wire_decode(const char *msg, size_t len, chat_wire *w);

/* Encode *w (which must be valid: chat_wire_valid) into a new message
 * (refs 1), or NULL without memory. */
chat_msg *chat_wire_encode(const chat_allocator *a, const chat_wire *w);

/* Non-zero if *w's fields are what its kind requires, each valid. */
int chat_wire_valid(const chat_wire *w);

#endif
