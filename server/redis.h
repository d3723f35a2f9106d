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

#include "redis_url.h"

struct chatd_server;
struct chatd_redis;
struct chatd_rtls;

/*
 * Resolve cfg->host into cfg->addr, numeric, before the loop runs: hiredis
 * resolves the name it is given with a blocking getaddrinfo() at every
 * connect, so the link connects by address and a reconnect never waits on
 * DNS. An IPv4 address is taken over an IPv6 one, as hiredis does.
 * Returns 0, or -1 with a reason in err (NUL-ended, at most errsize).
 */
int chatd_redis_resolve(struct chatd_redis_config *cfg, char *err,
                        size_t errsize);

/*
 * Link srv's broker to Redis: sets the broker's node id (before any join)
 * and starts connecting to cfg->addr (chatd_redis_resolve() first) in the
 * background (a Redis that is unreachable does not stop chatd: it retries
 * with backoff). cfg is copied. rtls (rediss://, made with
 * chatd_rtls_new; NULL for redis://) is taken over, also on failure:
 * hiredis then connects to the relay's unix socket, the relay to Redis.
 * On success *out is the caller's, to free with chatd_redis_free(); srv
 * must outlive it. Returns 0, or -1 (logged): bad node id, no memory.
 */
int chatd_redis_new(struct chatd_redis **out, struct chatd_server *srv,
                    const struct chatd_redis_config *cfg,
                    struct chatd_rtls *rtls);

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
