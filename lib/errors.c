/* Error strings and the version. */
#include <libchat/broker.h>

const char *chat_strerror(int err)
{
    switch (err) {
    case CHAT_OK: return "success";
    case CHAT_ERR_NOMEM: return "out of memory";
    case CHAT_ERR_INVALID: return "invalid argument";
    case CHAT_ERR_STATE: return "not allowed in the current state";
    case CHAT_ERR_NOT_FOUND: return "not found";
    default: return "unknown error";
    }
}

const char *chat_version(void) { return LIBCHAT_VERSION; }
