/* Text rules of doc/protocol.md: UTF-8, control characters, names. */
#ifndef CHAT_TEXT_H
#define CHAT_TEXT_H

#include <stddef.h>

/* Non-zero if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF). */
int chat_utf8_valid(const char *s, size_t n);

/*
 * Copy valid UTF-8 text s[0..n) to out (at least n bytes) without control
 * characters (C0 but TAB, DEL, C1) and with leading and trailing spaces and
 * tabs trimmed. Returns the new length (0: nothing left).
 */
size_t chat_text_sanitize(char *out, const char *s, size_t n);

/* chat_name_valid() is public: include/libchat/common.h. */
/* Non-zero if c may appear in a name ([A-Za-z0-9_-]). */
int chat_name_char(char c);
#include <libchat/common.h>

/* Lowercase ASCII copy of s[0..n) into out, NUL-terminated (n+1 bytes). */
void chat_fold(char *out, const char *s, size_t n);

/* ASCII case-insensitive comparison of NUL-terminated strings, then by
 * bytes so the order is total. */
int chat_name_cmp(const char *a, const char *b);

/* ASCII case-insensitive equality of s[0..n) and NUL-terminated word. */
int chat_word_eq(const char *s, size_t n, const char *word);

#endif
