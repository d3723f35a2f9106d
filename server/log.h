/*
 * chatd - logging to stderr with a level prefix ("chatd: info: ...").
 *
 * The level is process state of the chatd program (not of libchat): one
 * daemon, one stderr. Messages at debug level are shown only with -v.
 */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

#include <stdint.h>

enum chatd_log_level {
    CHATD_LOG_ERROR,
    CHATD_LOG_WARN,
    CHATD_LOG_INFO,
    CHATD_LOG_DEBUG,
};

#if defined(__GNUC__)
#  define CHATD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define CHATD_PRINTF(f, a)
#endif

/* verbosity 0 logs info and above; 1 or more adds debug; 2 or more also
 * routes libevent's own debug messages. */
void chatd_log_init(int verbosity);

/* Non-zero when messages at this level are printed (skip costly args). */
int chatd_log_enabled(enum chatd_log_level level);

void chatd_log(enum chatd_log_level level, const char *fmt, ...)
    CHATD_PRINTF(2, 3);

/*
 * Logging something that may happen many times a second (a program's
 * garbage, messages it did not answer): a line at most once a second per
 * limit; the lines held back are counted and the next line logged says
 * how many. Zero-initialize one per kind of event.
 */
struct chatd_log_limit {
    uint64_t last_ms; /* when a line was last logged */
    uint64_t held;    /* lines held back since */
    int used;         /* a line was ever logged */
};

#define CHATD_LOG_LIMIT_MS 1000

void chatd_log_limited(struct chatd_log_limit *l, uint64_t now_ms,
                       enum chatd_log_level level, const char *fmt, ...)
    CHATD_PRINTF(4, 5);

#define log_error(...) chatd_log(CHATD_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) chatd_log(CHATD_LOG_WARN, __VA_ARGS__)
#define log_info(...) chatd_log(CHATD_LOG_INFO, __VA_ARGS__)
#define log_debug(...) chatd_log(CHATD_LOG_DEBUG, __VA_ARGS__)

#endif /* CHATD_LOG_H */
