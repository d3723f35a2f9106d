/*
 * SIGPIPE, for programs that write to sockets. Part of common/, the
 * programs' internal library (see netaddr.h).
 */
#ifndef CHATP_SIGPIPE_H
#define CHATP_SIGPIPE_H

/*
 * Ignore SIGPIPE for the whole process: a write to a socket the other end
 * closed then fails with EPIPE, which the program handles, instead of
 * killing it. Returns 0, or -1 with errno set (sigaction failed).
 */
int chatp_ignore_sigpipe(void);

#endif /* CHATP_SIGPIPE_H */
