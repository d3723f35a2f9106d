/*
 * chatd - --filter-exec: every chat line, /me and direct message is asked
 * of a long-lived moderation program, one JSON line per question and per
 * answer (doc/filter.md). A libchat filter that answers
 * CHAT_FILTER_PENDING and resumes the message from the loop when the
 * answer comes, when none came in time, or when the program died.
 */
#ifndef CHATD_FILTER_H
#define CHATD_FILTER_H

#include <stdint.h>

struct chatd_server;
struct chatd_filter;

/* The broker is given this much longer than chatd waits, with
 * --filter-fallback allow: chatd resumes with ALLOW at its own deadline,
 * and the broker's (which drops) only backs it up. */
#define CHATD_FILTER_BACKSTOP_MS 1000

/* Questions waiting for answers at once; past it, the fallback applies.
 * Each sender has at most one (its later lines wait in the broker). */
#define CHATD_FILTER_MAX_WAITING 65536

struct chatd_filter_config {
    const char *cmd;     /* /bin/sh -c cmd; must outlive the filter */
    int fallback_allow;  /* 1: no answer means allow; 0: drop */
    uint64_t timeout_ms; /* how long an answer may take; > 0 */
};

/*
 * Start the program and add the filter to srv's broker (srv must be set
 * up and outlive the filter). Returns 0, or -1 after logging why (the
 * program cannot be started at all; *out untouched).
 */
int chatd_filter_start(struct chatd_filter **out, struct chatd_server *srv,
                       const struct chatd_filter_config *cfg);

/* Remove the filter from the broker, stop the program (filter_child.h),
 * free everything. Call after the loop, before chatd_server_free. NULL is
 * accepted. */
void chatd_filter_stop(struct chatd_filter *f);

#endif /* CHATD_FILTER_H */
