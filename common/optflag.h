/*
 * Bad command-line flags, reported by the programs in their own one-line
 * messages rather than getopt's. Part of common/, the programs' internal
 * library (see netaddr.h).
 */
#ifndef CHATP_OPTFLAG_H
#define CHATP_OPTFLAG_H

#include <stdio.h>

/*
 * The flag getopt_long() just refused (returned '?' or ':' with opterr
 * 0), as the user typed it: "-x" for a short option, even one inside a
 * group such as "-vx" (buf holds it), else the whole argument, such as
 * "--bogus" or "--port". Call before getopt_long() runs again.
 */
const char *chatp_flag_as_typed(char **argv, char buf[3]);

/*
 * The usage error line of chat-cli and chat-bench, to err:
 * "PROG: WHAT 'ARG' (try PROG --help)".
 */
void chatp_usage_error(FILE *err, const char *prog, const char *what,
                       const char *arg);

/*
 * chatp_usage_error() for the flag getopt_long() just refused with ch:
 * "missing value for" it when ch is ':', else "unknown option".
 */
void chatp_bad_flag(FILE *err, const char *prog, int ch, char **argv);

#endif /* CHATP_OPTFLAG_H */
