/* libchat - umbrella header: #include <libchat/chat.h> */
#ifndef LIBCHAT_CHAT_H
#define LIBCHAT_CHAT_H

#include "common.h"
#include "framer.h"
#include "broker.h"
#include "cluster.h"

#endif /* LIBCHAT_CHAT_H */
