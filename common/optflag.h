/*
 * Bad command-line flags, reported by the programs in their own one-line
 * messages rather than getopt's. Part of common/, the programs' internal
 * library (see netaddr.h).
 */
#ifndef CHATP_OPTFLAG_H
#define CHATP_OPTFLAG_H

/*
 * The flag getopt_long() just refused (returned '?' or ':' with opterr
 * 0), as the user typed it: "-x" for a short option, even one inside a
 * group such as "-vx" (buf holds it), else the whole argument, such as
 * "--bogus" or "--port". Call before getopt_long() runs again.
 */
const char *chatp_flag_as_typed(char **argv, char buf[3]);

#endif /* CHATP_OPTFLAG_H */
