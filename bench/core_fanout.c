/*
 * Core fan-out benchmark: the broker alone, no sockets. N peers share one
 * room, one sends M chat lines of S bytes, and after each line every
 * peer's output is drained as a front-end would (next_ready, peek,
 * consume). Prints ns per delivery; run under
 * `valgrind --tool=callgrind` for instructions per delivery, which are
 * stable on a noisy machine (the figure to compare between commits).
 *
 *   core_fanout [--peers N] [--messages M] [--size S] [--batch B]
 *               [--telex K]
 *
 * --batch B sends B lines between drains, like a loop pass that read
 * several lines before flushing. --telex K makes every K-th peer a telex
 * user (a room of two dialects: each line is rendered twice, and the
 * walk looks up each member's rendering); 0, the default, is a room of
 * one dialect.
 */
#define _POSIX_C_SOURCE 200809L

#include <libchat/chat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long arg(int argc, char **argv, const char *name, long def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return strtol(argv[i + 1], NULL, 10);
    return def;
}

/* Drain everything, as a front-end's flush pass would. */
static size_t drain(chat_broker *b)
{
    size_t bytes = 0;
    chat_peer *p;
    while ((p = chat_broker_next_ready(b))) {
        chat_iov iov[64];
        size_t k = chat_peer_peek(p, iov, 64), n = 0;
        for (size_t i = 0; i < k; i++)
            n += iov[i].len;
        chat_peer_consume(b, p, n, 0);
        bytes += n;
    }
    return bytes;
}

int main(int argc, char **argv)
{
    long peers = arg(argc, argv, "--peers", 1000);
    long messages = arg(argc, argv, "--messages", 2000);
    long size = arg(argc, argv, "--size", 64);
    long batch = arg(argc, argv, "--batch", 1);
    long telex = arg(argc, argv, "--telex", 0);
    if (peers < 1 || messages < 1 || size < 1 || size > 390 || batch < 1 ||
        telex < 0) {
        fprintf(stderr, "usage: core_fanout [--peers N] [--messages M] "
                        "[--size 1..390] [--batch B] [--telex K]\n");
        return 2;
    }
    chat_broker *b;
    if (chat_broker_new(&b, NULL) != CHAT_OK)
        return 1;
    chat_broker_set_option(b, CHAT_OPT_RATE, 0);
    chat_broker_set_option(b, CHAT_OPT_HISTORY, 20);
    chat_peer **v = calloc((size_t)peers, sizeof(*v));
    if (!v)
        return 1;
    for (long i = 0; i < peers; i++) {
        chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
        int mixed = telex && i % telex == telex - 1;
        o.dialect = mixed ? CHAT_DIALECT_TELEX : CHAT_DIALECT_CHAT;
        o.login = 0; /* a random name, as chat users get */
        if (chat_broker_join_opts(b, NULL, &o, 0, &v[i]) != CHAT_OK)
            return 1;
    }
    drain(b); /* the join storm is not what is measured */

    char *line = malloc((size_t)size + 1);
    if (!line)
        return 1;
    memset(line, 'x', (size_t)size);
    line[size - 1] = '\n';

    chat_stats before, after;
    chat_broker_stats(b, &before, sizeof(before));
    double t0 = now_ns();
    size_t bytes = 0;
    for (long m = 0; m < messages; m++) {
        chat_peer_feed(b, v[0], line, (size_t)size, 0);
        if ((m + 1) % batch == 0)
            bytes += drain(b);
    }
    bytes += drain(b);
    double t1 = now_ns();
    chat_broker_stats(b, &after, sizeof(after));

    double deliveries = (double)(after.deliveries - before.deliveries);
    printf("peers=%ld messages=%ld size=%ld batch=%ld telex=%ld "
           "deliveries=%.0f bytes=%zu ns_per_delivery=%.1f\n",
           peers, messages, size, batch, telex, deliveries, bytes,
           (t1 - t0) / deliveries);
    for (long i = 0; i < peers; i++)
        chat_peer_release(b, v[i], 0);
    free(v);
    free(line);
    chat_broker_free(b);
    return 0;
}
