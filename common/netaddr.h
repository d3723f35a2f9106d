/*
 * Host and port on the command line, read the same way by chatd, chat-cli
 * and chat-bench: a port number, a host that may be written "[::1]", and
 * resolving the pair for TCP.
 *
 * common/ is the programs' internal library: not part of libchat, not
 * installed, names prefixed chatp_ ("chat programs").
 */
#ifndef CHATP_NETADDR_H
#define CHATP_NETADDR_H

struct addrinfo;

/*
 * 1 if s is a decimal port number from min to 65535, else 0: digits only,
 * no sign, no spaces. min is 0 for a server (0 picks a free port) and 1 for
 * a client.
 */
int chatp_port_valid(const char *s, unsigned min);

/*
 * host without the brackets of "[::1]" (URLs bracket IPv6 literals), or
 * host itself. Cuts the closing bracket in place; the result points into
 * host and may be "" (for "[]").
 */
char *chatp_host_unbracket(char *host);

/*
 * getaddrinfo() for a TCP host and numeric port, any address family;
 * passive for an address to listen on. Returns 0 with *res set (the
 * caller frees it with freeaddrinfo), or getaddrinfo's error code with
 * *res NULL: chatp_resolve_strerror() says it in words.
 */
int chatp_resolve(const char *host, const char *port, int passive,
                  struct addrinfo **res);

/*
 * The text for a chatp_resolve() error; EAI_SYSTEM is told by errno, so
 * call this before anything else can change errno. A static string.
 */
const char *chatp_resolve_strerror(int err);

#endif /* CHATP_NETADDR_H */
