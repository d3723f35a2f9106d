/*
 * A program outside the tree: built by run.sh with exactly
 *   cc prog.c $(pkg-config --cflags --libs libchat)
 * against an installed libchat. Two peers join, one says hi, the other
 * must receive "{name}: hi".
 */
#include <stdio.h>
#include <string.h>

#include <libchat/chat.h>

/* Append all of p's pending output to out (NUL-terminated, cap bytes). */
static void drain(chat_broker *b, chat_peer *p, char *out, size_t cap)
{
    size_t used = strlen(out);
    while (chat_peer_pending(p) > 0) {
        chat_iov iov[8];
        size_t k = chat_peer_peek(p, iov, 8), n = 0;
        for (size_t i = 0; i < k; i++) {
            size_t take = iov[i].len < cap - 1 - used ? iov[i].len : cap - 1 - used;
            memcpy(out + used, iov[i].base, take);
            used += take;
            n += iov[i].len;
        }
        out[used] = '\0';
        chat_peer_consume(b, p, n, 0);
    }
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "prog: %s: %s\n", what, chat_strerror(err));
    return 1;
}

int main(void)
{
    static char out_a[65536], out_b[65536];
    char want[64];
    chat_broker *b = NULL;
    chat_peer *a, *p;
    int err;

    printf("libchat %s\n", chat_version());
    if ((err = chat_broker_new(&b, NULL)) != CHAT_OK)
        return fail("chat_broker_new", err);
    if ((err = chat_broker_join(b, "a", 0, &a)) != CHAT_OK ||
        (err = chat_broker_join(b, "b", 0, &p)) != CHAT_OK) {
        chat_broker_free(b);
        return fail("chat_broker_join", err);
    }
    drain(b, a, out_a, sizeof(out_a));
    drain(b, p, out_b, sizeof(out_b));
    snprintf(want, sizeof(want), "%s: hi\n", chat_peer_name(a));
    out_b[0] = '\0';
    if ((err = chat_peer_feed(b, a, "hi\n", 3, 1)) != CHAT_OK) {
        chat_broker_free(b);
        return fail("chat_peer_feed", err);
    }
    drain(b, p, out_b, sizeof(out_b));
    chat_broker_free(b);
    if (strcmp(out_b, want) != 0) {
        fprintf(stderr, "prog: expected \"%s\", got \"%s\"\n", want, out_b);
        return 1;
    }
    printf("ok: %s", out_b);
    return 0;
}
