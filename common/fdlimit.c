/* The descriptor limit. See fdlimit.h. */
#define _POSIX_C_SOURCE 200809L

#include "fdlimit.h"

int chatp_raise_fd_limit(struct rlimit *lim)
{
    struct rlimit want;

    if (getrlimit(RLIMIT_NOFILE, lim) != 0) {
        lim->rlim_cur = lim->rlim_max = RLIM_INFINITY;
        return 0;
    }
    if (lim->rlim_cur >= lim->rlim_max)
        return 0;
    want = *lim;
    want.rlim_cur = lim->rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) != 0)
        return -1;
    *lim = want;
    return 0;
}
