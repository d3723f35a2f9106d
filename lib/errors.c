/* Error strings, version, close reasons. */
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

int chat_close_reason_flushes(chat_close_reason r)
{
    return r != CHAT_CLOSE_SLOW && r != CHAT_CLOSE_WRITE_TIMEOUT &&
           r != CHAT_CLOSE_NOMEM;
}

const char *chat_close_reason_str(chat_close_reason r)
{
    switch (r) {
    case CHAT_CLOSE_NONE: return "open";
    case CHAT_CLOSE_QUIT: return "quit";
    case CHAT_CLOSE_EOF: return "eof";
    case CHAT_CLOSE_IDLE: return "idle";
    case CHAT_CLOSE_LOGIN_TIMEOUT: return "login-timeout";
    case CHAT_CLOSE_FULL: return "full";
    case CHAT_CLOSE_SHUTDOWN: return "shutdown";
    case CHAT_CLOSE_SLOW: return "slow";
    case CHAT_CLOSE_WRITE_TIMEOUT: return "write-timeout";
    case CHAT_CLOSE_NOMEM: return "nomem";
    }
    return "unknown";
}
