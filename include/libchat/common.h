/*
 * libchat - common definitions: export macro, error codes, limits, allocator.
 *
 * Every public symbol is prefixed chat_ / CHAT_. Functions that can fail
 * return a chat_error (0 or a negative code); chat_strerror() names it.
 */
#ifndef LIBCHAT_COMMON_H
#define LIBCHAT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CHAT_EXTERN marks the exported API; everything else in the shared library
 * is built with -fvisibility=hidden. */
#if defined(_WIN32)
#  define CHAT_EXTERN
#elif defined(BUILDING_LIBCHAT) && defined(__GNUC__)
#  define CHAT_EXTERN __attribute__((visibility("default")))
#else
#  define CHAT_EXTERN
#endif

/* Protocol limits (doc/protocol.md, "Lines" and "Names and rooms"). */
#define CHAT_MAX_LINE 400 /* bytes of a line, terminator not counted */
#define CHAT_NAME_MIN 2   /* characters of a user or room name */
#define CHAT_NAME_MAX 24

/* Error codes: 0 is success, failures are negative. */
typedef enum chat_error {
    CHAT_OK = 0,
    CHAT_ERR_NOMEM = -1,     /* an allocation failed; nothing was changed */
    CHAT_ERR_INVALID = -2,   /* an argument is out of range or malformed */
    CHAT_ERR_STATE = -3,     /* not allowed now (peer closing, broker shut down) */
    CHAT_ERR_NOT_FOUND = -4, /* no such filter / object */
} chat_error;

/* A static, human-readable description of a chat_error (never NULL). */
CHAT_EXTERN const char *chat_strerror(int err);

/* The library version, "MAJOR.MINOR.PATCH" (static string). */
CHAT_EXTERN const char *chat_version(void);

/*
 * Non-zero if s[0..n) is a valid user or room name: CHAT_NAME_MIN to
 * CHAT_NAME_MAX characters of [A-Za-z0-9_-]. The broker applies exactly this
 * rule to /name, /join and logins; a client can check a name before sending
 * it. s need not be NUL-terminated; it is only read.
 */
CHAT_EXTERN int chat_name_valid(const char *s, size_t n);

/*
 * An allocator: every allocation a broker or framer makes goes through the
 * one it was created with, so an embedder can account memory and tests can
 * fail allocations. Pass NULL wherever one is taken to use malloc/free.
 * realloc may be NULL; then malloc+copy+free is used. The struct is copied:
 * it need not outlive the call that takes it, but ctx must outlive the object.
 */
typedef struct chat_allocator {
    void *(*malloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} chat_allocator;

#ifdef __cplusplus
}
#endif

#endif /* LIBCHAT_COMMON_H */
