/*
 * chat-cli: reconnect delays. Exponential so a server that is down is not
 * hammered; jittered so that clients dropped together (a server restart)
 * do not all come back in the same millisecond.
 */
#include "cli.h"

uint32_t cli_backoff_ms(unsigned attempt, uint32_t rnd)
{
    uint32_t d = CLI_BACKOFF_BASE_MS;

    while (attempt-- > 0 && d < CLI_BACKOFF_CAP_MS)
        d *= 2;
    if (d > CLI_BACKOFF_CAP_MS)
        d = CLI_BACKOFF_CAP_MS;
    /* "Equal jitter": never less than half the delay, so waits still grow. */
    return d / 2 + rnd % (d / 2 + 1);
}
