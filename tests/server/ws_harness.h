/*
 * Driving server/ws.c's decoder in tests: client streams built frame by
 * frame, fed whole, byte by byte or split anywhere, and the events
 * recorded in a form that does not depend on the split (adjacent pieces
 * of one text message are joined).
 */
#ifndef TESTS_SERVER_WS_HARNESS_H
#define TESTS_SERVER_WS_HARNESS_H

#include <stddef.h>

#include "ws.h"

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9,
       OP_PONG = 10 };
#define FIN 0x80u
#define RSV(n) ((unsigned)(n) << 4)

/* ---- building a client's stream ---------------------------------------- */

#define WS_STREAM_MAX (300 * 1024)

struct ws_stream {
    unsigned char buf[WS_STREAM_MAX];
    size_t len;
};

extern struct ws_stream st; /* the stream a test builds; reset per test */

void st_reset(void);
/* A frame with first byte b0 (FIN, RSV and opcode), masked. */
void st_put(unsigned b0, const void *payload, size_t n);
void st_put_str(unsigned b0, const char *s);
/* The same with no mask (a client must mask: these fail). */
void st_put_unmasked(unsigned b0, const void *payload, size_t n);
/* A frame header claiming a 64-bit length, with no payload after it. */
void st_put_len64(unsigned b0, unsigned long long len);

/* ---- recording events ---------------------------------------------------- */

#define WS_LOG_EVENTS 64

struct ws_ev {
    enum chatd_ws_event_type type;
    int fin;
    unsigned code;
    size_t off, len; /* the data, in the log's arena */
};

struct ws_log {
    struct ws_ev ev[WS_LOG_EVENTS];
    size_t n;
    size_t pieces;    /* TEXT events before joining */
    size_t used;      /* bytes the decoder consumed in all */
    int bad_piece;    /* an empty piece without fin was delivered */
    unsigned char *data;
    size_t data_len, cap;
};

/* Call once st holds the stream the log is for. */
void log_init(struct ws_log *lg);
void log_free(struct ws_log *lg);
const unsigned char *log_data(const struct ws_log *lg, size_t i);

/* Decode st in reads of chunk bytes (0: whole), each in a buffer of
 * exactly its size. max_message as in chatd_ws_init. */
void decode_chunks(const unsigned char *s, size_t n, size_t chunk,
                   unsigned long long max_message, struct ws_log *lg);
/* Decode in two reads, split at k. */
void decode_split(const unsigned char *s, size_t n, size_t k,
                  unsigned long long max_message, struct ws_log *lg);
/* Non-zero if two logs show the same events (FAIL reasons aside). */
int log_same(const struct ws_log *a, const struct ws_log *b);

/* ---- expectations -------------------------------------------------------- */

struct want {
    enum chatd_ws_event_type type;
    int fin;
    unsigned code;
    const void *data; /* NULL: not compared (FAIL's reason) */
    size_t len;
};

#define W_TEXT(s) {CHATD_WS_TEXT, 1, 0, s, sizeof(s) - 1}
#define W_PART(s) {CHATD_WS_TEXT, 0, 0, s, sizeof(s) - 1}
#define W_TEXTN(p, n) {CHATD_WS_TEXT, 1, 0, p, n}
#define W_PARTN(p, n) {CHATD_WS_TEXT, 0, 0, p, n}
#define W_PING(s) {CHATD_WS_PING, 0, 0, s, sizeof(s) - 1}
#define W_PINGN(p, n) {CHATD_WS_PING, 0, 0, p, n}
#define W_PONG(s) {CHATD_WS_PONG, 0, 0, s, sizeof(s) - 1}
#define W_CLOSE(code, s) {CHATD_WS_CLOSE, 0, code, s, sizeof(s) - 1}
#define W_CLOSEN(code, p, n) {CHATD_WS_CLOSE, 0, code, p, n}
#define W_FAIL(code) {CHATD_WS_FAIL, 0, code, NULL, 0}

/*
 * Decode st whole, byte by byte, in reads of 997 bytes and (when st is
 * short) split in two at every position; every way must give the same
 * events, and those must be want[0..n). Returns the bytes used.
 */
size_t expect_events(const struct want *want, size_t n);

#define EXPECT(...)                                                            \
    do {                                                                       \
        const struct want w_[] = {__VA_ARGS__};                                \
        expect_events(w_, sizeof w_ / sizeof w_[0]);                           \
    } while (0)

#define EXPECT_NOTHING() expect_events(NULL, 0)

/* Run a suite; the exit status for main(). (test_http.c uses this too:
 * the harness is the one library both suites link.) */
struct Suite;
int run_suite(struct Suite *s);

#endif /* TESTS_SERVER_WS_HARNESS_H */
