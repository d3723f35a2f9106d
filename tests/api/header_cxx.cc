// The public header must be usable from C++ (extern "C", no C-only syntax).
#include <libchat/chat.h>

int main()
{
    chat_broker *b = nullptr;
    if (chat_broker_new(&b, nullptr) != CHAT_OK)
        return 1;
    chat_broker_free(b);
    return 0;
}
