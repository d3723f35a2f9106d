/* The public header must compile as strict C99 with -pedantic, so
 * embedders are not forced onto our C11 build flags. */
#include <libchat/chat.h>

int main(void)
{
    chat_broker *b = 0;
    return chat_broker_new(&b, 0) == CHAT_OK ? (chat_broker_free(b), 0) : 1;
}
