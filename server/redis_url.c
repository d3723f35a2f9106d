/* chatd - the Redis link's configuration. See redis_url.h. */
#define _GNU_SOURCE /* getrandom */

#include "redis_url.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define DIGITS "0123456789"
#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS

int chatd_redis_node_id_valid(const char *id)
{
    size_t n = strlen(id);

    if (n < 1 || n > CHATD_NODE_ID_MAX)
        return 0;
    return strspn(id, ALNUM "_-") == n;
}

int chatd_redis_random_id(char out[CHATD_NODE_ID_MAX + 1])
{
    unsigned char raw[6];

    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static int fail_msg(char *err, size_t size, const char *msg)
{
    snprintf(err, size, "%s", msg);
    return -1;
}

/* A decimal in [0, max], the whole of s[0..n). */
static int parse_uint(const char *s, size_t n, long max, long *out)
{
    long v = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (max - (s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* ":PASSWORD@" before the host, if any; advances *s past it. */
static int parse_auth(const char **s, struct chatd_redis_config *cfg,
                      char *err, size_t size)
{
    const char *at = strrchr(*s, '@');

    cfg->password[0] = '\0';
    if (!at)
        return 0;
    if (**s != ':')
        return fail_msg(err, size, at == *s
                        ? "expected :PASSWORD@ before the host"
                        : "a user name (a Redis 6 ACL user) is not "
                          "supported: give the default user's password, "
                          "redis://:PASSWORD@HOST");
    size_t n = (size_t)(at - *s) - 1;
    if (n == 0 || n >= sizeof cfg->password)
        return fail_msg(err, size, "empty or too long password");
    memcpy(cfg->password, *s + 1, n);
    cfg->password[n] = '\0';
    *s = at + 1;
    return 0;
}

/* The characters a host may have: a name or IPv4 address, or inside
 * brackets an IPv6 address (n < 256). */
static int host_chars_valid(const char *h, size_t n, int bracketed)
{
    char buf[256];

    memcpy(buf, h, n);
    buf[n] = '\0';
    if (bracketed)
        return strspn(buf, DIGITS "abcdefABCDEF:.") == n && strchr(buf, ':');
    return strspn(buf, ALNUM ".-_") == n;
}

/* HOST, [V6HOST] or either with :PORT, up to end; advances *s. */
static int parse_host(const char **s, const char *end,
                      struct chatd_redis_config *cfg, char *err, size_t size)
{
    const char *h = *s, *hend, *colon;
    long port = CHATD_REDIS_DEFAULT_PORT;
    int bracketed = *h == '[';

    if (bracketed) {
        hend = memchr(h, ']', (size_t)(end - h));
        if (!hend)
            return fail_msg(err, size, "no ']' after an IPv6 address");
        h++;
        colon = hend + 1 < end && hend[1] == ':' ? hend + 1 : NULL;
        if (!colon && hend + 1 != end)
            return fail_msg(err, size, "expected :PORT or /DB after ']'");
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        hend = colon ? colon : end;
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return fail_msg(err, size, "an IPv6 address goes in brackets: "
                            "redis://[::1]:6379");
    }
    if (hend == h || (size_t)(hend - h) >= sizeof cfg->host)
        return fail_msg(err, size, "no host, or a host name too long");
    if (!host_chars_valid(h, (size_t)(hend - h), bracketed))
        return fail_msg(err, size, bracketed
                        ? "not an IPv6 address in the brackets"
                        : "the host may have only letters, digits, '.', "
                          "'-' and '_'");
    if (colon && (parse_uint(colon + 1, (size_t)(end - colon - 1), 65535,
                             &port) != 0 || port == 0))
        return fail_msg(err, size, "the port must be a number from 1 to 65535");
    memcpy(cfg->host, h, (size_t)(hend - h));
    cfg->host[hend - h] = '\0';
    cfg->port = (int)port;
    *s = end;
    return 0;
}

int chatd_redis_parse_url(const char *url, struct chatd_redis_config *cfg,
                          char *err, size_t errsize)
{
    static const char plain[] = "redis://", tls[] = "rediss://";
    const char *s = url, *slash;
    long db = 0;
    int is_tls = strncmp(s, tls, sizeof tls - 1) == 0;

    if (!is_tls && strncmp(s, plain, sizeof plain - 1) != 0)
        return fail_msg(err, errsize, "expected redis://[:PASSWORD@]HOST"
                        "[:PORT][/DB] or rediss://...");
    if (strlen(url) > CHATD_REDIS_URL_MAX) {
        snprintf(err, errsize, "longer than %d bytes", CHATD_REDIS_URL_MAX);
        return -1;
    }
    s += is_tls ? sizeof tls - 1 : sizeof plain - 1;
    if (parse_auth(&s, cfg, err, errsize) != 0)
        return -1;
    slash = strchr(s, '/');
    if (parse_host(&s, slash ? slash : s + strlen(s), cfg, err, errsize) != 0)
        return -1;
    if (slash && slash[1] != '\0' &&
        parse_uint(slash + 1, strlen(slash + 1), CHATD_REDIS_DB_MAX, &db) != 0)
        return fail_msg(err, errsize, "the database must be a number from 0 "
                        "to 2147483647, and the last thing in the URL");
    cfg->db = (int)db;
    cfg->tls = is_tls;
    return 0;
}

int chatd_redis_read_password(const char *path, struct chatd_redis_config *cfg,
                              char *err, size_t errsize)
{
    FILE *f = fopen(path, "r");
    char line[sizeof cfg->password + 1];

    if (!f) {
        snprintf(err, errsize, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' || strlen(line) >= sizeof cfg->password) {
        snprintf(err, errsize, "%s: the first line must be the password "
                 "(1 to %zu bytes)", path, sizeof cfg->password - 1);
        return -1;
    }
    memcpy(cfg->password, line, strlen(line) + 1);
    return 0;
}
