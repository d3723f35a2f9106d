/*
 * Waiting: a peer's message that waits for an answer the broker cannot
 * give at once (a filter that returned CHAT_FILTER_PENDING; later, a name
 * claim in a cluster), and the peer's lines held behind it so that one
 * sender's order holds. Plain state: a token the embedder answers with, a
 * deadline visible in chat_broker_next_deadline, and a bounded queue. No
 * callbacks into I/O, no threads. Other peers never wait for it.
 */
#ifndef CHAT_WAIT_H
#define CHAT_WAIT_H

#include <libchat/broker.h>

#include "list.h"
#include "message.h"

typedef struct chat_wait {
    char key[CHAT_NAME_MAX + 1]; /* the token in hex: the waits map key */
    uint64_t token;
    uint64_t due;             /* when the answer is late */
    chat_link link;           /* broker's wait_list while pending */
    struct chat_peer *peer;
    uint8_t pending;          /* a message waits for its answer */
    uint8_t eof;              /* the input ended behind it: close the peer
                                 once the message and held lines are done */
    uint8_t kind;             /* chat_msg_kind of the waiting message */
    uint8_t claim;            /* non-zero: what waits is a name claim
                                 (enum chat_claim_for), not a message */
    uint8_t claim_plain;      /* the claimed name is a generator pair */
    char claim_key[CHAT_NAME_MAX + 1];  /* folded: the claims map key */
    char claim_name[CHAT_NAME_MAX + 1]; /* as it will be shown */
    uint32_t next_filter;     /* the filter chain goes on from here */
    uint16_t names_len, text_len;
    char names[CHAT_MAX_LINE + 1]; /* DIRECT: the recipients as typed */
    char text[CHAT_MAX_LINE];      /* the text as the filters left it */
    chat_msg **held;          /* raw input lines held behind it, FIFO */
    uint32_t held_head, held_count, held_cap;
} chat_wait;

/*
 * p's message (kind; names for DIRECT; text after filters before
 * next_filter) waits under token. Returns 0, or -1 without memory (the
 * message is then lost and p closed as out of memory).
 */
int chat_wait_start(struct chat_broker *b, struct chat_peer *p, uint64_t token,
                    chat_msg_kind kind, uint32_t next_filter, const char *names,
                    size_t names_len, const char *text, size_t text_len);

/* Hold one raw input line behind p's pending message. Returns 0, or -1 if
 * the backlog is full or memory ran out (the line is dropped). */
int chat_wait_hold(struct chat_broker *b, struct chat_peer *p, const char *line,
                   size_t len);

/* p's input ended while it waits: close p once everything has run. */
void chat_wait_hold_eof(struct chat_peer *p);

/* Drop what p waits for and holds (p is closing). */
void chat_wait_discard(struct chat_broker *b, struct chat_peer *p);

/* Why a peer claims a name (cluster mode). */
enum chat_claim_for {
    CHAT_CLAIM_LOGIN = 1, /* its login line */
    CHAT_CLAIM_RENAME,    /* /name */
    CHAT_CLAIM_RANDOM,    /* a generated name at joining */
    CHAT_CLAIM_JOIN,      /* not a name: a join waiting for the room's
                             history (claim_name, claim_key: the room) */
};

/* token in hex (16 digits and a NUL): the key of maps by token. */
void chat_token_key(char out[17], uint64_t token);

struct chat_room;
/* p's join of r waits for r's history (fetch.c). Returns 0, or -1
 * without memory. */
int chat_join_wait(struct chat_broker *b, struct chat_peer *p,
                   const struct chat_room *r);
/* Every join waiting for the room of folded name room_key goes ahead. */
void chat_fetch_finish_joins(struct chat_broker *b, const char *room_key);
/* The link (re)connected: ask again for every name claim that waits. */
void chat_claims_resend(struct chat_broker *b);
/* The link went down: decide every claim and join that waits for it. */
void chat_waits_decide_all(struct chat_broker *b);

/* p claims name (valid, free as far as this node knows) for why: a CLAIM
 * event, and p waits. Returns 0, or -1 without memory (p is closed). */
int chat_claim_start(struct chat_broker *b, struct chat_peer *p,
                     enum chat_claim_for why, const char *name, size_t len,
                     int plain);

/* Non-zero if a local claim for the folded key is waiting. */
int chat_claim_pending(struct chat_broker *b, const char *key);

/* Answers later than their deadline: drop each message, tell its sender,
 * run what it held. */
void chat_waits_expire(struct chat_broker *b, uint64_t now_ms);

/* The earliest deadline of a pending message, or CHAT_NO_DEADLINE. */
uint64_t chat_waits_deadline(const struct chat_broker *b);

#endif
