/*
 * counter - an example libchat filter that counts relayed messages.
 *
 * It never changes or drops a message; it counts chat and /me lines per
 * room and direct messages overall. Register it last to count what the
 * other filters let through (a dropped message reaches no later filter).
 *
 *     counter *n;
 *     if (counter_new(&n) == 0)
 *         chat_broker_add_filter(b, counter_filter, n);
 *     ...
 *     counter_print(n, stdout);
 */
#ifndef EXAMPLE_COUNTER_H
#define EXAMPLE_COUNTER_H

#include <stdint.h>
#include <stdio.h>

#include <libchat/chat.h>

typedef struct counter counter;

/* A counter with all counts at zero. Returns 0 or CHAT_ERR_NOMEM. */
int counter_new(counter **out);

/* Free a counter. It must no longer be registered with a broker. NULL is ok. */
void counter_free(counter *n);

/* The chat_filter_fn; ctx is a counter. Always CHAT_FILTER_ALLOW. */
chat_filter_verdict counter_filter(void *ctx, const chat_filter_msg *msg,
                                   char *buf, size_t *len);

/*
 * Messages of this kind seen so far: in room (case-insensitive) for
 * CHAT_KIND_CHAT and CHAT_KIND_ME, in all rooms if room is NULL; room is
 * ignored for CHAT_KIND_DIRECT.
 */
uint64_t counter_get(const counter *n, chat_msg_kind kind, const char *room);

/*
 * Messages that could not be counted per room because memory ran out
 * (they are still in the totals).
 */
uint64_t counter_unfiled(const counter *n);

/* Print one line per room ("room main: 3 chat, 1 me", in first-seen order)
 * and one for direct messages. */
void counter_print(const counter *n, FILE *out);

#endif /* EXAMPLE_COUNTER_H */
