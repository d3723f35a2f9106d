/* chat-bench: the command line. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "netaddr.h"
#include "optflag.h"

#ifndef CHAT_BENCH_VERSION
#define CHAT_BENCH_VERSION "unknown"
#endif

static const char usage_text[] =
    "Usage: chat-bench [--target chatd|redis] [-h HOST] [-p PORT]\n"
    "                  [--clients N] [--rooms K] [--senders S] [--messages M]\n"
    "                  [--size BYTES] [--rate PER_SENDER_PER_S | --window W]\n"
    "                  [--ack server|receivers] [--duration S]\n"
    "                  [--server-pid PID] [--settle S] [--json]\n"
    "                  [--tls [--cafile FILE]]\n"
    "       chat-bench --bots [-h HOST] [-p PORT] [--clients N] [--rooms K]\n"
    "                  [--rate ACTIONS_PER_S] [--duration S] [--json]\n"
    "                  [--tls [--cafile FILE]]\n"
    "Load generator and bot driver for chatd's line protocol; the same load\n"
    "against redis-server's pub/sub, to compare the two.\n"
    "\n"
    "      --target T         chatd (default), or redis: receivers SUBSCRIBE to\n"
    "                         their room's channel, senders PUBLISH to it\n"
    "  -h, --host HOST        server name or address (default 127.0.0.1)\n"
    "  -p, --port PORT        server port (default 4242; 6379 for redis)\n"
    "      --clients N        connections (default 10)\n"
    "      --rooms K          rooms room1..roomK, clients round-robin (default 1;\n"
    "                         3 with --bots)\n"
    "      --senders S        clients 1..S send (default 1)\n"
    "      --messages M       messages per sender (default 1000, or no limit\n"
    "                         with --duration)\n"
    "      --size BYTES       bytes of each message, 48-400 (default 64)\n"
    "      --rate R           each sender sends R messages a second (open loop)\n"
    "      --window W         without --rate: each sender keeps at most W\n"
    "                         messages unacknowledged (default 16)\n"
    "      --ack A            with --window, what acknowledges a message:\n"
    "                         server (default: chatd's echo, redis's PUBLISH\n"
    "                         reply) or receivers (every receiver in the room\n"
    "                         has it: at most S x W messages queued anywhere)\n"
    "      --duration S       stop sending after S seconds (--bots: run S seconds)\n"
    "      --drain-timeout S  end the drain after S seconds without progress\n"
    "                         (default 5)\n"
    "      --concurrency N    connection setups in flight at once (default 100)\n"
    "      --settle S         once all are in, wait for S seconds of quiet\n"
    "                         before sending (default 0.2)\n"
    "      --server-pid PID   report the server's CPU time per delivery and its\n"
    "                         memory per connection (from /proc)\n"
    "      --json             print the report as one JSON object\n"
    "      --bots             simulated users chatting, renaming and changing\n"
    "                         rooms, until Ctrl-C or --duration; --rate is each\n"
    "                         bot's actions a second (default 0.5)\n"
    "      --seed N           --bots: random seed (default: from the clock)\n"
    "      --tls              connect over TLS (chatd's tls://, redis's\n"
    "                         --tls-port), so TLS is measured too; the server\n"
    "                         is not verified (a benchmark measures)\n"
    "      --cafile FILE      with --tls: verify the server against the CA\n"
    "                         certificates in FILE, and HOST against its name\n"
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
    OPT_TARGET,
    OPT_ACK,
    OPT_SERVER_PID,
    OPT_SETTLE,
    OPT_TLS,
    OPT_CAFILE,
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
    {"target", required_argument, NULL, OPT_TARGET},
    {"ack", required_argument, NULL, OPT_ACK},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"settle", required_argument, NULL, OPT_SETTLE},
    {"tls", no_argument, NULL, OPT_TLS},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int usage_error(FILE *err, const char *what, const char *arg)
{
    chatp_usage_error(err, "chat-bench", what, arg);
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

static void set_defaults(struct bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = NULL; /* by target, once the options are read */
    o->clients = 10;
    o->rooms = 1;
    o->senders = 1;
    o->messages = 1000;
    o->size = 64;
    o->window = 16;
    o->drain_timeout = 5;
    o->concurrency = 100;
    o->settle = 0.2;
}

/* Which long options were given (bit ch - 256), for the checks that
 * relate them. */
#define GIVEN(ch) (1u << ((ch) - 256))

/* Options that take a count, and where it goes. */
static const struct {
    int ch;
    size_t off;
    unsigned lo, hi;
    const char *what;
} counts[] = {
    {OPT_CLIENTS, offsetof(struct bench_opts, clients), 1, BENCH_MAX_CLIENTS,
     "--clients must be 1-1000000, not"},
    {OPT_ROOMS, offsetof(struct bench_opts, rooms), 1, BENCH_MAX_CLIENTS,
     "--rooms must be 1 or more, not"},
    {OPT_SENDERS, offsetof(struct bench_opts, senders), 1, BENCH_MAX_CLIENTS,
     "--senders must be 1 or more, not"},
    {OPT_SIZE, offsetof(struct bench_opts, size), BENCH_MIN_SIZE,
     CHAT_MAX_LINE, "--size must be 48-400, not"},
    {OPT_WINDOW, offsetof(struct bench_opts, window), 1, 1000000,
     "--window must be 1-1000000, not"},
    {OPT_CONCURRENCY, offsetof(struct bench_opts, concurrency), 1, 100000,
     "--concurrency must be 1-100000, not"},
};

/* Options that take a positive number (seconds, or per second). */
static const struct {
    int ch;
    size_t off;
    double hi;
    const char *what;
} reals[] = {
    {OPT_RATE, offsetof(struct bench_opts, rate), 1e6,
     "--rate must be above 0, up to 1000000, not"},
    {OPT_DURATION, offsetof(struct bench_opts, duration), 1e7,
     "--duration must be a number of seconds above 0, not"},
    {OPT_DRAIN, offsetof(struct bench_opts, drain_timeout), 3600,
     "--drain-timeout must be seconds above 0, up to 3600, not"},
    {OPT_SETTLE, offsetof(struct bench_opts, settle), 60,
     "--settle must be seconds above 0, up to 60, not"},
};

/* Options whose value is a word, or a process id. */
static int take_word(struct bench_opts *o, int ch, const char *arg, FILE *err)
{
    uint64_t pid;

    switch (ch) {
    case OPT_TARGET:
        if (strcmp(arg, "chatd") != 0 && strcmp(arg, "redis") != 0)
            return usage_error(err, "--target must be chatd or redis, not", arg);
        o->target = arg[0] == 'r' ? BENCH_TARGET_REDIS : BENCH_TARGET_CHATD;
        return 0;
    case OPT_ACK:
        if (strcmp(arg, "server") != 0 && strcmp(arg, "receivers") != 0)
            return usage_error(err, "--ack must be server or receivers, not",
                               arg);
        o->ack = arg[0] == 'r' ? BENCH_ACK_RECEIVERS : BENCH_ACK_SERVER;
        return 0;
    case OPT_SERVER_PID:
        if (parse_u64(arg, 1, 0x7fffffff, &pid) < 0)
            return usage_error(err, "--server-pid must be a process id, not",
                               arg);
        o->server_pid = (long)pid;
        return 0;
    default:
        return usage_error(err, "unknown option", arg);
    }
}

/* Options with a value but no table entry. */
static int take_other(struct bench_opts *o, int ch, char *arg, FILE *err)
{
    switch (ch) {
    case 'h':
        o->host = chatp_host_unbracket(arg);
        return *o->host ? 0 : usage_error(err, "empty host", arg);
    case 'p':
        if (!chatp_port_valid(arg, 1))
            return usage_error(err, "port must be 1-65535, not", arg);
        o->port = arg;
        return 0;
    case OPT_MESSAGES:
        if (parse_u64(arg, 1, UINT32_MAX - 1, &o->messages) < 0)
            return usage_error(err, "--messages must be 1-4294967294, not", arg);
        return 0;
    case OPT_SEED:
        if (parse_u64(arg, 1, UINT64_MAX, &o->seed) < 0)
            return usage_error(err, "--seed must be a number above 0, not", arg);
        return 0;
    case OPT_CAFILE:
        o->cafile = arg;
        return *arg ? 0 : usage_error(err, "empty file name for", "--cafile");
    default:
        return take_word(o, ch, arg, err);
    }
}

/* One option with a value; returns BENCH_ARGS_RUN or BENCH_ARGS_USAGE. */
static int take_value(struct bench_opts *o, int ch, char *arg, FILE *err)
{
    char *base = (char *)o;

    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++)
        if (counts[i].ch == ch)
            return parse_uint(arg, counts[i].lo, counts[i].hi,
                              (unsigned *)(void *)(base + counts[i].off)) == 0
                       ? 0 : usage_error(err, counts[i].what, arg);
    for (size_t i = 0; i < sizeof reals / sizeof *reals; i++)
        if (reals[i].ch == ch)
            return parse_pos(arg, reals[i].hi,
                             (double *)(void *)(base + reals[i].off)) == 0
                       ? 0 : usage_error(err, reals[i].what, arg);
    return take_other(o, ch, arg, err);
}

static int check_bots(struct bench_opts *o, unsigned given, FILE *err)
{
    static const int load_only[] = {OPT_SENDERS, OPT_MESSAGES, OPT_SIZE,
                                    OPT_WINDOW, OPT_ACK, OPT_SERVER_PID,
                                    OPT_SETTLE};
    static const char *const names[] = {"--senders", "--messages", "--size",
                                        "--window", "--ack", "--server-pid",
                                        "--settle"};

    for (size_t i = 0; i < sizeof load_only / sizeof *load_only; i++)
        if (given & GIVEN(load_only[i]))
            return usage_error(err, "--bots takes no", names[i]);
    if (o->target == BENCH_TARGET_REDIS) /* bots speak chatd's commands */
        return usage_error(err, "--bots cannot", "--target redis");
    if (!(given & GIVEN(OPT_ROOMS)))
        o->rooms = 3;
    if (!(given & GIVEN(OPT_RATE)))
        o->rate = 0.5;
    o->senders = 0;
    o->messages = 0;
    return BENCH_ARGS_RUN;
}

static int check_load(struct bench_opts *o, unsigned given, FILE *err)
{
    if ((given & GIVEN(OPT_RATE)) && (given & GIVEN(OPT_WINDOW)))
        return usage_error(err, "use --rate or --window, not both:",
                           "--window");
    /* Open-loop pacing has no window for the acknowledgements to open. */
    if ((given & GIVEN(OPT_RATE)) && o->ack == BENCH_ACK_RECEIVERS)
        return usage_error(err, "--rate cannot take", "--ack receivers");
    if (o->senders > o->clients) {
        char num[32];

        snprintf(num, sizeof num, "%u", o->senders);
        return usage_error(err, "--senders cannot exceed --clients:", num);
    }
    if ((given & GIVEN(OPT_DURATION)) && !(given & GIVEN(OPT_MESSAGES)))
        o->messages = 0; /* until the time is up */
    return BENCH_ARGS_RUN;
}

/* The checks that relate options to each other. */
static int check_combination(struct bench_opts *o, unsigned given, FILE *err)
{
    int r = o->bots ? check_bots(o, given, err) : check_load(o, given, err);

    if (r != BENCH_ARGS_RUN)
        return r;
    if (o->rooms > o->clients) {
        char num[32];

        snprintf(num, sizeof num, "%u", o->rooms);
        return usage_error(err, "--rooms cannot exceed --clients:", num);
    }
    if (o->cafile && !o->tls)
        return usage_error(err, "this option needs --tls:", "--cafile");
    if (!o->port)
        o->port = o->target == BENCH_TARGET_REDIS ? "6379" : "4242";
    return BENCH_ARGS_RUN;
}

enum bench_args_result bench_parse_args(struct bench_opts *o, int argc,
                                        char **argv, FILE *out, FILE *err)
{
    unsigned given = 0;
    int ch;

    set_defaults(o);
    opterr = 0; /* our own one-line messages: chatp_bad_flag */
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":h:p:V", long_opts, NULL)) != -1) {
        switch (ch) {
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_BOTS:
            o->bots = 1;
            break;
        case OPT_TLS:
            o->tls = 1;
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
            chatp_bad_flag(err, "chat-bench", ch, argv);
            return BENCH_ARGS_USAGE;
        default:
            if (take_value(o, ch, optarg, err) != BENCH_ARGS_RUN)
                return BENCH_ARGS_USAGE;
            if (ch >= 256)
                given |= GIVEN(ch);
        }
    }
    if (optind < argc)
        return usage_error(err, "unexpected argument", argv[optind]);
    return check_combination(o, given, err);
}
