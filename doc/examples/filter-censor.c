/*
 * filter-censor - the censor example filter (censor.h) as a program for
 * chatd --filter-exec: it reads one request per line on stdin and writes
 * one answer per line on stdout (doc/filter.md), until stdin ends.
 *
 *     chatd --filter-exec 'build/doc/examples/filter-censor darn heck'
 *
 * Every chat line, /me and direct message is then masked for every
 * recipient: "what the heck" arrives as "what the ****". Words are given
 * as arguments (default: darn heck).
 *
 * The JSON is read and written by common/filterproto.h, chatd's own
 * implementation of the protocol; a filter in another language would use
 * its JSON library instead. A request it cannot read is reported on
 * stderr and skipped: without its id there is nothing to answer, and
 * chatd applies its fallback when the answer does not come.
 */
#include <stdio.h>
#include <string.h>

#include <libchat/chat.h>

#include "censor.h"
#include "filterproto.h"

/* Room for a request line, its "\n" and the NUL fgets adds. */
#define LINE_BUF (CHATP_FILTER_LINE_MAX + 2)

/* The answer to one request, as censor_filter decides it. */
static size_t decide(censor *c, const chatp_filter_request *r, char *out,
                     size_t size)
{
    chat_filter_msg m = {r->kind, r->sender, r->room, r->text, r->len, 0};
    char text[CHAT_MAX_LINE];
    chatp_filter_answer a = {r->id, CHAT_FILTER_ALLOW, NULL, 0};

    if (r->len <= CHAT_MAX_LINE &&
        censor_filter(c, &m, text, &a.len) == CHAT_FILTER_REWRITE) {
        a.verdict = CHAT_FILTER_REWRITE;
        a.text = text;
    }
    return chatp_filter_write_answer(&a, out, size);
}

/* Skip the rest of a line too long for the buffer. */
static void skip_line(void)
{
    int ch;

    while ((ch = getchar()) != EOF && ch != '\n')
        ;
}

/* Answer one line read from stdin; -1 if stdout is gone. */
static int handle(censor *c, const char *line, size_t len)
{
    static char buf[LINE_BUF], out[LINE_BUF];
    chatp_filter_request r;
    size_t n;

    if (chatp_filter_read_request(line, len, &r, buf, sizeof buf) != 0) {
        fprintf(stderr, "filter-censor: not a request: %.60s\n", line);
        return 0;
    }
    n = decide(c, &r, out, sizeof out);
    /* Flushed per answer: chatd waits for it. */
    if (n == 0 || fwrite(out, 1, n, stdout) != n || fflush(stdout) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const fallback_words[] = {"darn", "heck"};
    static char line[LINE_BUF];
    const char *const *words = argc > 1 ? (const char *const *)argv + 1
                                        : fallback_words;
    size_t nwords = argc > 1 ? (size_t)argc - 1 : 2;
    censor *c;
    int status = 0;

    if (censor_new(&c, words, nwords) != CHAT_OK) {
        fprintf(stderr, "filter-censor: words must be 1 to %d bytes\n",
                CHAT_MAX_LINE);
        return 2;
    }
    while (status == 0 && fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') {
            if (len == sizeof line - 1) { /* too long: not a request */
                fprintf(stderr, "filter-censor: line too long, skipped\n");
                skip_line();
                continue;
            }
        } else {
            line[--len] = '\0';
        }
        status = handle(c, line, len);
    }
    censor_free(c);
    return status == 0 ? 0 : 1;
}
