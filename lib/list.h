/*
 * Intrusive circular doubly-linked lists. A node that is not on a list
 * points at itself, so membership is one comparison and removal is O(1)
 * and idempotent: peers sit on several lists at once (room members, idle
 * order, ready queue, write-timeout order) without any allocation.
 */
#ifndef CHAT_LIST_H
#define CHAT_LIST_H

#include <stddef.h>

typedef struct chat_link {
    struct chat_link *prev, *next;
} chat_link;

#define CHAT_CONTAINER(ptr, type, member)                                     \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void chat_list_init(chat_link *n) { n->prev = n->next = n; }

static inline int chat_list_empty(const chat_link *head)
{
    return head->next == head;
}

static inline int chat_link_linked(const chat_link *n) { return n->next != n; }

static inline void chat_list_remove(chat_link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

static inline void chat_list_push_back(chat_link *head, chat_link *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

/* Unlink n from wherever it is and append it to head. */
static inline void chat_list_move_back(chat_link *head, chat_link *n)
{
    chat_list_remove(n);
    chat_list_push_back(head, n);
}

static inline chat_link *chat_list_first(const chat_link *head)
{
    return chat_list_empty(head) ? NULL : head->next;
}

#endif
