/*
 * chat-cli's parts without I/O: the command line, reading server lines
 * (colour class, name and room tracking, /quit) and the reconnect delays.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- server lines ------------------------------------------------------ */

static enum cli_kind kind(const char *line, const char *me, size_t *name_len)
{
    return cli_classify(line, strlen(line), me, name_len);
}

static const struct {
    const char *line;
    const char *me;
    enum cli_kind kind;
    size_t name_len; /* for CLI_KIND_OTHER: the coloured speaker prefix */
} kinds[] = {
    {"alice: hello", "alice", CLI_KIND_OWN, 0},
    {"Alice: hello", "alice", CLI_KIND_OWN, 0}, /* names ignore case */
    {"bob: hello", "alice", CLI_KIND_OTHER, 3},
    {"bob: hello", "", CLI_KIND_OTHER, 3},
    {"* alice waves", "alice", CLI_KIND_OWN, 0},
    {"* bob waves", "alice", CLI_KIND_OTHER, 5},
    {"from bob: psst", "alice", CLI_KIND_DIRECT, 0},
    {"to bob, nobody: psst", "alice", CLI_KIND_DIRECT, 0},
    {"No such user: nobody", "alice", CLI_KIND_ERROR, 0},
    {"Unrecognized command /dance, try /help", "alice", CLI_KIND_ERROR, 0},
    {"Usage: /join ROOM", "alice", CLI_KIND_ERROR, 0},
    {"Name must be 2-24 characters: letters, digits, _ or -", "a",
     CLI_KIND_ERROR, 0},
    {"Room must be 2-24 characters: letters, digits, _ or -", "a",
     CLI_KIND_ERROR, 0},
    {"bob is already taken", "alice", CLI_KIND_ERROR, 0},
    {"Messages can only be 400 bytes long", "alice", CLI_KIND_ERROR, 0},
    {"Messages must be valid UTF-8", "alice", CLI_KIND_ERROR, 0},
    {"You are sending too fast, slow down", "alice", CLI_KIND_ERROR, 0},
    {"Server is full, try again later", "", CLI_KIND_ERROR, 0},
    {"Server is very busy and dropped 3 messages, sorry!", "a",
     CLI_KIND_ERROR, 0},
    {"Server shutting down...", "alice", CLI_KIND_ERROR, 0},
    {"Disconnected for inactivity", "alice", CLI_KIND_ERROR, 0},
    {"bob joined main", "alice", CLI_KIND_NOTICE, 0},
    {"bob left main", "alice", CLI_KIND_NOTICE, 0},
    {"bob is now carol", "alice", CLI_KIND_NOTICE, 0},
    {"You are alice", "alice", CLI_KIND_NOTICE, 0},
    {"You joined main", "alice", CLI_KIND_NOTICE, 0},
    {"Server commands", "alice", CLI_KIND_NOTICE, 0},
    {"/help - show this help", "alice", CLI_KIND_NOTICE, 0},
    {"Rooms - main (2)", "alice", CLI_KIND_NOTICE, 0},
    {"Users - alice, bob", "alice", CLI_KIND_NOTICE, 0},
    {"Bye!", "alice", CLI_KIND_NOTICE, 0},
    {"", "alice", CLI_KIND_NOTICE, 0},
    {"x: one-letter names are not names", "x", CLI_KIND_NOTICE, 0},
};

START_TEST(test_classify)
{
    size_t n = 99;
    enum cli_kind k = kind(kinds[_i].line, kinds[_i].me, &n);

    ck_assert_msg(k == kinds[_i].kind, "'%s': kind %d, want %d",
                  kinds[_i].line, (int)k, (int)kinds[_i].kind);
    ck_assert_uint_eq(n, kinds[_i].name_len);
}
END_TEST

START_TEST(test_classify_no_name_len)
{
    ck_assert_int_eq(kind("bob: hi", "alice", NULL), CLI_KIND_OTHER);
}
END_TEST

static unsigned track(struct cli_session *s, const char *line)
{
    return cli_track(s, line, strlen(line));
}

START_TEST(test_track)
{
    struct cli_session s = {"", ""};

    ck_assert_uint_eq(track(&s, "Server commands"), 0);
    ck_assert_uint_eq(track(&s, "You are HushedLlama"),
                      CLI_TRACK_HELLO | CLI_TRACK_NAME);
    ck_assert_str_eq(s.name, "HushedLlama");
    ck_assert_uint_eq(track(&s, "You joined main"), CLI_TRACK_ROOM);
    ck_assert_str_eq(s.room, "main");
    ck_assert_uint_eq(track(&s, "You are in main"), 0);
    ck_assert_uint_eq(track(&s, "ZenMammoth is now bob"), 0); /* not me */
    ck_assert_str_eq(s.name, "HushedLlama");
    ck_assert_uint_eq(track(&s, "hushedllama is now alice"), CLI_TRACK_NAME);
    ck_assert_str_eq(s.name, "alice");
    ck_assert_uint_eq(track(&s, "alice is now Alice"), CLI_TRACK_NAME);
    ck_assert_str_eq(s.name, "Alice");
    ck_assert_uint_eq(track(&s, "Alice: alice is now bob"), 0);
    ck_assert_uint_eq(track(&s, "You joined Pizza"), CLI_TRACK_ROOM);
    ck_assert_str_eq(s.room, "Pizza");
    ck_assert_uint_eq(track(&s, "You joined Pizza"), 0); /* no change */
    ck_assert_uint_eq(track(&s, "You are Alice"), CLI_TRACK_HELLO);
}
END_TEST

START_TEST(test_is_quit)
{
    ck_assert(cli_is_quit("/quit", 5));
    ck_assert(cli_is_quit("/QUIT", 5));
    ck_assert(cli_is_quit("/quit now", 9));
    ck_assert(!cli_is_quit("/quitter", 8));
    ck_assert(!cli_is_quit("quit", 4));
    ck_assert(!cli_is_quit("/qui", 4));
}
END_TEST

START_TEST(test_line_is)
{
    ck_assert(cli_line_is("Server commands", 15, CLI_LINE_GREETING));
    ck_assert(!cli_line_is("Server commands!", 16, CLI_LINE_GREETING));
    ck_assert(!cli_line_is("Server", 6, CLI_LINE_GREETING));
}
END_TEST

/* ---- reconnect delays -------------------------------------------------- */

START_TEST(test_backoff_grows_and_caps)
{
    uint32_t prev_max = 0;

    for (unsigned a = 0; a < 40; a++) {
        uint32_t lo = cli_backoff_ms(a, 0), hi = cli_backoff_ms(a, UINT32_MAX);
        uint32_t full = lo * 2;

        ck_assert_uint_le(lo, hi);
        ck_assert_uint_le(hi, full);
        ck_assert_uint_le(hi, CLI_BACKOFF_CAP_MS);
        ck_assert_uint_ge(lo, CLI_BACKOFF_BASE_MS / 2);
        ck_assert_uint_ge(full, prev_max); /* never shrinks */
        prev_max = full;
    }
    ck_assert_uint_eq(cli_backoff_ms(0, 0), CLI_BACKOFF_BASE_MS / 2);
    ck_assert_uint_eq(cli_backoff_ms(1, 0), CLI_BACKOFF_BASE_MS);
    ck_assert_uint_eq(cli_backoff_ms(39, 0), CLI_BACKOFF_CAP_MS / 2);
    ck_assert_uint_eq(cli_backoff_ms(UINT32_MAX, 0), CLI_BACKOFF_CAP_MS / 2);
}
END_TEST

START_TEST(test_backoff_jitter_spreads)
{
    /* Different random values give different delays within [d/2, d]. */
    uint32_t a = cli_backoff_ms(3, 1), b = cli_backoff_ms(3, 1234567);

    ck_assert_uint_ne(a, b);
    ck_assert_uint_ge(a, 2000);
    ck_assert_uint_le(b, 4000);
}
END_TEST

/* ---- command line ------------------------------------------------------ */

struct parsed {
    enum cli_args_result rc;
    struct cli_opts o;
    char out[2048], err[512];
};

/* Parse a NULL-terminated list of words after "chat-cli". */
static void parse(struct parsed *p, const char *const *words)
{
    static char store[16][64];
    char *argv[17];
    int argc = 0;
    FILE *out = fmemopen(p->out, sizeof p->out, "w");
    FILE *err = fmemopen(p->err, sizeof p->err, "w");

    ck_assert(out && err);
    argv[argc++] = strcpy(store[0], "chat-cli");
    for (; *words && argc < 16; words++, argc++)
        argv[argc] = strcpy(store[argc], *words);
    argv[argc] = NULL;
    memset(p->out, 0, sizeof p->out);
    memset(p->err, 0, sizeof p->err);
    p->rc = cli_parse_args(&p->o, argc, argv, out, err);
    fclose(out);
    fclose(err);
}

#define PARSE(p, ...)                                                        \
    do {                                                                     \
        static const char *const w_[] = {__VA_ARGS__, NULL};                 \
        parse((p), w_);                                                      \
    } while (0)

START_TEST(test_args_defaults)
{
    static const char *const none[] = {NULL};
    struct parsed p;

    parse(&p, none);
    ck_assert_int_eq(p.rc, CLI_ARGS_RUN);
    ck_assert_str_eq(p.o.host, "127.0.0.1");
    ck_assert_str_eq(p.o.port, "4242");
    ck_assert_ptr_null(p.o.name);
    ck_assert_int_eq(p.o.reconnect, 0);
}
END_TEST

START_TEST(test_args_all)
{
    struct parsed p;

    PARSE(&p, "-h", "::1", "-p", "5000", "--name", "alice", "--reconnect");
    ck_assert_int_eq(p.rc, CLI_ARGS_RUN);
    ck_assert_str_eq(p.o.host, "::1");
    ck_assert_str_eq(p.o.port, "5000");
    ck_assert_str_eq(p.o.name, "alice");
    ck_assert_int_eq(p.o.reconnect, 1);
    PARSE(&p, "--host=[::1]", "--port=1", "-n", "bob", "-r");
    ck_assert_int_eq(p.rc, CLI_ARGS_RUN);
    ck_assert_str_eq(p.o.host, "::1");
    ck_assert_str_eq(p.o.port, "1");
    ck_assert_str_eq(p.o.name, "bob");
}
END_TEST

START_TEST(test_args_tls)
{
    struct parsed p;

    PARSE(&p, "--tls");
    ck_assert_int_eq(p.rc, CLI_ARGS_RUN);
    ck_assert_int_eq(p.o.tls, 1);
    ck_assert_ptr_null(p.o.cafile);
    ck_assert_int_eq(p.o.insecure, 0);
    PARSE(&p, "--tls", "--cafile", "ca.pem", "-p", "4443");
    ck_assert_int_eq(p.rc, CLI_ARGS_RUN);
    ck_assert_str_eq(p.o.cafile, "ca.pem");
    PARSE(&p, "--insecure", "--tls");
    ck_assert_int_eq(p.rc, CLI_ARGS_RUN);
    ck_assert_int_eq(p.o.insecure, 1);
    PARSE(&p, "--tls", "--insecure", "--cafile", "ca.pem");
    ck_assert_int_eq(p.rc, CLI_ARGS_USAGE);
    ck_assert_str_eq(p.err, "chat-cli: choose one of --cafile and "
                            "'--insecure' (try chat-cli --help)\n");
}
END_TEST

/* --name takes what the server would: libchat's chat_name_valid(). */
START_TEST(test_args_names)
{
    static const char *const good[][3] = {
        {"--name", "ab", NULL},
        {"--name", "Zen_Mammoth-2", NULL},
        {"--name", "abcdefghijklmnopqrstuvwx", NULL},
    };
    struct parsed p;

    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        parse(&p, good[i]);
        ck_assert_int_eq(p.rc, CLI_ARGS_RUN);
        ck_assert_str_eq(p.o.name, good[i][1]);
    }
}
END_TEST

static const char *const bad_args[][3] = {
    {"--bogus", NULL, NULL},
    {"-x", NULL, NULL},
    {"-p", NULL, NULL},
    {"-p", "0", NULL},
    {"-p", "65536", NULL},
    {"-p", "42x", NULL},
    {"-p", "-1", NULL},
    {"--name", "a", NULL},
    {"--name", "has space", NULL},
    {"--name", "abcdefghijklmnopqrstuvwxy", NULL},
    {"--name", "caf\xc3\xa9", NULL},
    {"-h", "", NULL},
    {"stray", NULL, NULL},
    {"--help=yes", NULL, NULL},
    {"--cafile", "ca.pem", NULL},
    {"--insecure", NULL, NULL},
    {"--tls", "--cafile=", NULL},
    {"--tls", "--cafile", NULL},
};

START_TEST(test_args_bad)
{
    struct parsed p;
    char *nl;

    parse(&p, bad_args[_i]);
    ck_assert_int_eq(p.rc, CLI_ARGS_USAGE);
    /* One clear line, naming the program and the culprit. */
    ck_assert_msg(strncmp(p.err, "chat-cli: ", 10) == 0, "err: %s", p.err);
    nl = strchr(p.err, '\n');
    ck_assert_ptr_nonnull(nl);
    ck_assert_str_eq(nl + 1, "");
    ck_assert_str_eq(p.out, "");
}
END_TEST

/* The message names the flag as typed, even inside a group of flags. */
static const char *const culprits[][3] = {
    {"-rx", NULL, "chat-cli: unknown option '-x' (try chat-cli --help)\n"},
    {"-xr", NULL, "chat-cli: unknown option '-x' (try chat-cli --help)\n"},
    {"-rp", NULL, "chat-cli: missing value for '-p' (try chat-cli --help)\n"},
    {"--port", NULL,
     "chat-cli: missing value for '--port' (try chat-cli --help)\n"},
    {"--bogus", NULL, "chat-cli: unknown option '--bogus' (try chat-cli "
                      "--help)\n"},
    {"--insecure", NULL, "chat-cli: this option needs --tls: '--insecure' "
                         "(try chat-cli --help)\n"},
};

START_TEST(test_args_culprit)
{
    struct parsed p;

    parse(&p, culprits[_i]);
    ck_assert_int_eq(p.rc, CLI_ARGS_USAGE);
    ck_assert_str_eq(p.err, culprits[_i][2]);
}
END_TEST

START_TEST(test_args_help_version)
{
    struct parsed p;

    PARSE(&p, "--help");
    ck_assert_int_eq(p.rc, CLI_ARGS_DONE);
    ck_assert_ptr_nonnull(strstr(p.out, "Usage: chat-cli"));
    ck_assert_ptr_nonnull(strstr(p.out, "--reconnect"));
    ck_assert_ptr_nonnull(strstr(p.out, "--cafile FILE"));
    ck_assert_str_eq(p.err, "");
    PARSE(&p, "--version");
    ck_assert_int_eq(p.rc, CLI_ARGS_DONE);
    ck_assert_msg(strncmp(p.out, "chat-cli ", 9) == 0, "out: %s", p.out);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("chat-cli");
    TCase *lines = tcase_create("lines");
    TCase *backoff = tcase_create("backoff");
    TCase *args = tcase_create("args");

    tcase_add_loop_test(lines, test_classify, 0,
                        (int)(sizeof kinds / sizeof *kinds));
    tcase_add_test(lines, test_classify_no_name_len);
    tcase_add_test(lines, test_track);
    tcase_add_test(lines, test_is_quit);
    tcase_add_test(lines, test_line_is);
    tcase_add_test(backoff, test_backoff_grows_and_caps);
    tcase_add_test(backoff, test_backoff_jitter_spreads);
    tcase_add_test(args, test_args_defaults);
    tcase_add_test(args, test_args_all);
    tcase_add_test(args, test_args_names);
    tcase_add_test(args, test_args_tls);
    tcase_add_loop_test(args, test_args_bad, 0,
                        (int)(sizeof bad_args / sizeof *bad_args));
    tcase_add_loop_test(args, test_args_culprit, 0,
                        (int)(sizeof culprits / sizeof *culprits));
    tcase_add_test(args, test_args_help_version);
    suite_add_tcase(s, lines);
    suite_add_tcase(s, backoff);
    suite_add_tcase(s, args);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cli_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
