/*
 * What the tests of server/tls.c share: the throwaway certificates
 * (mkcerts.sh, run once per test program), a loopback TCP pair, loops
 * that drive chatd's side of a connection with poll() the way chatd's
 * events would, and a blocking OpenSSL client that runs a script in a
 * thread of its own.
 */
#ifndef TLS_HARNESS_H
#define TLS_HARNESS_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "tls.h"

/* How long any single expected event may take (ms). */
#define TT_WAIT_MS 5000

/* ---- certificates ---------------------------------------------------------- */

/* Run mkcerts.sh (path in script) into a fresh temporary directory;
 * exits the program if that fails. */
void tt_make_certs(const char *script);
/* Remove the directory and everything in it. */
void tt_remove_certs(void);
/* The full path of name in that directory (a static buffer of 4, used in
 * turn: good for the arguments of one call). */
const char *tt_path(const char *name);

/* ---- sockets ------------------------------------------------------------------ */

/* A connected loopback TCP pair: *server non-blocking (chatd's side),
 * *client blocking. */
void tt_tcp_pair(int *server, int *client);
/* A listening loopback socket on a free port; its port in *port. */
int tt_listener(int *port);
/* Accept one connection on lfd within TT_WAIT_MS: non-blocking fd, or -1. */
int tt_accept(int lfd);
/* poll() fd for events up to ms; returns revents (0: timed out). */
short tt_poll(int fd, short events, int ms);

/* ---- chatd's side, driven as its events would ------------------------------ */

/* Call chatd_tls_handshake until DONE or ERROR, waiting as it asks. */
int tt_handshake(struct chatd_tls *t, int fd);
/* Call chatd_tls_read until it returns bytes, EOF or ERROR. */
ssize_t tt_read(struct chatd_tls *t, int fd, void *buf, size_t cap);
/* Read until EOF or ERROR (which is returned), appending up to cap bytes to
 * buf and adding the count to *len. */
int tt_read_to_end(struct chatd_tls *t, int fd, char *buf, size_t cap,
                   size_t *len);
/* Call chatd_tls_shutdown until it is not WANT_WRITE, waiting for room. */
int tt_shutdown(struct chatd_tls *t, int fd);
/* Write all len bytes; 0, or the failing result. */
int tt_write_all(struct chatd_tls *t, int fd, const void *data, size_t len);

/* ---- the client ------------------------------------------------------------------ */

struct tt_client;
typedef void tt_script(struct tt_client *c);

struct tt_client {
    /* set before tt_client_start */
    int fd;
    int max_version;       /* e.g. TLS1_2_VERSION; 0: any */
    int old_protocols;     /* offer TLS 1.0/1.1 (security level 0) */
    const char *ciphers;   /* TLS 1.2 cipher list; NULL: OpenSSL's */
    const char *cafile;    /* NULL: the test CA */
    SSL_SESSION *session;  /* try to resume it */
    tt_script *script;
    const char *send;      /* what tt_script_talk writes */

    /* the client's own */
    pthread_t thread;
    SSL_CTX *ctx;
    SSL *ssl;
    int go[2];             /* the test tells the script to go on */

    /* results, read after tt_client_join */
    int connected;         /* SSL_connect succeeded and verified */
    unsigned long error;   /* ERR_get_error() where it failed */
    int reused;            /* the session was resumed */
    char cn[64];           /* the server certificate's common name */
    char got[4096];        /* what it read */
    size_t got_len;
    int saw_close_notify;  /* a read ended with SSL_ERROR_ZERO_RETURN */
    SSL_SESSION *got_session; /* for a later resumption (tt_script_talk) */
};

/* Run c->script(c) in a new thread on fd (a blocking socket). */
void tt_client_start(struct tt_client *c, int fd, tt_script *script);
/* Wait for the script to end; frees the SSL objects, closes c->fd. */
void tt_client_join(struct tt_client *c);
/* Tell a script waiting in tt_client_wait_go to go on. */
void tt_client_go(struct tt_client *c);

/* Script steps, called from scripts (in the client's thread). */
int tt_client_connect(struct tt_client *c);  /* 0 connected and verified */
void tt_client_wait_go(struct tt_client *c);
void tt_client_read_to_end(struct tt_client *c); /* till close or error */
void tt_client_read_n(struct tt_client *c, size_t n);

/* Ready-made scripts. */
tt_script tt_script_handshake_only; /* connect, wait for go, close (no
                                       close_notify) */
tt_script tt_script_talk;           /* connect, write c->send, read to the
                                       end, answer close_notify */

#endif /* TLS_HARNESS_H */
