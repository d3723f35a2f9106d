/*
 * The descriptor limit, for programs that hold one descriptor per
 * connection (chatd, chat-bench). Part of common/, the programs' internal
 * library (see netaddr.h).
 */
#ifndef CHATP_FDLIMIT_H
#define CHATP_FDLIMIT_H

#include <sys/resource.h>

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit, which any process may
 * do. *lim receives the limits in effect afterwards; limits that cannot be
 * read are reported as RLIM_INFINITY, there being nothing to size by.
 * Returns 0, or -1 with errno set when the soft limit could not be raised
 * (*lim then holds the limits as they were).
 */
int chatp_raise_fd_limit(struct rlimit *lim);

#endif /* CHATP_FDLIMIT_H */
