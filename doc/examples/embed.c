/*
 * embed - libchat inside a program, with no network at all.
 *
 * Two scripted users, alice and bob, chat through a broker in login mode
 * (the first line each sends is their name). A censor filter masks two
 * words and a counter filter counts what is relayed. What a user sends is
 * shown as alice> "..." (a C string), every line the broker gives back as
 * alice< ... The clock is fake: each step is one second later.
 *
 * Build: cc embed.c censor.c counter.c $(pkg-config --cflags --libs libchat)
 */
#include <stdio.h>
#include <string.h>

#include <libchat/chat.h>

#include "censor.h"
#include "counter.h"

enum { ALICE, BOB, NUSERS };

typedef struct user {
    const char *label;
    chat_peer *peer;  /* NULL once released */
    int ready;        /* returned by chat_broker_next_ready this pass */
    int at_line_start;
} user;

/* One step of the script: bytes a user sends, or NULL for end of input. */
typedef struct step {
    int who;
    const char *bytes;
} step;

static const step script[] = {
    {ALICE, "alice\n"},
    {BOB, "bob\r\n"},
    {ALICE, "hello bob\n"},
    {BOB, "hi ali"}, /* a line may arrive in pieces */
    {BOB, "ce! what the HECK is libchat?\n"},
    {ALICE, "/me waves"},
    {ALICE, "\n"},
    {ALICE, "a chat server in a library, darn it Darnell\n"}, /* whole words only */
    {BOB, "/msg alice heck, nice\n"},
    {BOB, "/join kitchen\n"},
    {ALICE, "/rooms\n"},
    {BOB, "/users\n"},
    {ALICE, "/quit\n"},
    {BOB, "anyone here?\n"},
    {BOB, NULL},
};

/* Show what a user sends as a quoted C string: "bob\r\n". */
static void print_input(const user *u, const char *s)
{
    printf("%s> \"", u->label);
    for (; *s; s++) {
        if (*s == '\n')
            fputs("\\n", stdout);
        else if (*s == '\r')
            fputs("\\r", stdout);
        else if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
            printf("\\x%02x", (unsigned)(unsigned char)*s);
        else
            putchar(*s);
    }
    puts("\"");
}

/* Print n bytes of output, starting each line with "label< ". */
static void print_output(user *u, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (u->at_line_start)
            printf("%s< ", u->label);
        putchar(s[i]);
        u->at_line_start = s[i] == '\n';
    }
}

/* Write all of u's pending output (to stdout, which never blocks here),
 * then release the peer if it is closing. */
static void flush_user(chat_broker *b, user *u, uint64_t now)
{
    size_t pending;
    while ((pending = chat_peer_pending(u->peer)) > 0) {
        chat_iov iov[8];
        size_t k = chat_peer_peek(u->peer, iov, 8), done = 0;
        for (size_t i = 0; i < k; i++) {
            print_output(u, iov[i].base, iov[i].len);
            done += iov[i].len;
        }
        chat_peer_consume(b, u->peer, done, now);
    }
    chat_close_reason why = chat_peer_close_reason(u->peer);
    if (why != CHAT_CLOSE_NONE) {
        printf("%s: closed (%s)\n", u->label, chat_close_reason_str(why));
        chat_peer_release(b, u->peer, now);
        u->peer = NULL;
    }
}

/* One loop pass. The peers are collected first and written in a fixed
 * order so the transcript does not depend on the broker's ready order. */
static void drain(chat_broker *b, user *users, uint64_t now)
{
    chat_peer *p;
    while ((p = chat_broker_next_ready(b)) != NULL)
        ((user *)chat_peer_user(p))->ready = 1;
    for (int i = 0; i < NUSERS; i++) {
        if (users[i].ready && users[i].peer)
            flush_user(b, &users[i], now);
        users[i].ready = 0;
    }
}

static void play(chat_broker *b, user *users)
{
    uint64_t now = 0;
    drain(b, users, now); /* whatever joining queued */
    for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
        user *u = &users[script[i].who];
        now += 1000;
        if (!u->peer)
            continue;
        if (script[i].bytes) {
            print_input(u, script[i].bytes);
            chat_peer_feed(b, u->peer, script[i].bytes,
                           strlen(script[i].bytes), now);
        } else {
            printf("%s> (end of input)\n", u->label);
            chat_peer_eof(b, u->peer, now);
        }
        drain(b, users, now);
    }
}

static int setup(chat_broker *b, censor *c, counter *n, user *users)
{
    int err = chat_broker_set_option(b, CHAT_OPT_LOGIN_MODE, 1);
    if (!err)
        err = chat_broker_add_filter(b, censor_filter, c);
    if (!err) /* last, so it counts the censored text that is relayed */
        err = chat_broker_add_filter(b, counter_filter, n);
    for (int i = 0; i < NUSERS && !err; i++)
        err = chat_broker_join(b, &users[i], 0, &users[i].peer);
    return err;
}

int main(void)
{
    static const char *const words[] = {"darn", "heck"};
    user users[NUSERS] = {
        {.label = "alice", .at_line_start = 1},
        {.label = "bob", .at_line_start = 1},
    };
    chat_broker *b = NULL;
    censor *c = NULL;
    counter *n = NULL;

    int err = chat_broker_new(&b, NULL);
    if (!err)
        err = censor_new(&c, words, 2);
    if (!err)
        err = counter_new(&n);
    if (!err)
        err = setup(b, c, n, users);
    if (!err) {
        play(b, users);
        counter_print(n, stdout);
    } else {
        fprintf(stderr, "embed: %s\n", chat_strerror(err));
    }
    /* The broker first: the filters' contexts must outlive it. */
    chat_broker_free(b);
    censor_free(c);
    counter_free(n);
    return err ? 1 : 0;
}
