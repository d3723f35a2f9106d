/*
 * server/redis_url.c: the --redis URL, node ids and the password file,
 * with no Redis: what each URL gives, and a reason for every one refused.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis_url.h"
#include "ws_harness.h"

static struct chatd_redis_config cfg;
static char err[256];

/* Parse url into cfg (cleared first, then poisoned so defaults show). */
static int parse(const char *url)
{
    memset(&cfg, 0x5a, sizeof cfg);
    err[0] = '\0';
    return chatd_redis_parse_url(url, &cfg, err, sizeof err);
}

static void check_ok(const char *url, const char *host, int port, int db,
                     const char *password)
{
    ck_assert_msg(parse(url) == 0, "%s: refused: %s", url, err);
    ck_assert_str_eq(cfg.host, host);
    ck_assert_int_eq(cfg.port, port);
    ck_assert_int_eq(cfg.db, db);
    ck_assert_str_eq(cfg.password, password);
}

/* url is refused with a reason that contains want. */
static void check_bad(const char *url, const char *want)
{
    ck_assert_msg(parse(url) == -1, "%s: accepted", url);
    ck_assert_msg(err[0] != '\0' && strchr(err, '\n') == NULL,
                  "%s: want one line of reason, got '%s'", url, err);
    ck_assert_msg(strstr(err, want) != NULL, "%s: reason '%s' lacks '%s'",
                  url, err, want);
}

START_TEST(defaults_are_port_6379_and_db_0)
{
    check_ok("redis://h", "h", 6379, 0, "");
    ck_assert_int_eq(CHATD_REDIS_DEFAULT_PORT, 6379);
    check_ok("redis://h/", "h", 6379, 0, "");
    check_ok("redis://redis.example.com", "redis.example.com", 6379, 0, "");
    check_ok("redis://127.0.0.1", "127.0.0.1", 6379, 0, "");
}
END_TEST

START_TEST(port_and_db)
{
    check_ok("redis://h:1234/5", "h", 1234, 5, "");
    check_ok("redis://h:1", "h", 1, 0, "");
    check_ok("redis://h:65535/0", "h", 65535, 0, "");
    check_ok("redis://h/2147483647", "h", 6379, 2147483647, "");
    check_ok("redis://my_redis-1.local:6380", "my_redis-1.local", 6380, 0, "");
}
END_TEST

START_TEST(password)
{
    check_ok("redis://:secret@h:6380/2", "h", 6380, 2, "secret");
    check_ok("redis://:secret@h", "h", 6379, 0, "secret");
    /* Taken as it is, up to the last '@' */
    check_ok("redis://:a:b@c/d@h", "h", 6379, 0, "a:b@c/d");
}
END_TEST

/* Redis 6 ACL users are refused: only the default user's password. */
START_TEST(a_user_name_is_refused)
{
    check_bad("redis://user:secret@h", "user name");
    check_bad("redis://user:secret@h", "redis://:PASSWORD@HOST");
    check_bad("redis://user@h", "user name");
    check_bad("redis://@h", "expected :PASSWORD@");
    check_bad("redis://:@h", "password");
}
END_TEST

START_TEST(ipv6)
{
    check_ok("redis://[::1]:6379", "::1", 6379, 0, "");
    check_ok("redis://[::1]", "::1", 6379, 0, "");
    check_ok("redis://:pw@[2001:db8::7]:7000/3", "2001:db8::7", 7000, 3, "pw");
    check_ok("redis://[::ffff:127.0.0.1]/1", "::ffff:127.0.0.1", 6379, 1, "");
    check_bad("redis://::1", "brackets");
    check_bad("redis://::1:6379", "brackets");
    check_bad("redis://[::1", "']'");
    check_bad("redis://[::1]6379", "after ']'");
    check_bad("redis://[]:6379", "no host");
    check_bad("redis://[example.com]", "IPv6");
    check_bad("redis://[::1]:", "port");
}
END_TEST

/* rediss:// is TLS (server/redis_tls.c's relay): the same URL otherwise,
 * port 6379 by default too; redis:// says tls 0. */
START_TEST(rediss_is_tls)
{
    check_ok("rediss://h:6380", "h", 6380, 0, "");
    ck_assert_int_eq(cfg.tls, 1);
    check_ok("rediss://:pw@[::1]/3", "::1", 6379, 3, "pw");
    ck_assert_int_eq(cfg.tls, 1);
    check_ok("redis://h:6380", "h", 6380, 0, "");
    ck_assert_int_eq(cfg.tls, 0);
    check_bad("rediss://", "no host");
    check_bad("rediss://h:0", "port");
    check_bad("redisss://h", "expected redis://");
    check_bad("REDISS://h", "expected redis://");
}
END_TEST

START_TEST(other_schemes)
{
    check_bad("", "expected redis://");
    check_bad("h:6379", "expected redis://");
    check_bad("http://h", "expected redis://");
    check_bad("REDIS://h", "expected redis://");
    check_bad("redis:/h", "expected redis://");
    check_bad("unix:///run/redis.sock", "expected redis://");
}
END_TEST

START_TEST(empty_host)
{
    check_bad("redis://", "no host");
    check_bad("redis://:6379", "no host");
    check_bad("redis:///0", "no host");
    check_bad("redis://:pw@", "no host");
    check_bad("redis://:pw@:6379/1", "no host");
}
END_TEST

START_TEST(bad_ports)
{
    static const char *const urls[] = {
        "redis://h:0", "redis://h:65536", "redis://h:99999999999999999999",
        "redis://h:", "redis://h:-1", "redis://h:+80", "redis://h:63 79",
        "redis://h:6379x", "redis://h:0x10", "redis://h:6379?timeout=1",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
        check_bad(urls[i], "port");
}
END_TEST

START_TEST(bad_dbs)
{
    static const char *const urls[] = {
        "redis://h/x", "redis://h/-1", "redis://h/2147483648",
        "redis://h/99999999999999999999", "redis://h/1.5", "redis://h/ 1",
        "redis://h:6379/db0",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
        check_bad(urls[i], "database");
}
END_TEST

START_TEST(trailing_junk)
{
    check_bad("redis://h/0/1", "database");
    check_bad("redis://h/0?x=1", "database");
    check_bad("redis://h/0#frag", "database");
    check_bad("redis://h/0 ", "database");
    check_bad("redis://h:6379 ", "port");
    check_bad("redis://h?x=1", "host");
    check_bad("redis://h#x", "host");
    check_bad("redis://h h", "host");
    check_bad("redis://[::1]x", "after ']'");
    check_bad("redis://[::1]/0x", "database");
}
END_TEST

/* Over-long parts and URLs are refused, never cut short. */
START_TEST(over_long)
{
    char url[2 * CHATD_REDIS_URL_MAX], part[CHATD_REDIS_URL_MAX];

    memset(part, 'a', sizeof cfg.host - 1);
    part[sizeof cfg.host - 1] = '\0';
    snprintf(url, sizeof url, "redis://%s:1", part);
    check_ok(url, part, 1, 0, "");
    snprintf(url, sizeof url, "redis://%sa:1", part);
    check_bad(url, "too long");

    memset(part, 'p', sizeof cfg.password - 1);
    part[sizeof cfg.password - 1] = '\0';
    snprintf(url, sizeof url, "redis://:%s@h", part);
    check_ok(url, "h", 6379, 0, part);
    snprintf(url, sizeof url, "redis://:%sp@h", part);
    check_bad(url, "too long");

    memset(url, 'a', sizeof url - 1);
    url[sizeof url - 1] = '\0';
    memcpy(url, "redis://", 8);
    check_bad(url, "longer than 1024 bytes");
}
END_TEST

/* A refusal leaves the fields the parser does not own alone. */
START_TEST(other_fields_are_left_alone)
{
    struct chatd_redis_config c;

    memset(&c, 0, sizeof c);
    snprintf(c.prefix, sizeof c.prefix, "%s", "x:");
    snprintf(c.node_id, sizeof c.node_id, "%s", "n1");
    c.lease_ms = 1234;
    ck_assert_int_eq(chatd_redis_parse_url("redis://h:1/2", &c, err,
                                           sizeof err), 0);
    ck_assert_int_eq(chatd_redis_parse_url("redis://h:0", &c, err,
                                           sizeof err), -1);
    ck_assert_str_eq(c.prefix, "x:");
    ck_assert_str_eq(c.node_id, "n1");
    ck_assert_uint_eq(c.lease_ms, 1234);
}
END_TEST

/* A small error buffer gets a cut, NUL-ended reason. */
START_TEST(small_error_buffer)
{
    char small[8];

    memset(small, 'x', sizeof small);
    ck_assert_int_eq(chatd_redis_parse_url("rediss://h:0", &cfg, small,
                                           sizeof small), -1);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
}
END_TEST

START_TEST(node_ids)
{
    char id[CHATD_NODE_ID_MAX + 2], other[CHATD_NODE_ID_MAX + 1];

    ck_assert(chatd_redis_node_id_valid("a"));
    ck_assert(chatd_redis_node_id_valid("node-1_B"));
    memset(id, 'x', CHATD_NODE_ID_MAX);
    id[CHATD_NODE_ID_MAX] = '\0';
    ck_assert(chatd_redis_node_id_valid(id));
    id[CHATD_NODE_ID_MAX] = 'x';
    id[CHATD_NODE_ID_MAX + 1] = '\0';
    ck_assert(!chatd_redis_node_id_valid(id));
    ck_assert(!chatd_redis_node_id_valid(""));
    ck_assert(!chatd_redis_node_id_valid("a b"));
    ck_assert(!chatd_redis_node_id_valid("a:b"));
    ck_assert(!chatd_redis_node_id_valid("n\xc3\xa9"));

    ck_assert_int_eq(chatd_redis_random_id(id), 0);
    ck_assert_uint_eq(strlen(id), 12);
    ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 12);
    ck_assert(chatd_redis_node_id_valid(id));
    ck_assert_int_eq(chatd_redis_random_id(other), 0);
    ck_assert_str_ne(id, other);
}
END_TEST

/* path holding text, made in the test's own temporary file. */
static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int read_password(const char *text)
{
    char path[] = "/tmp/test-redis-url-XXXXXX";
    int r;

    write_file(path, text);
    memset(&cfg, 0, sizeof cfg);
    err[0] = '\0';
    r = chatd_redis_read_password(path, &cfg, err, sizeof err);
    unlink(path);
    return r;
}

START_TEST(password_file)
{
    ck_assert_int_eq(read_password("s3cret\n"), 0);
    ck_assert_str_eq(cfg.password, "s3cret");
    ck_assert_int_eq(read_password("s3cret"), 0);
    ck_assert_str_eq(cfg.password, "s3cret");
    ck_assert_int_eq(read_password("with space\r\nsecond line\n"), 0);
    ck_assert_str_eq(cfg.password, "with space");
    ck_assert_int_eq(read_password(""), -1);
    ck_assert_ptr_nonnull(strstr(err, "first line must be the password"));
    ck_assert_int_eq(read_password("\nsecond\n"), -1);
    ck_assert_int_eq(chatd_redis_read_password("/nonexistent/pw", &cfg, err,
                                               sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot open /nonexistent/pw"));
}
END_TEST

START_TEST(password_file_too_long)
{
    char text[sizeof cfg.password + 2];

    memset(text, 'p', sizeof cfg.password - 1);
    text[sizeof cfg.password - 1] = '\n';
    text[sizeof cfg.password] = '\0';
    ck_assert_int_eq(read_password(text), 0);
    ck_assert_uint_eq(strlen(cfg.password), sizeof cfg.password - 1);
    text[sizeof cfg.password - 1] = 'p';
    text[sizeof cfg.password] = '\n';
    text[sizeof cfg.password + 1] = '\0';
    ck_assert_int_eq(read_password(text), -1);
}
END_TEST

static Suite *redis_url_suite(void)
{
    Suite *s = suite_create("redis_url");
    TCase *tc = tcase_create("redis_url");
#define T(name) tcase_add_test(tc, name)
    T(defaults_are_port_6379_and_db_0);
    T(port_and_db);
    T(password);
    T(a_user_name_is_refused);
    T(ipv6);
    T(rediss_is_tls);
    T(other_schemes);
    T(empty_host);
    T(bad_ports);
    T(bad_dbs);
    T(trailing_junk);
    T(over_long);
    T(other_fields_are_left_alone);
    T(small_error_buffer);
    T(node_ids);
    T(password_file);
    T(password_file_too_long);
#undef T
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(redis_url_suite()); }
