/* chatd - command-line flags. See options.h. */
#define _GNU_SOURCE /* getopt_long */

#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <libchat/chat.h>

#include "netaddr.h"
#include "optflag.h"

#ifndef CHATD_VERSION
#define CHATD_VERSION "unknown"
#endif

/* Bounds that keep every value meaningful and far from overflow once it
 * is turned into milliseconds or multiplied by the broker. */
#define MAX_COUNT 2147483647LL       /* history, rate, burst, max-clients */
#define MAX_SECONDS 31536000LL       /* a year */
#define MAX_BYTES (1LL << 40)        /* high-water mark */

enum long_only {
    OPT_LOGIN = 256,
    OPT_LISTEN,
    OPT_ROOM,
    OPT_HISTORY,
    OPT_RATE,
    OPT_BURST,
    OPT_IDLE,
    OPT_LOGIN_TIMEOUT,
    OPT_MAX_CLIENTS,
    OPT_HIGH_WATER,
    OPT_WRITE_TIMEOUT,
    OPT_GRACE,
    OPT_FILTER_EXEC,
    OPT_FILTER_FALLBACK,
    OPT_FILTER_TIMEOUT,
    OPT_HTTP_TIMEOUT,
    OPT_HTTP_HEAD_MAX,
    OPT_WS_ORIGIN,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_TIMEOUT,
    OPT_TLS_HANDSHAKES,
    OPT_REDIS,
    OPT_REDIS_PASSWORD_FILE,
    OPT_NODE_ID,
    OPT_REDIS_LEASE,
    OPT_REDIS_PREFIX,
    OPT_REDIS_CAFILE,
    OPT_REDIS_CERT,
    OPT_REDIS_KEY,
    OPT_REDIS_INSECURE,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option long_options[] = {
    {"bind", required_argument, NULL, 'b'},
    {"port", required_argument, NULL, 'p'},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"login", no_argument, NULL, OPT_LOGIN},
    {"room", required_argument, NULL, OPT_ROOM},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"rate", required_argument, NULL, OPT_RATE},
    {"burst", required_argument, NULL, OPT_BURST},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"login-timeout", required_argument, NULL, OPT_LOGIN_TIMEOUT},
    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
    {"high-water", required_argument, NULL, OPT_HIGH_WATER},
    {"write-timeout", required_argument, NULL, OPT_WRITE_TIMEOUT},
    {"shutdown-grace", required_argument, NULL, OPT_GRACE},
    {"filter-exec", required_argument, NULL, OPT_FILTER_EXEC},
    {"filter-fallback", required_argument, NULL, OPT_FILTER_FALLBACK},
    {"filter-timeout", required_argument, NULL, OPT_FILTER_TIMEOUT},
    {"http-timeout", required_argument, NULL, OPT_HTTP_TIMEOUT},
    {"http-head-max", required_argument, NULL, OPT_HTTP_HEAD_MAX},
    {"ws-origin", required_argument, NULL, OPT_WS_ORIGIN},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-handshake-timeout", required_argument, NULL, OPT_TLS_TIMEOUT},
    {"tls-handshakes", required_argument, NULL, OPT_TLS_HANDSHAKES},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"redis-password-file", required_argument, NULL, OPT_REDIS_PASSWORD_FILE},
    {"node-id", required_argument, NULL, OPT_NODE_ID},
    {"redis-lease", required_argument, NULL, OPT_REDIS_LEASE},
    {"redis-prefix", required_argument, NULL, OPT_REDIS_PREFIX},
    {"redis-cafile", required_argument, NULL, OPT_REDIS_CAFILE},
    {"redis-cert", required_argument, NULL, OPT_REDIS_CERT},
    {"redis-key", required_argument, NULL, OPT_REDIS_KEY},
    {"redis-insecure", no_argument, NULL, OPT_REDIS_INSECURE},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char usage_text[] =
    "Usage: chatd [OPTION]...\n"
    "A line-based chat server: connect with nc, telnet or chat-cli.\n"
    "\n"
    "  -b, --bind ADDR           listen on ADDR (default 127.0.0.1; ::1 for IPv6)\n"
    "  -p, --port N              TCP port (default 4242; 0 picks a free one)\n"
    "      --listen URL          listen at tcp://HOST:PORT[?dialect=D], D one\n"
    "                            of chat, a-chat, telex, or http://HOST:PORT\n"
    "                            (the chat page, WebSocket at /ws, /metrics);\n"
    "                            repeatable. Replaces the default listener\n"
    "                            unless -b or -p is given\n"
    "      --login               the first line a client sends is its name\n"
    "      --room NAME           room new users join (default main)\n"
    "      --history N           chat lines kept per room (default 20; 0 off)\n"
    "      --rate R              lines a second per user (default 20; 0 off)\n"
    "      --burst B             rate-limit burst (default 40)\n"
    "      --idle-timeout S      disconnect after S seconds without input\n"
    "                            (default 300; 0 off)\n"
    "      --login-timeout S     --login: seconds to give a name (default 30)\n"
    "      --max-clients N       users at once (default: what the fd limit\n"
    "                            allows; 0 no cap)\n"
    "      --high-water BYTES    unsent output where a user turns slow\n"
    "                            (default 1M; K, M, G suffixes)\n"
    "      --write-timeout S     disconnect when output has not moved for S\n"
    "                            seconds (default 30; 0 off)\n"
    "      --shutdown-grace S    seconds to flush output on SIGINT/SIGTERM\n"
    "                            (default 5)\n"
    "      --filter-exec CMD     ask the program CMD (run by /bin/sh) about\n"
    "                            every message; see doc/filter.md\n"
    "      --filter-fallback F   allow or drop a message the program does not\n"
    "                            answer (default drop)\n"
    "      --filter-timeout S    seconds an answer may take (default 2)\n"
    "      --http-timeout S      http://: seconds for a request to arrive\n"
    "                            (default 5)\n"
    "      --http-head-max BYTES http://: largest request head (default 8K)\n"
    "      --ws-origin LIST      http://: origins allowed to open /ws, comma-\n"
    "                            separated (default: any)\n"
    "      --tls-cert FILE       tls://, https://: the certificate (PEM, full\n"
    "                            chain); SIGHUP reloads it and the key\n"
    "      --tls-key FILE        tls://, https://: its private key (PEM)\n"
    "      --tls-handshake-timeout S  seconds for a TLS handshake (default 5)\n"
    "      --tls-handshakes N    TLS handshakes in progress at most (default 256)\n"
    "      --redis URL           cluster mode: share the chat with other chatd\n"
    "                            nodes through redis://[:PASSWORD@]HOST[:PORT]\n"
    "                            [/DB], or rediss://... for TLS; see\n"
    "                            doc/cluster.md\n"
    "      --redis-password-file FILE  the Redis password, first line of FILE\n"
    "      --node-id ID          this node's id, 1-32 of A-Z a-z 0-9 _ -\n"
    "                            (default: random)\n"
    "      --redis-lease MS      a node's lease in ms: a dead node's users\n"
    "                            leave within it (default 10000, min 300)\n"
    "      --redis-prefix P      of every Redis key and channel (default chat:)\n"
    "      --redis-cafile FILE   rediss://: trust these CAs (PEM), not the\n"
    "                            system's\n"
    "      --redis-cert FILE     rediss://: a client certificate (PEM chain)\n"
    "      --redis-key FILE      rediss://: its private key (PEM)\n"
    "      --redis-insecure      rediss://: verify nothing (tests only)\n"
    "  -v, --verbose             log connections (repeat for more)\n"
    "  -h, --help                show this help and exit\n"
    "  -V, --version             show the version and exit\n"
    "\n"
    "Seconds may have up to three decimals (0.5). See chatd(1).\n";

static void set_defaults(struct chatd_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->bind = "127.0.0.1";
    opt->port = "4242";
    opt->history = opt->rate = opt->burst = CHATD_UNSET;
    opt->idle_ms = opt->login_ms = opt->high_water = CHATD_UNSET;
    opt->write_ms = opt->max_clients = CHATD_UNSET;
    opt->grace_ms = 5000;
    opt->filter_timeout_ms = 2000;
    opt->http_timeout_ms = 5000;
    opt->http_head_max = 8192;
    opt->tls_timeout_ms = 5000;
    opt->tls_handshakes = 256;
    opt->redis.lease_ms = CHATD_REDIS_DEFAULT_LEASE_MS;
    snprintf(opt->redis.prefix, sizeof opt->redis.prefix, "%s",
             CHATD_REDIS_DEFAULT_PREFIX);
}

/* Append the digits of s to *acc; returns the count, or -1 past max. */
static int take_digits(const char **s, int64_t max, int64_t *acc)
{
    int n = 0;

    for (; **s >= '0' && **s <= '9'; (*s)++, n++) {
        int d = **s - '0';
        if (*acc > (max - d) / 10)
            return -1;
        *acc = *acc * 10 + d;
    }
    return n;
}

/* A plain decimal integer in [0, max]: no sign, no spaces. */
static int parse_int(const char *s, int64_t max, int64_t *out)
{
    int64_t v = 0;

    if (take_digits(&s, max, &v) <= 0 || *s != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Seconds in [0, max_s] with up to three decimals, as milliseconds. */
static int parse_seconds(const char *s, int64_t max_s, int64_t *out_ms)
{
    int64_t secs = 0, frac = 0;
    int nfrac = 0;

    if (take_digits(&s, max_s, &secs) <= 0)
        return -1;
    if (*s == '.') {
        s++;
        nfrac = take_digits(&s, 999, &frac);
        if (nfrac <= 0 || nfrac > 3)
            return -1;
    }
    if (*s != '\0')
        return -1;
    for (; nfrac < 3; nfrac++)
        frac *= 10;
    *out_ms = secs * 1000 + frac;
    return 0;
}

/* Bytes with an optional binary suffix K, M or G, in [min, max]. */
static int parse_bytes(const char *s, int64_t min, int64_t max, int64_t *out)
{
    int64_t v = 0;
    int shift = 0;

    if (take_digits(&s, max, &v) <= 0)
        return -1;
    switch (*s) {
    case 'k': case 'K': shift = 10; s++; break;
    case 'm': case 'M': shift = 20; s++; break;
    case 'g': case 'G': shift = 30; s++; break;
    default: break;
    }
    if (*s != '\0' || v > (max >> shift) || (v << shift) < min)
        return -1;
    *out = v << shift;
    return 0;
}

static void bad_value(const char *flag, const char *value, const char *want)
{
    fprintf(stderr, "chatd: invalid value '%s' for %s: expected %s\n", value,
            flag, want);
}

/* The flag as the user spelled it, for messages. */
static const char *flag_name(int c)
{
    for (const struct option *o = long_options; o->name; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

static int set_count(int c, const char *arg, int64_t *dst)
{
    if (parse_int(arg, MAX_COUNT, dst) == 0)
        return 0;
    char flag[32];
    snprintf(flag, sizeof flag, "--%s", flag_name(c));
    bad_value(flag, arg, "a whole number from 0 to 2147483647");
    return -1;
}

static int set_seconds(int c, const char *arg, int64_t *dst)
{
    if (parse_seconds(arg, MAX_SECONDS, dst) == 0)
        return 0;
    char flag[32];
    snprintf(flag, sizeof flag, "--%s", flag_name(c));
    bad_value(flag, arg,
              "seconds from 0 to 31536000, with at most 3 decimals");
    return -1;
}

static int set_port(const char *arg, struct chatd_options *opt)
{
    if (!chatp_port_valid(arg, 0)) {
        bad_value("--port", arg, "a port number from 0 to 65535");
        return -1;
    }
    opt->port = arg;
    opt->bind_given = 1;
    return 0;
}

static int set_bind(char *arg, struct chatd_options *opt)
{
    opt->bind = chatp_host_unbracket(arg);
    opt->bind_given = 1;
    return 0;
}

/* One more --listen; slot 0 is kept for -b/-p's listener (see
 * finish_listeners). */
static int add_listener(const char *url, struct chatd_options *opt)
{
    if (opt->nlisteners + 1 >= CHATD_MAX_LISTENERS) {
        fprintf(stderr, "chatd: too many --listen: at most %d\n",
                CHATD_MAX_LISTENERS - 1);
        return -1;
    }
    return chatd_listen_parse(url, &opt->listeners[++opt->nlisteners]);
}

/*
 * -b/-p's plain chat listener comes first, so its "listening on" line is
 * the first, as it always was; --listen alone replaces it, -b or -p with
 * --listen keeps it. Then the --listen ones, in order.
 */
static int finish_listeners(struct chatd_options *opt)
{
    if (opt->nlisteners > 0 && !opt->bind_given) {
        memmove(&opt->listeners[0], &opt->listeners[1],
                opt->nlisteners * sizeof opt->listeners[0]);
        return 0;
    }
    opt->nlisteners++;
    return chatd_listen_plain(opt->bind, opt->port, &opt->listeners[0]);
}

static int set_high_water(const char *arg, int64_t *dst)
{
    if (parse_bytes(arg, 2, MAX_BYTES, dst) == 0)
        return 0;
    bad_value("--high-water", arg,
              "bytes from 2 to 1T, optionally with a K, M or G suffix");
    return -1;
}

static int set_filter_exec(const char *arg, struct chatd_options *opt)
{
    if (arg[strspn(arg, " \t")] == '\0') {
        bad_value("--filter-exec", arg, "a command");
        return -1;
    }
    opt->filter_cmd = arg;
    return 0;
}

static int set_filter_fallback(const char *arg, struct chatd_options *opt)
{
    if (strcmp(arg, "allow") != 0 && strcmp(arg, "drop") != 0) {
        bad_value("--filter-fallback", arg, "allow or drop");
        return -1;
    }
    opt->filter_allow = arg[0] == 'a';
    return 0;
}

/* A wait that must end: more than 0 seconds, at most an hour. */
static int set_positive_seconds(int c, const char *arg, int64_t *dst)
{
    if (parse_seconds(arg, 3600, dst) == 0 && *dst > 0)
        return 0;
    char flag[32];
    snprintf(flag, sizeof flag, "--%s", flag_name(c));
    bad_value(flag, arg, "seconds from 0.001 to 3600, with at most 3 decimals");
    return -1;
}

static int set_handshakes(const char *arg, int64_t *dst)
{
    if (parse_int(arg, 1000000, dst) == 0 && *dst > 0)
        return 0;
    bad_value("--tls-handshakes", arg, "a number from 1 to 1000000");
    return -1;
}

/* Room for a request line and a browser's usual headers, and not more
 * than a connection should hold before it is a chat peer. */
static int set_http_head_max(const char *arg, int64_t *dst)
{
    if (parse_bytes(arg, 256, 1 << 20, dst) == 0)
        return 0;
    bad_value("--http-head-max", arg, "bytes from 256 to 1M (K, M suffixes)");
    return -1;
}

static int set_redis(const char *arg, struct chatd_options *opt)
{
    char why[256];

    if (chatd_redis_parse_url(arg, &opt->redis, why, sizeof why) != 0) {
        fprintf(stderr, "chatd: invalid value '%s' for --redis: %s\n", arg,
                why);
        return -1;
    }
    opt->redis_url = arg;
    return 0;
}

static int set_node_id(const char *arg, struct chatd_options *opt)
{
    if (!chatd_redis_node_id_valid(arg)) {
        bad_value("--node-id", arg, "1 to 32 letters, digits, _ or -");
        return -1;
    }
    opt->node_id = arg;
    return 0;
}

static int set_redis_lease(const char *arg, struct chatd_options *opt)
{
    int64_t v;

    if (parse_int(arg, CHATD_REDIS_MAX_LEASE_MS, &v) == 0 &&
        v >= CHATD_REDIS_MIN_LEASE_MS) {
        opt->redis.lease_ms = (uint64_t)v;
        return 0;
    }
    bad_value("--redis-lease", arg, "milliseconds from 300 to 3600000");
    return -1;
}

/* Printable ASCII, no spaces: it is in every key and channel name. */
static int set_redis_prefix(const char *arg, struct chatd_options *opt)
{
    size_t n = strlen(arg);
    int ok = n > 0 && n < sizeof opt->redis.prefix;

    for (size_t i = 0; ok && i < n; i++)
        ok = arg[i] > ' ' && arg[i] < 127;
    if (!ok) {
        bad_value("--redis-prefix", arg,
                  "1 to 63 printable characters, no spaces");
        return -1;
    }
    memcpy(opt->redis.prefix, arg, n + 1);
    return 0;
}

/* The flags that mean something only with a rediss:// URL. */
static int rediss_only(int c)
{
    return c == OPT_REDIS_CAFILE || c == OPT_REDIS_CERT ||
           c == OPT_REDIS_KEY || c == OPT_REDIS_INSECURE;
}

/* The flags that mean something only with --redis. */
static int redis_only(int c)
{
    return c == OPT_REDIS_PASSWORD_FILE || c == OPT_NODE_ID ||
           c == OPT_REDIS_LEASE || c == OPT_REDIS_PREFIX || rediss_only(c);
}

/* The TLS flags of --redis: with a rediss:// URL only, a certificate
 * with its key, and no CA file to verify with when verifying nothing. */
static int check_rediss(const struct chatd_options *opt)
{
    const char *why = NULL;

    if (opt->rediss_only && opt->redis_url && !opt->redis.tls)
        fprintf(stderr, "chatd: --%s needs a rediss:// URL (TLS) for "
                "--redis\n", opt->rediss_only);
    else if (!opt->redis_cert != !opt->redis_key)
        why = "--redis-cert and --redis-key go together";
    else if (opt->redis_insecure && opt->redis_cafile)
        why = "--redis-insecure verifies nothing: --redis-cafile would be "
              "unused";
    else
        return 0;
    if (why)
        fprintf(stderr, "chatd: %s\n", why);
    return -1;
}

/* Apply one parsed flag. Returns -1 after printing a message. */
static int apply_flag(int c, char *arg, struct chatd_options *opt)
{
    if (redis_only(c) && !opt->redis_only)
        opt->redis_only = flag_name(c);
    if (rediss_only(c) && !opt->rediss_only)
        opt->rediss_only = flag_name(c);
    switch (c) {
    case 'b': return set_bind(arg, opt);
    case 'p': return set_port(arg, opt);
    case 'v': opt->verbose++; return 0;
    case OPT_LOGIN: opt->login = 1; return 0;
    case OPT_LISTEN: return add_listener(arg, opt);
    case OPT_ROOM: opt->room = arg; return 0;
    case OPT_HISTORY: return set_count(c, arg, &opt->history);
    case OPT_RATE: return set_count(c, arg, &opt->rate);
    case OPT_BURST: return set_count(c, arg, &opt->burst);
    case OPT_MAX_CLIENTS: return set_count(c, arg, &opt->max_clients);
    case OPT_IDLE: return set_seconds(c, arg, &opt->idle_ms);
    case OPT_LOGIN_TIMEOUT: return set_seconds(c, arg, &opt->login_ms);
    case OPT_WRITE_TIMEOUT: return set_seconds(c, arg, &opt->write_ms);
    case OPT_GRACE: return set_seconds(c, arg, &opt->grace_ms);
    case OPT_HIGH_WATER: return set_high_water(arg, &opt->high_water);
    case OPT_FILTER_EXEC: return set_filter_exec(arg, opt);
    case OPT_FILTER_FALLBACK: return set_filter_fallback(arg, opt);
    case OPT_FILTER_TIMEOUT:
        return set_positive_seconds(c, arg, &opt->filter_timeout_ms);
    case OPT_HTTP_TIMEOUT:
        return set_positive_seconds(c, arg, &opt->http_timeout_ms);
    case OPT_HTTP_HEAD_MAX: return set_http_head_max(arg, &opt->http_head_max);
    case OPT_WS_ORIGIN: opt->ws_origin = arg; return 0;
    case OPT_TLS_CERT: opt->tls_cert = arg; return 0;
    case OPT_TLS_KEY: opt->tls_key = arg; return 0;
    case OPT_TLS_TIMEOUT:
        return set_positive_seconds(c, arg, &opt->tls_timeout_ms);
    case OPT_TLS_HANDSHAKES: return set_handshakes(arg, &opt->tls_handshakes);
    case OPT_REDIS: return set_redis(arg, opt);
    case OPT_REDIS_PASSWORD_FILE: opt->redis_password_file = arg; return 0;
    case OPT_NODE_ID: return set_node_id(arg, opt);
    case OPT_REDIS_LEASE: return set_redis_lease(arg, opt);
    case OPT_REDIS_PREFIX: return set_redis_prefix(arg, opt);
    case OPT_REDIS_CAFILE: opt->redis_cafile = arg; return 0;
    case OPT_REDIS_CERT: opt->redis_cert = arg; return 0;
    case OPT_REDIS_KEY: opt->redis_key = arg; return 0;
    case OPT_REDIS_INSECURE: opt->redis_insecure = 1; return 0;
    default: return -1;
    }
}

/* getopt reported a problem with the flag just before optind. */
static void bad_flag(int c, char **argv)
{
    char buf[3];
    const char *what = chatp_flag_as_typed(argv, buf);

    if (c == ':')
        fprintf(stderr, "chatd: option '%s' needs a value (see chatd --help)\n",
                what);
    else
        fprintf(stderr, "chatd: unknown option '%s' (see chatd --help)\n",
                what);
}

enum chatd_parse_result chatd_parse_options(int argc, char **argv,
                                            struct chatd_options *opt)
{
    int c;

    set_defaults(opt);
    opterr = 0; /* our messages, one line each */
    while ((c = getopt_long(argc, argv, ":b:p:vhV", long_options, NULL)) != -1) {
        switch (c) {
        case 'h':
        case OPT_HELP:
            fputs(usage_text, stdout);
            return CHATD_PARSE_EXIT;
        case 'V':
        case OPT_VERSION:
            printf("chatd %s (libchat %s)\n", CHATD_VERSION, chat_version());
            return CHATD_PARSE_EXIT;
        case ':':
        case '?':
            bad_flag(c, argv);
            return CHATD_PARSE_ERROR;
        default:
            if (apply_flag(c, optarg, opt) != 0)
                return CHATD_PARSE_ERROR;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "chatd: unexpected argument '%s' (see chatd --help)\n",
                argv[optind]);
        return CHATD_PARSE_ERROR;
    }
    if (opt->redis_only && !opt->redis_url) {
        fprintf(stderr, "chatd: --%s needs --redis (cluster mode; see "
                "chatd --help)\n", opt->redis_only);
        return CHATD_PARSE_ERROR;
    }
    if (check_rediss(opt) != 0)
        return CHATD_PARSE_ERROR;
    if (finish_listeners(opt) != 0)
        return CHATD_PARSE_ERROR;
    return CHATD_PARSE_RUN;
}
