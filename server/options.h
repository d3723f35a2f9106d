/*
 * chatd - command-line flags.
 *
 * Parsing only checks the shape of each value (a number, in range); the
 * broker is the judge of chat rules such as what a valid room name is.
 */
#ifndef CHATD_OPTIONS_H
#define CHATD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "listener.h"
#include "redis_url.h"

/* A numeric option the user did not give: keep the broker's default. */
#define CHATD_UNSET (-1)

struct chatd_options {
    const char *bind;     /* address to listen on, "[::1]" unbracketed;
                             default "127.0.0.1" */
    const char *port;     /* validated decimal 0..65535; default "4242" */
    int bind_given;       /* -b or -p was given */
    /* What to listen on: -b/-p's listener unless --listen alone replaces
     * it, then each --listen in order. Not resolved yet. */
    struct chatd_listen_spec listeners[CHATD_MAX_LISTENERS];
    size_t nlisteners;
    const char *room;     /* default room, or NULL for the broker's */
    int login;            /* --login */
    int verbose;          /* count of -v */
    /* Values for chat_broker_set_option, or CHATD_UNSET. */
    int64_t history;
    int64_t rate;
    int64_t burst;
    int64_t idle_ms;
    int64_t login_ms;
    int64_t high_water;
    int64_t write_ms;
    int64_t max_clients;
    int64_t grace_ms;     /* --shutdown-grace; default 5000 */
    /* --filter-exec (doc/filter.md) */
    const char *filter_cmd;    /* NULL: no filter program */
    int filter_allow;          /* --filter-fallback allow (default drop) */
    int64_t filter_timeout_ms; /* --filter-timeout; default 2000 */
    /* http:// listeners */
    int64_t http_timeout_ms;   /* --http-timeout; default 5000 */
    int64_t http_head_max;     /* --http-head-max; default 8192 */
    const char *ws_origin;     /* --ws-origin; NULL: any origin */
    /* tls:// and https:// listeners */
    const char *tls_cert;      /* --tls-cert FILE (PEM, full chain) */
    const char *tls_key;       /* --tls-key FILE */
    int64_t tls_timeout_ms;    /* --tls-handshake-timeout; default 5000 */
    int64_t tls_handshakes;    /* --tls-handshakes; default 256 */
    /* cluster mode (doc/cluster.md) */
    const char *redis_url;     /* --redis URL; NULL: no cluster mode */
    const char *redis_password_file; /* --redis-password-file FILE */
    const char *node_id;       /* --node-id; NULL: random at start */
    const char *redis_only;    /* the first flag given that only --redis
                                  uses ("node-id"), for the error without
                                  it; NULL: none */
    /* rediss:// (TLS to Redis; redis_tls.h) */
    const char *redis_cafile;  /* --redis-cafile FILE; NULL: system CAs */
    const char *redis_cert;    /* --redis-cert FILE: a client certificate */
    const char *redis_key;     /* --redis-key FILE */
    int redis_insecure;        /* --redis-insecure: verify nothing */
    const char *rediss_only;   /* the first of those flags given, for the
                                  error with a redis:// URL; NULL: none */
    /* --redis's address, --redis-lease and --redis-prefix, checked;
     * main.c adds the password file, node id and history. */
    struct chatd_redis_config redis;
};

/* What chatd_parse_options() decided. */
enum chatd_parse_result {
    CHATD_PARSE_RUN,   /* options are in *opt: start the server */
    CHATD_PARSE_EXIT,  /* --help or --version was printed: exit 0 */
    CHATD_PARSE_ERROR, /* a message went to stderr: exit 2 */
};

/* Fill *opt from argv. Strings in *opt point into argv. */
enum chatd_parse_result chatd_parse_options(int argc, char **argv,
                                            struct chatd_options *opt);

#endif /* CHATD_OPTIONS_H */
