/*
 * The replica of remote users (doc/cluster.md, "Presence is replicated"):
 * who is in which room on which other node, kept from the presence
 * messages, so /users, /rooms, name checks and direct messages across
 * nodes are answered locally, at once. A room exists while it has members
 * here or anywhere (chat_room.count + remote_count).
 */
#ifndef CHAT_REMOTE_H
#define CHAT_REMOTE_H

#include "list.h"
#include "wire.h"

struct chat_broker;
struct chat_room;

typedef struct chat_remote {
    char key[CHAT_NAME_MAX + 1];  /* folded name: the map key */
    char name[CHAT_NAME_MAX + 1];
    char node[CHAT_NODE_MAX + 1];
    struct chat_room *room;
    chat_link room_link;          /* the room's remote members */
} chat_remote;

/* The remote user called name (any case), or NULL. */
chat_remote *chat_remote_find(struct chat_broker *b, const char *name,
                              size_t len);

/* name is in room on node now (new, moved, or already so). Returns the
 * user, or NULL without memory. */
chat_remote *chat_remote_set(struct chat_broker *b, const char *name,
                             const char *room, const char *node);

/* Forget u; its room goes if nobody is left in it anywhere. */
void chat_remote_drop(struct chat_broker *b, chat_remote *u);

/* u is called name now (same room, same node). Returns 0, or -1 without
 * memory (u is then dropped). */
int chat_remote_rename(struct chat_broker *b, chat_remote *u, const char *name);

/* The replica forgets every remote user, quietly (the link is down). */
void chat_remote_drop_all(struct chat_broker *b);

/* Every remote user of node (NULL: of every node), one by one: drop each
 * after announcing it (fn, or NULL for none), e.g. when the node is gone. */
void chat_remote_drop_node(struct chat_broker *b, const char *node,
                           void (*fn)(struct chat_broker *b, chat_remote *u));

void chat_remote_free_all(struct chat_broker *b);

#endif
