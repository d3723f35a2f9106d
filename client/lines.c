/*
 * chat-cli: reading the server's lines. doc/protocol.md fixes their exact
 * words, so a line's shape tells what it is: "{name}: {text}" is chat,
 * "from {name}: " a direct message, and so on. This only picks colours and
 * follows the name and room; nothing here can change what is sent.
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <strings.h>

#include "cli.h"

/* A character of a name, by chat_name_valid()'s rule: finding where a name
 * ends inside a line needs the rule one character at a time. */
static int name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

/* Length of the run of name characters at the start of s. */
static size_t name_span(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len && name_char(s[i]))
        i++;
    return i;
}

int cli_line_is(const char *line, size_t len, const char *exact)
{
    return strlen(exact) == len && memcmp(line, exact, len) == 0;
}

static int starts_with(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && memcmp(line, prefix, n) == 0;
}

/* Names compare case-insensitively on the wire, so here too. */
static int same_name(const char *a, size_t alen, const char *b)
{
    return *b != '\0' && strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* "from X: ..." and "to X, Y: ..." (the names as the sender typed them). */
static int is_direct(const char *line, size_t len)
{
    size_t skip, i;

    if (starts_with(line, len, "from "))
        skip = 5;
    else if (starts_with(line, len, "to "))
        skip = 3;
    else
        return 0;
    for (i = skip; i < len && (name_char(line[i]) || line[i] == ',' ||
                               line[i] == ' ');
         i++)
        ;
    return i > skip && i + 1 < len && line[i] == ':' && line[i + 1] == ' ';
}

/* Replies that refuse something the user did, or end the session. */
static const char *const error_prefixes[] = {
    "No such user: ",
    "Unrecognized command ",
    "Usage: /",
    CLI_LINE_BAD_NAME,
    "Room must be 2-24 characters",
    "Messages can only be ",
    "Messages must be valid UTF-8",
    "You are sending too fast",
    "Server is full",
    "Server is very busy",
    "Server shutting down",
    "Disconnected for inactivity",
};

static int is_error(const char *line, size_t len)
{
    static const char taken[] = " is already taken";
    size_t n = name_span(line, len);

    for (size_t i = 0; i < sizeof error_prefixes / sizeof *error_prefixes; i++)
        if (starts_with(line, len, error_prefixes[i]))
            return 1;
    return n > 0 && len == n + strlen(taken) && memcmp(line + n, taken,
                                                       strlen(taken)) == 0;
}

/* "* {name} {text}": name_len covers "* {name}". */
static int is_me(const char *line, size_t len, size_t *name_len)
{
    size_t n;

    if (!starts_with(line, len, "* "))
        return 0;
    n = name_span(line + 2, len - 2);
    if (n < CHAT_NAME_MIN || n + 2 >= len || line[n + 2] != ' ')
        return 0;
    *name_len = n + 2;
    return 1;
}

/* "{name}: {text}": name_len covers "{name}". */
static int is_chat(const char *line, size_t len, size_t *name_len)
{
    size_t n = name_span(line, len);

    if (n < CHAT_NAME_MIN || n > CHAT_NAME_MAX || n + 1 >= len ||
        line[n] != ':' || line[n + 1] != ' ')
        return 0;
    *name_len = n;
    return 1;
}

enum cli_kind cli_classify(const char *line, size_t len, const char *me,
                           size_t *name_len)
{
    size_t n = 0;
    enum cli_kind kind = CLI_KIND_NOTICE;

    if (is_direct(line, len))
        kind = CLI_KIND_DIRECT;
    else if (is_error(line, len))
        kind = CLI_KIND_ERROR;
    else if (is_me(line, len, &n))
        kind = same_name(line + 2, n - 2, me) ? CLI_KIND_OWN : CLI_KIND_OTHER;
    else if (is_chat(line, len, &n))
        kind = same_name(line, n, me) ? CLI_KIND_OWN : CLI_KIND_OTHER;
    if (name_len)
        *name_len = kind == CLI_KIND_OTHER ? n : 0;
    return kind;
}

static unsigned set_field(char *field, const char *s, size_t len,
                          unsigned flag)
{
    if (strlen(field) == len && memcmp(field, s, len) == 0)
        return 0;
    memcpy(field, s, len);
    field[len] = '\0';
    return flag;
}

/* "{old} is now {new}" about me: the new name. */
static unsigned track_rename(struct cli_session *s, const char *line,
                             size_t len)
{
    static const char mid[] = " is now ";
    size_t n = name_span(line, len), m = strlen(mid);

    if (n + m >= len || memcmp(line + n, mid, m) != 0 ||
        !same_name(line, n, s->name) ||
        !chat_name_valid(line + n + m, len - n - m))
        return 0;
    return set_field(s->name, line + n + m, len - n - m, CLI_TRACK_NAME);
}

unsigned cli_track(struct cli_session *s, const char *line, size_t len)
{
    static const char you_are[] = "You are ", joined[] = "You joined ";
    size_t a = strlen(you_are), j = strlen(joined);

    if (starts_with(line, len, you_are) &&
        chat_name_valid(line + a, len - a))
        return CLI_TRACK_HELLO |
               set_field(s->name, line + a, len - a, CLI_TRACK_NAME);
    if (starts_with(line, len, joined) && chat_name_valid(line + j, len - j))
        return set_field(s->room, line + j, len - j, CLI_TRACK_ROOM);
    return track_rename(s, line, len);
}

int cli_is_quit(const char *line, size_t len)
{
    return len >= 5 && strncasecmp(line, "/quit", 5) == 0 &&
           (len == 5 || line[5] == ' ' || line[5] == '\t');
}
