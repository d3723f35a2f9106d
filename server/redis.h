/*
 * chatd - the Redis link of cluster mode (--redis; doc/cluster.md).
 *
 * The broker emits cluster events (publish, subscribe, claim, ...) and
 * takes inputs (remote messages, claim answers, history, node gone, link
 * up/down). This module is the other side: two hiredis 0.14 async
 * connections on chatd's own libevent loop, one for commands and scripts,
 * one subscribed, no threads. It never holds a queue of its own: events
 * stay in the broker's bounded queue until hiredis's output buffer and
 * the replies awaited are below their bounds.
 */
#ifndef CHATD_REDIS_H
#define CHATD_REDIS_H

#include <stddef.h>
#include <stdint.h>

struct chatd_server;
struct chatd_redis;

#define CHATD_REDIS_DEFAULT_PORT 6379
#define CHATD_REDIS_DEFAULT_LEASE_MS 10000
#define CHATD_REDIS_MIN_LEASE_MS 300
#define CHATD_REDIS_MAX_LEASE_MS 3600000
#define CHATD_REDIS_DEFAULT_PREFIX "chat:"
#define CHATD_NODE_ID_MAX 32

/* Everything the link needs, by value (no pointers to keep alive). */
struct chatd_redis_config {
    char host[256];          /* unbracketed: "::1", "redis.local" */
    int port;
    int db;                  /* SELECT db when not 0 */
    char password[512];      /* AUTH password, "" for none */
    char node_id[CHATD_NODE_ID_MAX + 1];
    char prefix[64];         /* of every key and channel */
    uint64_t lease_ms;       /* a node's lease; heartbeat every lease/3 */
    uint64_t history;        /* lines kept per room (CHAT_OPT_HISTORY) */
};

/*
 * Parse redis://[:PASSWORD@]HOST[:PORT][/DB] into cfg's host, port, db
 * and password (the other fields are left alone). HOST may be an IPv6
 * address in brackets. Returns 0, or -1 with a reason in err (NUL-ended,
 * at most errsize bytes) and cfg's address fields unspecified.
 */
int chatd_redis_parse_url(const char *url, struct chatd_redis_config *cfg,
                          char *err, size_t errsize);

/* 1 if id is a valid node id: 1-32 of [A-Za-z0-9_-]. */
int chatd_redis_node_id_valid(const char *id);

/* A random node id of 12 hex digits (from getrandom) into out. 0 or -1. */
int chatd_redis_random_id(char out[CHATD_NODE_ID_MAX + 1]);

/*
 * Read the password from the first line of path into cfg->password.
 * Returns 0, or -1 with a reason in err.
 */
int chatd_redis_read_password(const char *path, struct chatd_redis_config *cfg,
                              char *err, size_t errsize);

/*
 * Link srv's broker to Redis: sets the broker's node id (before any join)
 * and starts connecting in the background (a Redis that is unreachable
 * does not stop chatd: it retries with backoff). cfg is copied. On
 * success *out is the caller's, to free with chatd_redis_free(); srv must
 * outlive it. Returns 0, or -1 (logged): bad node id, no memory.
 */
int chatd_redis_new(struct chatd_redis **out, struct chatd_server *srv,
                    const struct chatd_redis_config *cfg);

/*
 * Move the broker's cluster events to Redis while the link is up and
 * below its bounds; past them a short timer tries again. Called from the
 * flush pass.
 */
void chatd_redis_pump(struct chatd_redis *r);

/*
 * Shutdown, once the broker's last events are queued: send what fits,
 * give up this node's names and lease, then close the link. Returns 1 if
 * that is under way: chatd_server_redis_left(srv) is called when it is
 * over (at most about a second later). Returns 0 when there is nothing to
 * wait for (the link is down), and nothing will be called.
 */
int chatd_redis_leave(struct chatd_redis *r);

/* Close both connections at once (pending replies are dropped) and free
 * r. NULL is accepted. Call before the broker and the event base go. */
void chatd_redis_free(struct chatd_redis *r);

#endif /* CHATD_REDIS_H */
