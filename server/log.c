/* chatd - logging to stderr. See log.h. */
#define _POSIX_C_SOURCE 200809L

#include "log.h"

#include <stdarg.h>
#include <stdio.h>

#include <event2/event.h>

static int log_verbosity;

static const char *const level_names[] = {
    [CHATD_LOG_ERROR] = "error",
    [CHATD_LOG_WARN] = "warning",
    [CHATD_LOG_INFO] = "info",
    [CHATD_LOG_DEBUG] = "debug",
};

/* libevent reports its own trouble (e.g. a failing epoll_ctl) here rather
 * than on a bare stderr, so every line chatd prints has the same shape. */
static void libevent_log(int severity, const char *msg)
{
    enum chatd_log_level level = CHATD_LOG_DEBUG;

    if (severity >= EVENT_LOG_ERR)
        level = CHATD_LOG_ERROR;
    else if (severity == EVENT_LOG_WARN)
        level = CHATD_LOG_WARN;
    chatd_log(level, "libevent: %s", msg);
}

void chatd_log_init(int verbosity)
{
    log_verbosity = verbosity;
    event_set_log_callback(libevent_log);
    if (verbosity >= 2)
        event_enable_debug_logging(EVENT_DBG_ALL);
}

int chatd_log_enabled(enum chatd_log_level level)
{
    return level != CHATD_LOG_DEBUG || log_verbosity > 0;
}

void chatd_log(enum chatd_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (!chatd_log_enabled(level))
        return;
    /* stderr is unbuffered: assemble the line first and write it with one
     * call, so a reader of the log never sees a line in pieces. */
    char line[1024];
    int n = snprintf(line, sizeof line, "chatd: %s: ", level_names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

void chatd_log_limited(struct chatd_log_limit *l, uint64_t now_ms,
                       enum chatd_log_level level, const char *fmt, ...)
{
    char msg[900];
    va_list ap;

    if (l->used && now_ms - l->last_ms < CHATD_LOG_LIMIT_MS) {
        l->held++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l->held)
        chatd_log(level, "%s (%llu more like it since the last such line)", msg,
                  (unsigned long long)l->held);
    else
        chatd_log(level, "%s", msg);
    l->last_ms = now_ms;
    l->used = 1;
    l->held = 0;
}
