/* Bad command-line flags. See optflag.h. */
#define _POSIX_C_SOURCE 200809L

#include "optflag.h"

#include <getopt.h>
#include <string.h>

const char *chatp_flag_as_typed(char **argv, char buf[3])
{
    /* Inside a group ("-xv") getopt has not moved optind past it yet, so
     * argv[optind - 1] may be an earlier argument: name the letter. */
    const char *arg = argv[optind - 1];

    if (optopt > 0 && optopt < 256 && strncmp(arg, "--", 2) != 0) {
        buf[0] = '-';
        buf[1] = (char)optopt;
        buf[2] = '\0';
        return buf;
    }
    return arg;
}

void chatp_usage_error(FILE *err, const char *prog, const char *what,
                       const char *arg)
{
    fprintf(err, "%s: %s '%s' (try %s --help)\n", prog, what, arg, prog);
}

void chatp_bad_flag(FILE *err, const char *prog, int ch, char **argv)
{
    char buf[3];

    chatp_usage_error(err, prog, ch == ':' ? "missing value for"
                                           : "unknown option",
                      chatp_flag_as_typed(argv, buf));
}
