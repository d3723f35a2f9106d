/* hello - the smallest complete libchat program: two peers, one line. */
#include <stdio.h>
#include <string.h>

#include <libchat/chat.h>

/* Stand-in for a socket: print each line as "[who] line", say how much was
 * "written" (all of it; a socket may take less). */
static size_t write_out(const char *who, const chat_iov *iov, size_t k)
{
    size_t n = 0;
    for (size_t i = 0; i < k; i++) {
        const char *s = iov[i].base, *end = s + iov[i].len;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            int len = (int)(nl ? nl + 1 - s : end - s);
            printf("[%s] %.*s", who, len, s);
            s += len;
        }
        n += iov[i].len;
    }
    return n;
}

/* The loop pass: write every peer that has output, release closed ones. */
static void flush(chat_broker *b, uint64_t now)
{
    chat_peer *p;
    while ((p = chat_broker_next_ready(b)) != NULL) {
        chat_iov iov[16];
        size_t k = chat_peer_peek(p, iov, 16);
        size_t w = write_out(chat_peer_user(p), iov, k);
        chat_peer_consume(b, p, w, now);
        if (chat_peer_close_reason(p) && !chat_peer_pending(p))
            chat_peer_release(b, p, now);
    }
}

int main(void)
{
    chat_broker *b;
    chat_peer *ann, *bo;
    uint64_t now = 0; /* a monotonic clock in ms; fake here */

    if (chat_broker_new(&b, NULL) != CHAT_OK)
        return 1;
    if (chat_broker_set_option(b, CHAT_OPT_LOGIN_MODE, 1) != CHAT_OK ||
        chat_broker_join(b, "ann", now, &ann) != CHAT_OK ||
        chat_broker_join(b, "bo", now, &bo) != CHAT_OK) {
        chat_broker_free(b);
        return 1;
    }
    chat_peer_feed(b, ann, "ann\n", 4, now);  /* login: first line is the name */
    chat_peer_feed(b, bo, "bo\n", 3, now);
    flush(b, now);
    chat_peer_feed(b, ann, "hi\n", 3, ++now); /* bo gets "ann: hi" */
    chat_peer_feed(b, bo, "/quit\n", 6, ++now);
    flush(b, now);
    chat_broker_free(b); /* also frees ann, still connected */
    return 0;
}
