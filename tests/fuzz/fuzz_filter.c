/*
 * Fuzz the --filter-exec protocol (common/filterproto.c, json.c): what a
 * filter program writes is read as an answer, and as a request (the
 * example filter's side). Whatever is accepted must obey the format
 * (doc/filter.md) and survive being written and read again unchanged;
 * nothing may be read or written out of bounds. The input's first byte
 * also builds a request from the rest, which must read back exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filterproto.h"

#define LINE (CHATP_FILTER_LINE_MAX + 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void answer_round_trip(const char *in, size_t n)
{
    static char buf[LINE], line[LINE], buf2[LINE];
    chatp_filter_answer a, b;
    size_t len;

    /* len + 1 bytes suffice (filterproto.h): a bigger buffer changes
     * nothing. */
    if (chatp_filter_read_answer(in, n, &a, buf, n + 1) != 0) {
        check(n >= LINE ||
              chatp_filter_read_answer(in, n, &b, buf2, sizeof buf2) != 0);
        return;
    }
    check(a.verdict == CHAT_FILTER_ALLOW || a.verdict == CHAT_FILTER_DROP ||
          a.verdict == CHAT_FILTER_REWRITE);
    check((a.text != NULL) == (a.verdict == CHAT_FILTER_REWRITE));
    check(a.len <= CHAT_MAX_LINE);
    len = chatp_filter_write_answer(&a, line, sizeof line);
    check(len > 0 && line[len - 1] == '\n');
    check(chatp_filter_read_answer(line, len - 1, &b, buf2, sizeof buf2) == 0);
    check(b.id == a.id && b.verdict == a.verdict && b.len == a.len);
    check(a.len == 0 || memcmp(a.text, b.text, a.len) == 0);
}

static int same_request(const chatp_filter_request *a,
                        const chatp_filter_request *b)
{
    return a->id == b->id && a->kind == b->kind &&
           strcmp(a->sender, b->sender) == 0 &&
           (a->room ? b->room && strcmp(a->room, b->room) == 0 : !b->room) &&
           a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

static void request_round_trip(const char *in, size_t n)
{
    static char buf[LINE], line[8 * LINE], buf2[8 * LINE];
    chatp_filter_request r, s;
    size_t len;

    if (n >= LINE)
        return;
    if (chatp_filter_read_request(in, n, &r, buf, n + 1) != 0) {
        check(chatp_filter_read_request(in, n, &s, buf2, sizeof buf2) != 0);
        return;
    }
    check(r.kind >= CHAT_KIND_CHAT && r.kind <= CHAT_KIND_DIRECT);
    check((r.room == NULL) == (r.kind == CHAT_KIND_DIRECT));
    /* At most 6 bytes written per byte read (a raw DEL, escaped). */
    len = chatp_filter_write_request(&r, line, sizeof line);
    check(len > 0 && line[len - 1] == '\n');
    check(chatp_filter_read_request(line, len - 1, &s, buf2, len) == 0);
    check(same_request(&r, &s));
}

/* The request chatd would write for text made of the input's bytes as
 * ASCII without NUL (chatd's texts are valid UTF-8, sanitized). */
static void written_request(const uint8_t *data, size_t size)
{
    static char text[CHAT_MAX_LINE], line[LINE], buf[LINE];
    chatp_filter_request r = {0}, s;
    size_t n = size < CHAT_MAX_LINE ? size : CHAT_MAX_LINE, len;

    for (size_t i = 0; i < n; i++)
        text[i] = (char)(data[i] & 0x7f ? data[i] & 0x7f : 1);
    r.id = size * 2654435761u;
    r.kind = (chat_msg_kind)(CHAT_KIND_CHAT + (size ? data[0] % 3 : 0));
    r.sender = "someone";
    r.room = r.kind == CHAT_KIND_DIRECT ? NULL : "main";
    r.text = text;
    r.len = n;
    len = chatp_filter_write_request(&r, line, sizeof line);
    check(len > 0 && len <= CHATP_FILTER_LINE_MAX);
    check(chatp_filter_read_request(line, len - 1, &s, buf, len) == 0);
    check(same_request(&r, &s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes: ASan sees any read past the end. */
    char *in = malloc(size ? size : 1);

    if (!in)
        return 0;
    memcpy(in, data, size);
    answer_round_trip(in, size);
    request_round_trip(in, size);
    written_request(data, size);
    free(in);
    return 0;
}
