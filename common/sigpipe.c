/* SIGPIPE. See sigpipe.h. */
#define _POSIX_C_SOURCE 200809L

#include "sigpipe.h"

#include <signal.h>
#include <string.h>

int chatp_ignore_sigpipe(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGPIPE, &sa, NULL);
}
