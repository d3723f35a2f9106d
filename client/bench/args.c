/* chat-bench: the command line. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifndef CHAT_BENCH_VERSION
#define CHAT_BENCH_VERSION "unknown"
#endif

static const char usage_text[] =
    "Usage: chat-bench [-h HOST] [-p PORT] [--clients N] [--rooms K]\n"
    "                  [--senders S] [--messages M] [--size BYTES]\n"
    "                  [--rate PER_SENDER_PER_S | --window W] [--duration S]\n"
    "                  [--json]\n"
    "       chat-bench --bots [-h HOST] [-p PORT] [--clients N] [--rooms K]\n"
    "                  [--rate ACTIONS_PER_S] [--duration S] [--json]\n"
    "Load generator and bot driver for chatd's line protocol.\n"
    "\n"
    "  -h, --host HOST        server name or address (default 127.0.0.1)\n"
    "  -p, --port PORT        server port (default 4242)\n"
    "      --clients N        connections (default 10)\n"
    "      --rooms K          rooms room1..roomK, clients round-robin (default 1;\n"
    "                         3 with --bots)\n"
    "      --senders S        clients 1..S send (default 1)\n"
    "      --messages M       messages per sender (default 1000, or no limit\n"
    "                         with --duration)\n"
    "      --size BYTES       bytes of each message, 48-400 (default 64)\n"
    "      --rate R           each sender sends R messages a second (open loop)\n"
    "      --window W         without --rate: each sender keeps at most W\n"
    "                         messages unacknowledged by its echo (default 16)\n"
    "      --duration S       stop sending after S seconds (--bots: run S seconds)\n"
    "      --drain-timeout S  end the drain after S seconds without progress\n"
    "                         (default 5)\n"
    "      --concurrency N    connection setups in flight at once (default 100)\n"
    "      --json             print the report as one JSON object\n"
    "      --bots             simulated users chatting, renaming and changing\n"
    "                         rooms, until Ctrl-C or --duration; --rate is each\n"
    "                         bot's actions a second (default 0.5)\n"
    "      --seed N           --bots: random seed (default: from the clock)\n"
    "      --help             show this help and exit\n"
    "  -V, --version          show the version and exit\n"
    "\n"
    "Run chatd with --rate 0 for benchmarks: its default rate limit (20 lines\n"
    "a second) throttles senders. Exit status: 0 the run completed, 1 an error\n"
    "(connection refused or lost, out of file descriptors), 2 bad usage.\n";

enum long_only {
    OPT_CLIENTS = 256,
    OPT_ROOMS,
    OPT_SENDERS,
    OPT_MESSAGES,
    OPT_SIZE,
    OPT_RATE,
    OPT_WINDOW,
    OPT_DURATION,
    OPT_DRAIN,
    OPT_CONCURRENCY,
    OPT_JSON,
    OPT_BOTS,
    OPT_SEED,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, 'h'},
    {"port", required_argument, NULL, 'p'},
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"rooms", required_argument, NULL, OPT_ROOMS},
    {"senders", required_argument, NULL, OPT_SENDERS},
    {"messages", required_argument, NULL, OPT_MESSAGES},
    {"size", required_argument, NULL, OPT_SIZE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"json", no_argument, NULL, OPT_JSON},
    {"bots", no_argument, NULL, OPT_BOTS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int usage_error(FILE *err, const char *what, const char *arg)
{
    fprintf(err, "chat-bench: %s '%s' (try chat-bench --help)\n", what, arg);
    return BENCH_ARGS_USAGE;
}

/* A whole decimal number in [lo, hi]; no sign, no suffix. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
    char *end;
    unsigned long long x;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *v)
{
    uint64_t x;

    if (parse_u64(s, lo, hi, &x) < 0)
        return -1;
    *v = (unsigned)x;
    return 0;
}

/* A positive decimal number of seconds (or per second) up to hi. */
static int parse_pos(const char *s, double hi, double *v)
{
    char *end;
    double x;

    if ((*s < '0' || *s > '9') && *s != '.')
        return -1;
    errno = 0;
    x = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(x > 0) || x > hi)
        return -1;
    *v = x;
    return 0;
}

/* Accept "[::1]" as well as "::1", as URLs write IPv6 addresses. */
static const char *strip_brackets(char *host)
{
    size_t n = strlen(host);

    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        return host + 1;
    }
    return host;
}

/* Our own messages instead of getopt's, so a bad flag is one clear line. */
static int bad_option(FILE *err, int ch, char **argv)
{
    const char *arg = argv[optind - 1];
    char shortopt[3] = {'-', (char)optopt, '\0'};

    if (optopt && strncmp(arg, "--", 2) != 0)
        arg = shortopt;
    if (ch == ':')
        return usage_error(err, "missing value for", arg);
    return usage_error(err, "unknown option", arg);
}

/* Which options were given, for the checks that relate them. */
struct given {
    int rooms, senders, messages, size, rate, window, duration;
};

static void set_defaults(struct bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = "4242";
    o->clients = 10;
    o->rooms = 1;
    o->senders = 1;
    o->messages = 1000;
    o->size = 64;
    o->window = 16;
    o->drain_timeout = 5;
    o->concurrency = 100;
}

/* One option with a value; returns BENCH_ARGS_RUN or BENCH_ARGS_USAGE. */
static int take_value(struct bench_opts *o, struct given *g, int ch,
                      char *arg, FILE *err)
{
    switch (ch) {
    case 'h':
        o->host = strip_brackets(arg);
        return *o->host ? 0 : usage_error(err, "empty host", arg);
    case 'p': {
        uint64_t port;

        if (parse_u64(arg, 1, 65535, &port) < 0)
            return usage_error(err, "port must be 1-65535, not", arg);
        o->port = arg;
        return 0;
    }
    case OPT_CLIENTS:
        return parse_uint(arg, 1, BENCH_MAX_CLIENTS, &o->clients) == 0
                   ? 0 : usage_error(err, "--clients must be 1-1000000, not", arg);
    case OPT_ROOMS:
        g->rooms = 1;
        return parse_uint(arg, 1, BENCH_MAX_CLIENTS, &o->rooms) == 0
                   ? 0 : usage_error(err, "--rooms must be 1 or more, not", arg);
    case OPT_SENDERS:
        g->senders = 1;
        return parse_uint(arg, 1, BENCH_MAX_CLIENTS, &o->senders) == 0
                   ? 0 : usage_error(err, "--senders must be 1 or more, not", arg);
    case OPT_MESSAGES:
        g->messages = 1;
        return parse_u64(arg, 1, UINT32_MAX - 1, &o->messages) == 0
                   ? 0 : usage_error(err, "--messages must be 1-4294967294, not", arg);
    case OPT_SIZE:
        g->size = 1;
        return parse_uint(arg, BENCH_MIN_SIZE, CHAT_MAX_LINE, &o->size) == 0
                   ? 0 : usage_error(err, "--size must be 48-400, not", arg);
    case OPT_RATE:
        g->rate = 1;
        return parse_pos(arg, 1e6, &o->rate) == 0
                   ? 0 : usage_error(err, "--rate must be above 0, up to 1000000, not", arg);
    case OPT_WINDOW:
        g->window = 1;
        return parse_uint(arg, 1, 1000000, &o->window) == 0
                   ? 0 : usage_error(err, "--window must be 1-1000000, not", arg);
    case OPT_DURATION:
        g->duration = 1;
        return parse_pos(arg, 1e7, &o->duration) == 0
                   ? 0 : usage_error(err, "--duration must be a number of seconds above 0, not", arg);
    case OPT_DRAIN:
        return parse_pos(arg, 3600, &o->drain_timeout) == 0
                   ? 0 : usage_error(err, "--drain-timeout must be seconds above 0, up to 3600, not", arg);
    case OPT_CONCURRENCY:
        return parse_uint(arg, 1, 100000, &o->concurrency) == 0
                   ? 0 : usage_error(err, "--concurrency must be 1-100000, not", arg);
    case OPT_SEED:
        return parse_u64(arg, 1, UINT64_MAX, &o->seed) == 0
                   ? 0 : usage_error(err, "--seed must be a number above 0, not", arg);
    }
    return usage_error(err, "unknown option", arg);
}

/* The checks that relate options to each other. */
static int check_combination(struct bench_opts *o, const struct given *g,
                             FILE *err)
{
    char num[32];

    if (o->bots) {
        if (g->senders || g->messages || g->size || g->window)
            return usage_error(err, "--bots takes no", g->senders ? "--senders"
                               : g->messages ? "--messages"
                               : g->size ? "--size" : "--window");
        if (!g->rooms)
            o->rooms = 3;
        if (!g->rate)
            o->rate = 0.5;
        o->senders = 0;
        o->messages = 0;
    } else {
        if (g->rate && g->window)
            return usage_error(err, "use --rate or --window, not both:",
                               "--window");
        if (o->senders > o->clients) {
            snprintf(num, sizeof num, "%u", o->senders);
            return usage_error(err, "--senders cannot exceed --clients:", num);
        }
        if (g->duration && !g->messages)
            o->messages = 0; /* until the time is up */
    }
    if (o->rooms > o->clients) {
        snprintf(num, sizeof num, "%u", o->rooms);
        return usage_error(err, "--rooms cannot exceed --clients:", num);
    }
    return BENCH_ARGS_RUN;
}

enum bench_args_result bench_parse_args(struct bench_opts *o, int argc,
                                        char **argv, FILE *out, FILE *err)
{
    struct given g;
    int ch;

    set_defaults(o);
    memset(&g, 0, sizeof g);
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":h:p:V", long_opts, NULL)) != -1) {
        switch (ch) {
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_BOTS:
            o->bots = 1;
            break;
        case OPT_HELP:
            fputs(usage_text, out);
            return BENCH_ARGS_DONE;
        case 'V':
            fprintf(out, "chat-bench %s (libchat %s)\n", CHAT_BENCH_VERSION,
                    chat_version());
            return BENCH_ARGS_DONE;
        case ':':
        case '?':
            return bad_option(err, ch, argv);
        default:
            if (take_value(o, &g, ch, optarg, err) != BENCH_ARGS_RUN)
                return BENCH_ARGS_USAGE;
        }
    }
    if (optind < argc)
        return usage_error(err, "unexpected argument", argv[optind]);
    return check_combination(o, &g, err);
}
