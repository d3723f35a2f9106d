/* chat-cli: the command line. */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "netaddr.h"
#include "optflag.h"

#ifndef CHAT_CLI_VERSION
#define CHAT_CLI_VERSION "unknown"
#endif

static const char usage_text[] =
    "Usage: chat-cli [-h HOST] [-p PORT] [-n NAME] [-r]\n"
    "                [--tls [--cafile FILE | --insecure]]\n"
    "Chat on a chatd server from the terminal, or from a script.\n"
    "\n"
    "  -h, --host HOST   server name or address, IPv4 or IPv6 (default 127.0.0.1)\n"
    "  -p, --port PORT   server port (default 4242)\n"
    "  -n, --name NAME   take this name after connecting (also in login mode)\n"
    "  -r, --reconnect   when the connection is lost, reconnect with backoff\n"
    "                    and restore the name and the room\n"
    "      --tls         connect over TLS; the server's certificate must be\n"
    "                    valid for HOST and issued by a CA the system trusts\n"
    "      --cafile FILE with --tls: trust the CA certificates in FILE instead\n"
    "      --insecure    with --tls: check no certificate (test servers only)\n"
    "      --help        show this help and exit\n"
    "  -V, --version     show the version and exit\n"
    "\n"
    "With a terminal on stdin: a prompt with line editing and history; Ctrl-D,\n"
    "Ctrl-C or /quit leave. Otherwise each input line is sent, each received\n"
    "line is printed, and at the end of input chat-cli waits for the server's\n"
    "last replies, then exits 0. Colours are off if NO_COLOR is set.\n"
    "Exit status: 0 ok, 1 connection failed or lost, 2 bad usage.\n";

static int usage_error(FILE *err, const char *what, const char *arg)
{
    chatp_usage_error(err, "chat-cli", what, arg);
    return CLI_ARGS_USAGE;
}

enum long_only {
    OPT_TLS = 256,
    OPT_CAFILE,
    OPT_INSECURE,
};

/* --cafile and --insecure mean nothing without --tls, and say opposite
 * things together: a mistake either way. */
static enum cli_args_result check_tls(const struct cli_opts *o, FILE *err)
{
    if (!o->tls && (o->cafile || o->insecure))
        return usage_error(err, "this option needs --tls:",
                           o->cafile ? "--cafile" : "--insecure");
    if (o->cafile && o->insecure)
        return usage_error(err, "choose one of --cafile and", "--insecure");
    return CLI_ARGS_RUN;
}

static const struct option long_opts[] = {
    {"host", required_argument, NULL, 'h'},
    {"port", required_argument, NULL, 'p'},
    {"name", required_argument, NULL, 'n'},
    {"reconnect", no_argument, NULL, 'r'},
    {"tls", no_argument, NULL, OPT_TLS},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"help", no_argument, NULL, 'H'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

enum cli_args_result cli_parse_args(struct cli_opts *o, int argc, char **argv,
                                    FILE *out, FILE *err)
{
    int ch;

    o->host = "127.0.0.1";
    o->port = "4242";
    o->name = NULL;
    o->reconnect = 0;
    o->tls = o->insecure = 0;
    o->cafile = NULL;
    opterr = 0; /* our own one-line messages: chatp_bad_flag */
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":h:p:n:rV", long_opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            o->host = chatp_host_unbracket(optarg);
            if (*o->host == '\0')
                return usage_error(err, "empty host", optarg);
            break;
        case 'p':
            /* 0 means "any" only to a server. */
            if (!chatp_port_valid(optarg, 1))
                return usage_error(err, "port must be 1-65535, not", optarg);
            o->port = optarg;
            break;
        case 'n':
            if (!chat_name_valid(optarg, strlen(optarg)))
                return usage_error(err,
                    "name must be 2-24 letters, digits, _ or -, not", optarg);
            o->name = optarg;
            break;
        case 'r':
            o->reconnect = 1;
            break;
        case OPT_TLS:
            o->tls = 1;
            break;
        case OPT_CAFILE:
            if (*optarg == '\0')
                return usage_error(err, "empty file name for", "--cafile");
            o->cafile = optarg;
            break;
        case OPT_INSECURE:
            o->insecure = 1;
            break;
        case 'H':
            fputs(usage_text, out);
            return CLI_ARGS_DONE;
        case 'V':
            fprintf(out, "chat-cli %s (libchat %s)\n", CHAT_CLI_VERSION,
                    chat_version());
            return CLI_ARGS_DONE;
        default:
            chatp_bad_flag(err, "chat-cli", ch, argv);
            return CLI_ARGS_USAGE;
        }
    }
    if (optind < argc)
        return usage_error(err, "unexpected argument", argv[optind]);
    return check_tls(o, err);
}
