/*
 * censor - an example libchat filter that masks listed words.
 *
 * Each listed word found in a relayed message (chat, /me or direct) as a
 * whole word is replaced by asterisks, one per character, comparing ASCII
 * letters case-insensitively: with "heck" listed, "What the HECK?" becomes
 * "What the ****?" but "Hecktor" is left alone.
 *
 *     censor *c;
 *     const char *words[] = {"darn", "heck"};
 *     if (censor_new(&c, words, 2) == 0)
 *         chat_broker_add_filter(b, censor_filter, c);
 *     ...
 *     chat_broker_free(b);   // or chat_broker_remove_filter first
 *     censor_free(c);
 */
#ifndef EXAMPLE_CENSOR_H
#define EXAMPLE_CENSOR_H

#include <libchat/chat.h>

typedef struct censor censor;

/*
 * A censor for n words (copied; each 1..CHAT_MAX_LINE bytes, no spaces).
 * On success *out owns it. Returns 0, CHAT_ERR_INVALID for an empty or
 * too long word, or CHAT_ERR_NOMEM; *out is untouched on error.
 */
int censor_new(censor **out, const char *const *words, size_t n);

/* Free a censor. It must no longer be registered with a broker. NULL is ok. */
void censor_free(censor *c);

/* The chat_filter_fn; ctx is a censor. Rewrites if any word matched. */
chat_filter_verdict censor_filter(void *ctx, const chat_filter_msg *msg,
                                  char *buf, size_t *len);

#endif /* EXAMPLE_CENSOR_H */
