/*
 * chatd - the Redis link's configuration (--redis and the flags that go
 * with it; doc/cluster.md): the redis:// URL parsed, the node id checked
 * or made, the password file read.
 *
 * No network and no event loop (no hiredis, no libevent): the URL parser
 * is pure, so the unit tests (tests/server/test_redis_url.c) call it
 * alone. Reading the password file and drawing a random node id are the
 * only system calls here.
 */
#ifndef CHATD_REDIS_URL_H
#define CHATD_REDIS_URL_H

#include <stddef.h>
#include <stdint.h>

#define CHATD_REDIS_DEFAULT_PORT 6379
#define CHATD_REDIS_DEFAULT_LEASE_MS 10000
#define CHATD_REDIS_MIN_LEASE_MS 300
#define CHATD_REDIS_MAX_LEASE_MS 3600000
#define CHATD_REDIS_DEFAULT_PREFIX "chat:"
#define CHATD_NODE_ID_MAX 32
#define CHATD_REDIS_URL_MAX 1024   /* bytes of a --redis URL, at most */
#define CHATD_REDIS_DB_MAX 2147483647L

/* Everything the link needs, by value (no pointers to keep alive). */
struct chatd_redis_config {
    char host[256];          /* unbracketed: "::1", "redis.local" */
    char addr[64];           /* host resolved, numeric ("127.0.0.1",
                                "::1"): what the link connects to, set
                                once at start by chatd_redis_resolve() */
    int port;
    int db;                  /* SELECT db when not 0 */
    int tls;                 /* rediss://: through the TLS relay
                                (redis_tls.h) */
    char password[512];      /* AUTH password, "" for none */
    char node_id[CHATD_NODE_ID_MAX + 1];
    char prefix[64];         /* of every key and channel */
    uint64_t lease_ms;       /* a node's lease; heartbeat every lease/3 */
    uint64_t history;        /* lines kept per room (CHAT_OPT_HISTORY) */
};

/*
 * Parse redis://[:PASSWORD@]HOST[:PORT][/DB] or the same with rediss://
 * (TLS) into cfg's host, port, db, password and tls (the other fields are
 * left alone). HOST is a name, an IPv4 address, or an IPv6 address in
 * brackets; PORT 1-65535 (default 6379, for rediss:// too, as Redis's own
 * tls-port has no default of its own); DB 0 to 2147483647 (default 0).
 * The password is taken as it is (no %-decoding). Refused, with a reason:
 * a user name (Redis 6 ACL users are not supported: the password is the
 * default user's), anything after [/DB], and URLs over
 * CHATD_REDIS_URL_MAX bytes. Returns 0, or -1 with a reason in err
 * (NUL-ended, at most errsize bytes; 256 hold any) and cfg's address
 * fields unspecified.
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

#endif /* CHATD_REDIS_URL_H */
