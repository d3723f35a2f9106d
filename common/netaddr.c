/* Host and port on the command line. See netaddr.h. */
#define _POSIX_C_SOURCE 200809L

#include "netaddr.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

int chatp_port_valid(const char *s, unsigned min)
{
    unsigned v = 0;

    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (unsigned)(*s - '0');
        if (v > 65535) /* stop before a long string of digits overflows */
            return 0;
    }
    return v >= min;
}

char *chatp_host_unbracket(char *host)
{
    size_t n = strlen(host);

    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        return host + 1;
    }
    return host;
}

int chatp_resolve(const char *host, const char *port, int passive,
                  struct addrinfo **res)
{
    struct addrinfo hints;
    int err;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    /* The port was checked as a number: never look it up as a service. */
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    err = getaddrinfo(host, port, &hints, res);
    if (err != 0)
        *res = NULL; /* POSIX leaves it unspecified; callers may free it */
    return err;
}

const char *chatp_resolve_strerror(int err)
{
    /* gai_strerror(EAI_SYSTEM) is only "System error"; errno says which. */
    return err == EAI_SYSTEM ? strerror(errno) : gai_strerror(err);
}
