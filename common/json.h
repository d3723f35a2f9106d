/*
 * Just enough JSON for one-object lines (chatd's --filter-exec protocol,
 * filterproto.h): writing strings and numbers, and a strict reader of a
 * flat object whose members are strings, non-negative integers or null.
 * Part of common/, the programs' internal library (see netaddr.h).
 *
 * Strict on purpose: a line from another program either is exactly what
 * the format allows or is garbage, never "close enough". No nesting,
 * no true/false, no fractions or signs, no duplicate or unknown members,
 * no invalid UTF-8, no NUL (\u0000), no lone surrogates.
 */
#ifndef CHATP_JSON_H
#define CHATP_JSON_H

#include <stddef.h>
#include <stdint.h>

/* ---- writing --------------------------------------------------------- */

/* An output buffer: the caller's cap bytes at buf. Writes past cap set
 * overflow and are dropped, so a caller checks once, at the end. */
typedef struct chatp_jout {
    char *buf;
    size_t cap;
    size_t len;
    int overflow;
} chatp_jout;

/* Start writing into buf (cap bytes). */
void chatp_jout_init(chatp_jout *o, char *buf, size_t cap);

/* Append s as it is (punctuation, member names already quoted). */
void chatp_jout_raw(chatp_jout *o, const char *s);

/* Append v in decimal. */
void chatp_jout_uint(chatp_jout *o, uint64_t v);

/*
 * Append s (len bytes) as a quoted JSON string: '"' and '\' escaped,
 * control characters (below 0x20, and DEL) as \n, \t... or \u00XX.
 * Other bytes are copied: s should be UTF-8 already. At most 6 bytes of
 * output per byte of s, plus 2.
 */
void chatp_jout_string(chatp_jout *o, const char *s, size_t len);

/* ---- reading --------------------------------------------------------- */

/* Types of member values, as bits of chatp_json_member.accept. */
enum {
    CHATP_JSON_NULL = 1,
    CHATP_JSON_UINT = 2,   /* 0 .. UINT64_MAX, no leading zeros */
    CHATP_JSON_STRING = 4,
};

/* One member a line may have: key and accept are the caller's question,
 * the rest the answer. */
typedef struct chatp_json_member {
    const char *key;  /* NUL-terminated member name */
    unsigned accept;  /* CHATP_JSON_* bits this member may be */
    unsigned type;    /* out: the CHATP_JSON_* it was, 0 if absent */
    uint64_t num;     /* out: the value of a UINT */
    const char *str;  /* out: a STRING, decoded, in the caller's buf */
    size_t len;       /* out: its length (no NUL in it; NUL-terminated) */
} chatp_json_member;

/*
 * Read in (len bytes: one line without its "\n") as one JSON object whose
 * members are all among m[0..n), each at most once and of a type it
 * accepts. Whitespace is allowed between tokens. Decoded strings are
 * written to buf (cap bytes; a line's strings never need more than len +
 * one byte per string) and stay valid while buf does. Members not present
 * have type 0: which are required is the caller's business. Returns 0,
 * or -1 for anything else; m's outputs are then unspecified.
 */
int chatp_json_parse_object(const char *in, size_t len, chatp_json_member *m,
                            size_t n, char *buf, size_t cap);

#endif /* CHATP_JSON_H */
