/*
 * common/, the programs' internal library: port numbers, "[host]",
 * resolving, the fd limit, a refused flag and its message, SIGPIPE. The
 * programs' own tests cover what they build on these; here are the edges.
 */
#define _GNU_SOURCE /* getopt_long */

#include <check.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdlimit.h"
#include "netaddr.h"
#include "optflag.h"
#include "sigpipe.h"

/* ---- ports ------------------------------------------------------------- */

static const struct {
    const char *s;
    unsigned min;
    int valid;
} ports[] = {
    {"0", 0, 1},     {"0", 1, 0},        {"1", 1, 1},
    {"4242", 1, 1},  {"65535", 1, 1},    {"65536", 0, 0},
    {"00080", 1, 1}, {"", 0, 0},         {"+1", 0, 0},
    {"-1", 0, 0},    {" 1", 0, 0},       {"1 ", 0, 0},
    {"42x", 0, 0},   {"0x10", 0, 0},     {"99999999999999999999999", 0, 0},
};

START_TEST(test_port)
{
    ck_assert_msg(chatp_port_valid(ports[_i].s, ports[_i].min) ==
                      ports[_i].valid,
                  "'%s' from %u", ports[_i].s, ports[_i].min);
}
END_TEST

/* ---- hosts ------------------------------------------------------------- */

static const char *const hosts[][2] = {
    {"[::1]", "::1"},         {"::1", "::1"},
    {"[]", ""},               {"[::1", "[::1"},
    {"::1]", "::1]"},         {"localhost", "localhost"},
    {"[", "["},               {"", ""},
};

START_TEST(test_unbracket)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%s", hosts[_i][0]);
    ck_assert_str_eq(chatp_host_unbracket(buf), hosts[_i][1]);
}
END_TEST

START_TEST(test_resolve)
{
    struct addrinfo dummy, *res = &dummy; /* see that failure clears it */
    int err;

    ck_assert_int_eq(chatp_resolve("127.0.0.1", "4242", 0, &res), 0);
    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(res->ai_socktype, SOCK_STREAM);
    freeaddrinfo(res);
    /* A numeric port only: no service-name lookup. */
    err = chatp_resolve("127.0.0.1", "http", 0, &res);
    ck_assert_int_ne(err, 0);
    ck_assert_ptr_null(res);
    ck_assert_ptr_nonnull(chatp_resolve_strerror(err));
    ck_assert_int_eq(chatp_resolve(NULL, "0", 1, &res), 0);
    freeaddrinfo(res);
}
END_TEST

/* ---- the fd limit ------------------------------------------------------ */

START_TEST(test_fd_limit)
{
    struct rlimit before, after;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &before), 0);
    ck_assert_int_eq(chatp_raise_fd_limit(&after), 0);
    ck_assert(after.rlim_cur == before.rlim_max);
    ck_assert(after.rlim_max == before.rlim_max);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &before), 0);
    ck_assert(before.rlim_cur == after.rlim_cur);
}
END_TEST

/* ---- SIGPIPE ----------------------------------------------------------- */

START_TEST(test_sigpipe)
{
    int sv[2];

    ck_assert_int_eq(chatp_ignore_sigpipe(), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    /* Check forks each test: a SIGPIPE here would show as an error. */
    ck_assert_int_eq(write(sv[0], "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    close(sv[0]);
}
END_TEST

/* ---- refused flags ----------------------------------------------------- */

static const struct option long_opts[] = {
    {"port", required_argument, NULL, 'p'},
    {"room", required_argument, NULL, 256},
    {"verbose", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

/* argv (a NULL-ended list after the program name), then the flag getopt
 * refused, as typed. */
static const char *const refused[][4] = {
    {"-x", NULL, NULL, "-x"},
    {"-vx", NULL, NULL, "-x"},
    {"-xv", NULL, NULL, "-x"}, /* optind still on -xv: not argv[0] */
    {"-v", "-p", NULL, "-p"},
    {"-vp", NULL, NULL, "-p"},
    {"--port", NULL, NULL, "--port"},
    {"--room", NULL, NULL, "--room"},
    {"--bogus", NULL, NULL, "--bogus"},
    {"--verbose=2", NULL, NULL, "--verbose=2"},
};

/* chatp_bad_flag's line for what getopt returned (c) about flag. */
static void check_bad_flag_line(int c, char **argv, const char *flag)
{
    char *got = NULL, want[128];
    size_t len = 0;
    FILE *f = open_memstream(&got, &len);

    ck_assert_ptr_nonnull(f);
    chatp_bad_flag(f, "prog", c, argv);
    fclose(f);
    snprintf(want, sizeof want, "prog: %s '%s' (try prog --help)\n",
             c == ':' ? "missing value for" : "unknown option", flag);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(test_flag_as_typed)
{
    char *argv[5], store[4][16], buf[3];
    int argc = 0, c;

    argv[argc++] = strcpy(store[0], "prog");
    for (int i = 0; i < 3 && refused[_i][i]; i++, argc++)
        argv[argc] = strcpy(store[argc], refused[_i][i]);
    argv[argc] = NULL;
    opterr = 0;
    optind = 0; /* glibc: start over, forgetting a half-read group */
    while ((c = getopt_long(argc, argv, ":p:v", long_opts, NULL)) != -1)
        if (c == '?' || c == ':')
            break;
    ck_assert_msg(c == '?' || c == ':', "getopt refused nothing");
    ck_assert_str_eq(chatp_flag_as_typed(argv, buf), refused[_i][3]);
    check_bad_flag_line(c, argv, refused[_i][3]);
}
END_TEST

static Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *net = tcase_create("netaddr");
    TCase *fd = tcase_create("fdlimit");
    TCase *opt = tcase_create("optflag");
    TCase *sig = tcase_create("sigpipe");

    tcase_add_loop_test(net, test_port, 0, (int)(sizeof ports / sizeof *ports));
    tcase_add_loop_test(net, test_unbracket, 0,
                        (int)(sizeof hosts / sizeof *hosts));
    tcase_add_test(net, test_resolve);
    tcase_add_test(fd, test_fd_limit);
    tcase_add_loop_test(opt, test_flag_as_typed, 0,
                        (int)(sizeof refused / sizeof *refused));
    suite_add_tcase(s, net);
    suite_add_tcase(s, fd);
    tcase_add_test(sig, test_sigpipe);
    suite_add_tcase(s, opt);
    suite_add_tcase(s, sig);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(common_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
