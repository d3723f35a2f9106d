/*
 * chatd --filter-exec against real programs (doc/filter.md): the censor
 * example, and hostile.c's programs that hold, hang, die, flood garbage
 * or never read. Each case: chatd keeps serving, the documented fallback
 * happens, the log says what happened, and SIGTERM still ends chatd with
 * status 0 (the teardown, stop()).
 *
 * Run one case: CK_RUN_CASE=hang_drop ./test_filter (meson does, per case).
 */
#define _GNU_SOURCE

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers --------------------------------------------------------------- */

/* The command line of a hostile.c program. */
static const char *hostile(const char *mode)
{
    static char cmd[1024];
    const char *exe = getenv("HOSTILE");

    CHECK(exe != NULL, "HOSTILE is not set");
    snprintf(cmd, sizeof cmd, "%s %s", exe, mode);
    return cmd;
}

/* How many lines of chatd's log so far contain needle. */
static int log_count(const char *needle)
{
    FILE *f = fopen(srv.log_path, "r");
    char buf[4096];
    int n = 0;

    if (!f)
        return 0;
    while (fgets(buf, sizeof buf, f))
        n += strstr(buf, needle) != NULL;
    fclose(f);
    return n;
}

/* Wait until the log has at least n lines containing needle. */
static void wait_log(const char *needle, int n)
{
    long long until = now_ms() + DEFAULT_WAIT_MS;

    while (log_count(needle) < n) {
        CHECK(now_ms() < until, "no %d log line(s) with '%s'", n, needle);
        sleep_ms(20);
    }
}

/* Join, take a name and check that everyone in seen_by (NULL-terminated)
 * saw the newcomer arrive and be renamed. */
static client *join_as(const char *name, client *const *seen_by)
{
    client *c = join();
    char old[64];

    snprintf(old, sizeof old, "%s", c->name);
    send_line(c, "/name %s", name);
    EXPECT(c, "%s is now %s", old, name);
    for (; seen_by && *seen_by; seen_by++) {
        EXPECT(*seen_by, "%s joined main", old);
        EXPECT(*seen_by, "%s is now %s", old, name);
    }
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

/* alice and bob, in main. */
static void alice_and_bob(client **a, client **b)
{
    *a = join_as("alice", NULL);
    *b = join_as("bob", (client *[]){*a, NULL});
}

/* The next line c reads is the answer to /users: nothing came before. */
static void expect_nothing_more(client *c)
{
    send_line(c, "/users");
    const char *got = client_next(c);
    CHECK(strncmp(got, "Users - ", 8) == 0, "expected nothing, got '%s'", got);
}

static void close_all(client *const *c)
{
    for (; *c; c++)
        client_close(*c);
}

/* ---- filters that work --------------------------------------------------- */

/* The censor example through chatd: a listed word is masked for every
 * recipient of chat lines, /me and direct messages, and one sender's
 * lines keep their order. */
CHAT_CASE(censor_masks_for_everyone)
{
    char cmd[1024];
    const char *exe = getenv("FILTER_CENSOR");
    client *a, *b;

    CHECK(exe != NULL, "FILTER_CENSOR is not set");
    snprintf(cmd, sizeof cmd, "%s heck darn", exe);
    start((const char *[]){"--filter-exec", cmd, NULL});
    alice_and_bob(&a, &b);
    send_line(a, "what the heck");
    EXPECT(a, "alice: what the ****");
    EXPECT(b, "alice: what the ****");
    send_line(a, "/me says DARN, hecktor");
    EXPECT(a, "* alice says ****, hecktor");
    EXPECT(b, "* alice says ****, hecktor");
    send_line(b, "/msg alice oh heck");
    EXPECT(a, "from bob: oh ****");
    EXPECT(b, "to alice: oh ****");
    /* Sent at once, each waits for its answer behind the one before. */
    send_line(a, "one heck\ntwo\nthree darn\nfour\nfive");
    EXPECT(b, "alice: one ****");
    EXPECT(b, "alice: two");
    EXPECT(b, "alice: three ****");
    EXPECT(b, "alice: four");
    EXPECT(b, "alice: five");
    skip_to(a, "alice: five");
    close_all((client *[]){a, b, NULL});
}
END_TEST

/* The program is asked exactly doc/filter.md's requests. */
CHAT_CASE(requests_as_documented)
{
    char path[] = "/tmp/chatd-filter-XXXXXX", mode[64], buf[2048];
    int fd = mkstemp(path);
    client *a, *b;
    FILE *f;

    CHECK(fd >= 0, "mkstemp");
    close(fd);
    snprintf(mode, sizeof mode, "record %s", path);
    start((const char *[]){"--filter-exec", hostile(mode), NULL});
    alice_and_bob(&a, &b);
    send_line(a, "say \"hi\" \\o/");
    EXPECT(b, "alice: say \"hi\" \\o/");
    send_line(a, "/me waves");
    EXPECT(b, "* alice waves");
    send_line(a, "/msg bob psst");
    EXPECT(b, "from alice: psst");
    f = fopen(path, "r");
    CHECK(f != NULL, "no record");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    ck_assert_str_eq(buf,
        "{\"id\":1,\"kind\":\"chat\",\"sender\":\"alice\",\"room\":\"main\","
        "\"text\":\"say \\\"hi\\\" \\\\o/\"}\n"
        "{\"id\":2,\"kind\":\"me\",\"sender\":\"alice\",\"room\":\"main\","
        "\"text\":\"waves\"}\n"
        "{\"id\":3,\"kind\":\"direct\",\"sender\":\"alice\",\"room\":null,"
        "\"text\":\"psst\"}\n");
    close_all((client *[]){a, b, NULL});
}
END_TEST

/* While one sender's message waits for its answer, that sender's next
 * lines wait behind it and nobody else waits at all; answers may come in
 * any order. */
CHAT_CASE(a_waiting_sender_slows_no_one_else)
{
    client *a, *b, *c;

    start((const char *[]){"--filter-exec", hostile("hold"), NULL});
    alice_and_bob(&a, &b);
    c = join_as("carol", (client *[]){a, b, NULL});
    send_line(a, "hold on");
    send_line(a, "after the hold");
    send_line(b, "not held");
    EXPECT(c, "bob: not held");
    send_line(b, "/me waits");
    EXPECT(c, "* bob waits");
    send_line(b, "release");
    EXPECT(c, "bob: release");
    EXPECT(c, "alice: hold on");
    EXPECT(c, "alice: after the hold");
    EXPECT(a, "bob: not held");
    EXPECT(a, "* bob waits");
    EXPECT(a, "bob: release");
    EXPECT(a, "alice: hold on");
    EXPECT(a, "alice: after the hold");
    close_all((client *[]){a, b, c, NULL});
}
END_TEST

/* ---- filters that fail --------------------------------------------------- */

/* No answer in time, fallback drop (the default): the broker drops the
 * message and tells the sender; nobody else sees it. */
CHAT_CASE(hang_drop)
{
    client *a, *b;

    start((const char *[]){"--filter-exec", hostile("hang"),
                           "--filter-timeout", "0.3", NULL});
    alice_and_bob(&a, &b);
    send_line(a, "anyone there?");
    EXPECT(a, "Your message was not sent: the filter did not answer in time");
    expect_nothing_more(b);
    wait_log("filter: no answer to request 1 within 0.300 s: the message is "
             "dropped", 1);
    send_line(a, "still here");
    EXPECT(a, "Your message was not sent: the filter did not answer in time");
    close_all((client *[]){a, b, NULL});
}
END_TEST

/* No answer in time, fallback allow: chatd lets the message through at
 * its deadline, before the broker's own would drop it. */
CHAT_CASE(hang_allow)
{
    client *a, *b;

    start((const char *[]){"--filter-exec", hostile("hang"),
                           "--filter-timeout", "0.3", "--filter-fallback",
                           "allow", NULL});
    alice_and_bob(&a, &b);
    send_line(a, "anyone there?\nsecond");
    EXPECT(b, "alice: anyone there?");
    EXPECT(b, "alice: second");
    EXPECT(a, "alice: anyone there?");
    EXPECT(a, "alice: second");
    wait_log("filter: no answer to request 1 within 0.300 s: the message is "
             "allowed unfiltered", 1);
    close_all((client *[]){a, b, NULL});
}
END_TEST

/* The program dies mid-chat: the message it took along is dropped (the
 * fallback), the death is logged once with its status, and a new
 * instance answers the next messages. */
CHAT_CASE(dies_and_restarts)
{
    client *a, *b;

    start((const char *[]){"--filter-exec", hostile("die-after 2"), NULL});
    alice_and_bob(&a, &b);
    say_heard(a, "one", b);
    say_heard(a, "two", b);
    send_line(a, "three");
    wait_log("filter: program (pid ", 1);
    CHECK(log_count("exited with status 3; messages are dropped until it "
                    "restarts in 0.1 s") == 1, "no log of the death");
    wait_log("filter: started", 2);
    say_heard(a, "four", b);
    expect_nothing_more(b);
    close_all((client *[]){a, b, NULL});
}
END_TEST

/* Same with fallback allow: the message in flight when it died goes
 * through unfiltered. */
CHAT_CASE(dies_allow)
{
    client *a, *b;

    start((const char *[]){"--filter-exec", hostile("die-after 1"),
                           "--filter-fallback", "allow", NULL});
    alice_and_bob(&a, &b);
    say_heard(a, "one", b);
    say_heard(a, "two", b); /* the death's fallback */
    wait_log("allowed unfiltered until it restarts", 1);
    close_all((client *[]){a, b, NULL});
}
END_TEST

/* Garbage of every kind around each answer, and a 1 MiB line: ignored,
 * logged at most about once a second, the real answers still count. */
CHAT_CASE(garbage_flood)
{
    client *a, *b;
    long long t0 = now_ms();

    start((const char *[]){"--filter-exec", hostile("flood"), NULL});
    alice_and_bob(&a, &b);
    for (int i = 0; i < 5; i++)
        send_line(a, "line %d", i);
    for (int i = 0; i < 5; i++)
        EXPECT(b, "alice: line %d", i);
    wait_log("filter: ignored", 1);
    long secs = (long)((now_ms() - t0) / 1000);
    CHECK(log_count("filter: ignored") <= secs + 2,
          "%d garbage lines logged in %ld s", log_count("filter: ignored"),
          secs);
    CHECK(log_count("filter: started") == 1, "the program was restarted");
    close_all((client *[]){a, b, NULL});
}
END_TEST

/* A program that never reads: its pipe and chatd's bounded buffer fill,
 * then every message gets the fallback at once; the loop never stalls. */
CHAT_CASE(never_reads)
{
    enum { USERS = 20, LINES = 17, TEXT = 390 };
    client *c[USERS], *d;
    char text[TEXT + 1];

    start((const char *[]){"--filter-exec", hostile("deaf"), "--filter-timeout",
                           "0.2", "--filter-fallback", "allow", NULL});
    for (int i = 0; i < USERS; i++)
        c[i] = join();
    /* Quotes are escaped: about 750 bytes a request, held 17 deep. */
    memset(text, '"', TEXT);
    text[TEXT] = '\0';
    for (int n = 0; n < LINES; n++)
        for (int i = 0; i < USERS; i++)
            send_line(c[i], "%s", text);
    wait_log("the program is not reading its input", 1);
    d = join();
    send_line(d, "/users");
    const char *got;
    while (strncmp(got = client_next(d), "Users - ", 8) != 0)
        CHECK(got[0] != '<', "no answer to /users: %s", got);
    for (int i = 0; i < USERS; i++)
        client_close(c[i]);
    client_close(d);
}
END_TEST

/* A program that cannot be started at all (here: no descriptors left for
 * its pipes) stops chatd at startup with status 1 and says why. The
 * fewest descriptors chatd can listen with leave none for the pipes. */
CHAT_CASE(cannot_start_exits_1)
{
    const char *args[] = {"--filter-exec", "cat", NULL};

    for (long n = 4; n < 64; n++) {
        chatd_start_nofile(&srv, args, n);
        if (!chatd_log_contains(&srv, "listening on")) {
            chatd_stop(&srv);
            continue;
        }
        CHECK(chatd_wait(&srv, DEFAULT_WAIT_MS) == 0, "chatd went on");
        CHECK(WIFEXITED(srv.status) && WEXITSTATUS(srv.status) == 1,
              "status %d, want exit 1", srv.status);
        CHECK(chatd_log_contains(&srv, "error: filter: cannot start 'cat': "
                                       "Too many open files"),
              "no log line");
        return;
    }
    CHECK(0, "chatd never listened");
}
END_TEST

/* Bad values for the flags: one line, exit 2. */
CHAT_CASE(bad_flags)
{
    char out[256], err[512];

    CHECK(chatd_run((const char *[]){"--filter-exec", "cat",
                                     "--filter-fallback", "maybe", NULL},
                    DEFAULT_WAIT_MS, out, sizeof out, err, sizeof err) == 2,
          "--filter-fallback maybe accepted");
    CHECK(strstr(err, "'maybe' for --filter-fallback: expected allow or drop"),
          "%s", err);
    CHECK(chatd_run((const char *[]){"--filter-exec", "cat",
                                     "--filter-timeout", "0", NULL},
                    DEFAULT_WAIT_MS, out, sizeof out, err, sizeof err) == 2,
          "--filter-timeout 0 accepted");
    CHECK(chatd_run((const char *[]){"--filter-exec", " ", NULL},
                    DEFAULT_WAIT_MS, out, sizeof out, err, sizeof err) == 2,
          "an empty command accepted");
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

#include "filter_cases.h"

int main(void)
{
    const harness_case cases[] = {CHAT_CASES};

    return harness_main("filter", cases, sizeof cases / sizeof cases[0], 55);
}
