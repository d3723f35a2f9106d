/*
 * The --filter-exec protocol (doc/filter.md), both ends: chatd writes
 * requests and reads answers; a filter program (doc/examples/
 * filter-censor.c) reads requests and writes answers. One JSON object per
 * line each way (json.h):
 *
 *   {"id":17,"kind":"chat","sender":"alice","room":"main","text":"hello"}
 *   {"id":17,"verdict":"allow"}
 *   {"id":17,"verdict":"rewrite","text":"h*llo"}
 *
 * Part of common/, the programs' internal library (see netaddr.h).
 */
#ifndef CHATP_FILTERPROTO_H
#define CHATP_FILTERPROTO_H

#include <stddef.h>
#include <stdint.h>

#include <libchat/chat.h>

/*
 * The longest line either end must accept, "\n" not counted: longer
 * lines are garbage. A request never comes near it (its text is at most
 * CHAT_MAX_LINE bytes, 6 bytes each when escaped: under 2,700 bytes in
 * all), so neither does any sensible answer.
 */
#define CHATP_FILTER_LINE_MAX 4096

/* A question: may this message go on? */
typedef struct chatp_filter_request {
    uint64_t id;        /* chosen by chatd; the answer repeats it */
    chat_msg_kind kind; /* chat, me, direct */
    const char *sender; /* NUL-terminated */
    const char *room;   /* NUL-terminated; NULL for a direct message */
    const char *text;   /* len bytes of UTF-8, not NUL-terminated */
    size_t len;
} chatp_filter_request;

/* Its answer. */
typedef struct chatp_filter_answer {
    uint64_t id;
    chat_filter_verdict verdict; /* ALLOW, DROP or REWRITE */
    const char *text;            /* REWRITE: the new text, len bytes */
    size_t len;                  /* 0 .. CHAT_MAX_LINE */
} chatp_filter_answer;

/*
 * Write r as one line, "\n" included, into buf (cap bytes). Returns its
 * length, or 0 if it does not fit (CHATP_FILTER_LINE_MAX + 1 bytes always
 * fit a request whose strings are within the broker's limits).
 */
size_t chatp_filter_write_request(const chatp_filter_request *r, char *buf,
                                  size_t cap);

/*
 * Read one request line (len bytes, no "\n"). Strings are decoded into buf
 * (cap bytes; len + 1 always suffice) and r points into it. Returns 0, or
 * -1 if the line is not exactly a request (r is then unspecified).
 */
int chatp_filter_read_request(const char *line, size_t len,
                              chatp_filter_request *r, char *buf, size_t cap);

/* Write a as one line, "\n" included. Returns its length, or 0 if it does
 * not fit or a->verdict is not ALLOW, DROP or REWRITE. */
size_t chatp_filter_write_answer(const chatp_filter_answer *a, char *buf,
                                 size_t cap);

/*
 * Read one answer line (len bytes, no "\n"): members id and verdict
 * ("allow", "drop" or "rewrite"), and text exactly when the verdict is
 * rewrite, at most CHAT_MAX_LINE bytes once decoded. Strings are decoded
 * into buf (cap bytes; len + 1 always suffice). Returns 0, or -1 for
 * anything else (a->id is then unspecified: garbage names no request).
 */
int chatp_filter_read_answer(const char *line, size_t len,
                             chatp_filter_answer *a, char *buf, size_t cap);

#endif /* CHATP_FILTERPROTO_H */
