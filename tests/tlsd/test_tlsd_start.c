/*
 * chatd's TLS flags at startup (issue 12): a certificate or key that is
 * missing, unreadable, not PEM, encrypted or not the certificate's, and a
 * tls:// or https:// listener without --tls-cert or --tls-key. Each is one
 * clear line on stderr naming the file (or the flag), a non-zero exit
 * (1 for a file, 2 for a flag, as for every bad flag; under valgrind a
 * leak on the way out turns it into 99), and nothing bound: the plain
 * listener's port and the TLS one's are free afterwards, and with the
 * plain port taken by someone else the error is still the file's, so the
 * files are checked before anything is bound. And the good case: both
 * listeners log their real ports and complete handshakes there.
 *
 * Run one case: CK_RUN_CASE=cert_missing ./test_tlsd_start.
 */
#define _GNU_SOURCE /* setenv */

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tlsd.h"

/* A socket bound to a free loopback port (not listening); its port. */
static int hold_port(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    loopback(&a, 0);
    ck_assert_msg(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                  getsockname(fd, (struct sockaddr *)&a, &len) == 0,
                  "cannot bind a loopback port: %s", strerror(errno));
    *port = ntohs(a.sin_port);
    return fd;
}

/* Whether a listener can be opened on port now, as chatd opens its own
 * (SO_REUSEADDR): nothing else holds it. */
static int port_free(int port)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    loopback(&a, port);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0;
    close(fd);
    return ok;
}

/* Two free ports: for the plain listener and the TLS one. */
static void two_ports(int *plain, int *tls)
{
    int a = hold_port(plain), b = hold_port(tls);

    close(a);
    close(b);
}

#define MAX_ARGS 24

/*
 * Run chatd with -p PLAIN, the listener url (its port TLS) and args, to
 * its exit: it must exit with status, print nothing on stdout and exactly
 * one line on stderr holding each of want[] (NULL-terminated). Done twice:
 * with the plain port free (afterwards both ports are still free and no
 * listener was announced), then with it held by the test (the same line:
 * chatd gave up before binding anything).
 */
static void fails_cleanly(const char *scheme, const char *const *args,
                          int status, const char *const *want)
{
    static char out[4096], err[8192];
    char port_arg[16], url[64];
    const char *argv[MAX_ARGS];
    int plain, tls, n = 0;

    two_ports(&plain, &tls);
    snprintf(port_arg, sizeof port_arg, "%d", plain);
    snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, tls);
    argv[n++] = "-p";
    argv[n++] = port_arg;
    argv[n++] = "--listen";
    argv[n++] = url;
    for (; args && *args && n < MAX_ARGS - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;

    for (int held = 0; held < 2; held++) {
        int fd = -1, rc;
        char *nl;

        if (held) {
            fd = hold_port(&plain);
            snprintf(port_arg, sizeof port_arg, "%d", plain);
        }
        rc = chatd_run(argv, 10000 * harness_slowdown(), out, sizeof out, err,
                       sizeof err);
        if (fd >= 0)
            close(fd);
        ck_assert_msg(rc == status, "%s: exit %d, want %d; stderr: %s",
                      held ? "port held" : "ports free", rc, status, err);
        ck_assert_msg(out[0] == '\0', "something on stdout: %s", out);
        nl = strchr(err, '\n');
        ck_assert_msg(nl && nl[1] == '\0', "want one line on stderr, got: %s",
                      err);
        for (const char *const *w = want; *w; w++)
            ck_assert_msg(strstr(err, *w), "'%s' not in the error: %s", *w,
                          err);
        ck_assert_msg(!strstr(err, "listening on"), "a listener: %s", err);
        if (!held)
            ck_assert_msg(port_free(plain) && port_free(tls),
                          "a port is still bound after chatd exited");
    }
    fprintf(stderr, "chatd said: %s", err);
}

/*
 * --tls-cert cert --tls-key key (names in the certificate directory) on a
 * tls:// listener: exit 1, and one line naming the file `named` (also a
 * name in that directory) with what in it.
 */
static void files_fail(const char *cert, const char *key, const char *named,
                       const char *what)
{
    static char c[256], k[256], n[256];
    const char *args[] = {"--tls-cert", c, "--tls-key", k, NULL};
    const char *want[] = {n, what, NULL};

    snprintf(c, sizeof c, "%s", cert_path(cert));
    snprintf(k, sizeof k, "%s", cert_path(key));
    snprintf(n, sizeof n, "%s", cert_path(named));
    fails_cleanly("tls", args, 1, want);
}

CHAT_CASE(cert_missing)
{
    files_fail("nothing.pem", "cert.key", "nothing.pem", "No such file");
}
END_TEST

CHAT_CASE(key_missing)
{
    files_fail("cert.pem", "nothing.key", "nothing.key", "No such file");
}
END_TEST

/* A directory where a file should be: opened, but not read. */
CHAT_CASE(cert_is_a_directory)
{
    ck_assert_msg(mkdir(cert_path("dir.pem"), 0755) == 0, "mkdir: %s",
                  strerror(errno));
    files_fail("dir.pem", "cert.key", "dir.pem", "Is a directory");
}
END_TEST

/*
 * Files chatd may not read (mode 000). Root reads anything, so as root
 * chatd runs as nobody (setpriv before $CHATD_WRAPPER's words), in a
 * directory nobody may list, beside readable copies of the rest.
 */
static int unreadable_testable(void)
{
    return geteuid() != 0 || access("/usr/bin/setpriv", X_OK) == 0;
}

static void locked(const char *from, const char *to)
{
    cert_copy(from, to);
    ck_assert_msg(chmod(cert_path(to), 0) == 0, "chmod: %s", strerror(errno));
    if (geteuid() == 0) {
        static char wrapper[1024];
        const char *w = getenv("CHATD_WRAPPER");
        char dir[256];

        snprintf(dir, sizeof dir, "%s", cert_path(""));
        ck_assert_msg(chmod(dir, 0711) == 0, "chmod: %s", strerror(errno));
        snprintf(wrapper, sizeof wrapper,
                 "/usr/bin/setpriv --reuid=65534 --regid=65534 "
                 "--clear-groups %s", w ? w : "");
        setenv("CHATD_WRAPPER", wrapper, 1);
    }
}

CHAT_CASE_IF(cert_unreadable, unreadable_testable)
{
    locked("server.pem", "locked.pem");
    files_fail("locked.pem", "cert.key", "locked.pem", "Permission denied");
}
END_TEST

CHAT_CASE_IF(key_unreadable, unreadable_testable)
{
    locked("server.key", "locked.key");
    files_fail("cert.pem", "locked.key", "locked.key", "Permission denied");
}
END_TEST

CHAT_CASE(cert_not_pem)
{
    cert_write("junk.pem", "this is not a certificate\n");
    files_fail("junk.pem", "cert.key", "junk.pem", "certificate");
}
END_TEST

/* The key where the certificate should be, and a certificate where the
 * key should be. */
CHAT_CASE(files_swapped)
{
    files_fail("cert.key", "cert.key", "cert.key", "certificate");
    files_fail("cert.pem", "ca.pem", "ca.pem", "key");
}
END_TEST

/* A key of no certificate here, and the key of another certificate of the
 * same CA: neither is this certificate's, and the line names both files. */
CHAT_CASE(key_does_not_match)
{
    files_fail("cert.pem", "wrong.key", "wrong.key", "does not match");
    files_fail("cert.pem", "other.key", "other.key", "does not match");
    files_fail("cert.pem", "other.key", "cert.pem", "does not match");
}
END_TEST

CHAT_CASE(key_encrypted)
{
    files_fail("cert.pem", "enc.key", "enc.key", "passphrase");
}
END_TEST

/* A TLS listener given only some of the two files: exit 2 (a bad flag),
 * the listener and the missing flag named. */
static void flag_missing(const char *scheme, const char *given,
                         const char *missing)
{
    char url[16];
    const char *want[] = {url, missing, NULL};
    const char *file = given && strstr(given, "cert") ? "cert.pem"
                                                      : "cert.key";
    const char *args[] = {given, cert_path(file), NULL}; /* none if NULL */

    snprintf(url, sizeof url, "%s://", scheme);
    fails_cleanly(scheme, args, 2, want);
}

CHAT_CASE(tls_without_cert)
{
    flag_missing("tls", NULL, "--tls-cert");
    flag_missing("tls", "--tls-key", "--tls-cert");
}
END_TEST

CHAT_CASE(https_without_key)
{
    flag_missing("https", "--tls-cert", "--tls-key");
}
END_TEST

/* The https:// listener reads the same files: a bad one stops it too. */
CHAT_CASE(https_key_missing)
{
    static char c[256], k[256];
    const char *args[] = {"--tls-cert", c, "--tls-key", k, NULL};
    const char *want[] = {k, "No such file", NULL};

    snprintf(c, sizeof c, "%s", cert_path("cert.pem"));
    snprintf(k, sizeof k, "%s", cert_path("nothing.key"));
    fails_cleanly("https", args, 1, want);
}
END_TEST

/* Good files: each TLS listener logs its real port, and a client verified
 * against the test CA completes a handshake there. */
CHAT_CASE(listeners_log_real_ports)
{
    const char *args[] = {"--listen", "https://127.0.0.1:0", NULL};
    int https;
    const char *why = "";
    tls_user *u;

    tls_start(args);
    https = listen_port(&srv, "https");
    CHECK(tls_port > 0 && https > 0 && https != tls_port,
          "ports: tls %d, https %d", tls_port, https);
    u = tls_join();
    CHECK(strcmp(u->serial, cert_serial("server.pem")) == 0,
          "served serial %s", u->serial);
    tls_close(u);
    u = tls_connect(https, 0, &why);
    CHECK(u != NULL, "https:// handshake: %s", why);
    tls_close(u);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

/* CHAT_CASES: the CHAT_CASE lines above, as meson read them. */
#include "tlsd-start_cases.h"

int main(void)
{
    const harness_case cases[] = {CHAT_CASES};

    return tlsd_main("tlsd-start", cases, sizeof cases / sizeof cases[0]);
}
