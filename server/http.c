/*
 * chatd - HTTP/1.1 request heads and the WebSocket handshake. See http.h.
 *
 * The parser takes one byte at a time through a small state machine, so a
 * head split anywhere parses exactly as a whole one; only what chatd uses
 * is stored, each in a fixed buffer of the result.
 */
#include "http.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

enum {
    S_START,        /* before the request line: empty lines are skipped */
    S_METHOD,
    S_TARGET,       /* the path */
    S_QUERY,
    S_VERSION,
    S_LINE,         /* the start of a header line, or the final empty one */
    S_NAME,
    S_VALUE_START,  /* whitespace before a value */
    S_VALUE,
};

/* ---- the headers chatd reads -------------------------------------------- */

/* The headers chatd reads, by index: a bit each in p->seen. */
enum {
    F_HOST,
    F_CONNECTION,
    F_UPGRADE,
    F_WS_KEY,
    F_WS_VERSION,
    F_ORIGIN,
    F_CONTENT_LENGTH,
    F_TRANSFER_ENCODING,
    N_FIELDS,
    F_OTHER = N_FIELDS, /* a header chatd ignores */
};

/* A list header may repeat (its values are joined); a single one not. */
enum { F_LIST = 1, F_SINGLE = 2 };

struct field {
    const char *name;   /* lowercase */
    size_t offset;      /* where its value goes in the parser */
    size_t cap;         /* that buffer's size; 0: the value is not kept */
    unsigned flags;
};

/* A parser member's offset and size, for the table below. */
#define AT(member)                                                             \
    offsetof(struct chatd_http_parser, member),                                \
        sizeof(((struct chatd_http_parser *)0)->member)

static const struct field fields[N_FIELDS] = {
    [F_HOST] = {"host", AT(req.host), F_SINGLE},
    [F_CONNECTION] = {"connection", AT(req.connection), F_LIST},
    [F_UPGRADE] = {"upgrade", AT(req.upgrade), F_LIST},
    [F_WS_KEY] = {"sec-websocket-key", AT(req.ws_key), F_SINGLE},
    [F_WS_VERSION] = {"sec-websocket-version", AT(req.ws_version), F_SINGLE},
    [F_ORIGIN] = {"origin", AT(req.origin), F_SINGLE},
    [F_CONTENT_LENGTH] = {"content-length", AT(clen), F_SINGLE},
    [F_TRANSFER_ENCODING] = {"transfer-encoding", 0, 0, F_LIST},
};

/* ---- characters --------------------------------------------------------- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* ASCII case-insensitive comparison of n bytes. */
static int same_ci(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* RFC 9110 5.6.2: the characters of a token (methods, header names). */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 5.5: field-value bytes (visible, space, tab, obs-text). */
static int is_value_char(unsigned char c)
{
    return c == '\t' || (c >= ' ' && c != 0x7F);
}

static int is_visible_ascii(unsigned char c)
{
    return c > ' ' && c < 0x7F;
}

/* Append c to a NUL-terminated string of *len bytes in a cap-byte buffer;
 * 0 if it is full. */
static int append(char *buf, size_t cap, size_t *len, char c)
{
    if (*len + 1 >= cap)
        return 0;
    buf[(*len)++] = c;
    buf[*len] = '\0';
    return 1;
}

/* Move on to the next part of the head, with an empty string to build. */
static void enter(struct chatd_http_parser *p, unsigned state)
{
    p->state = state;
    p->len = 0;
}

/* ---- the request line --------------------------------------------------- */

static int on_start(struct chatd_http_parser *p, unsigned char c)
{
    if (c == '\n')
        return CHATD_HTTP_MORE;
    if (!is_tchar(c))
        return 400;
    enter(p, S_METHOD);
    append(p->req.method, sizeof p->req.method, &p->len, (char)c);
    return CHATD_HTTP_MORE;
}

static int on_method(struct chatd_http_parser *p, unsigned char c)
{
    if (c == ' ') {
        enter(p, S_TARGET);
        return CHATD_HTTP_MORE;
    }
    if (!is_tchar(c))
        return 400;
    /* A longer method is none that chatd implements. */
    return append(p->req.method, sizeof p->req.method, &p->len, (char)c)
               ? CHATD_HTTP_MORE
               : 501;
}

/*
 * Reduce an absolute-form target ("http://host:port/path", which servers
 * must accept, RFC 9112 3.2.2) to its path; the authority is Host's job.
 */
static void strip_authority(char *path)
{
    const char *rest = NULL;
    size_t n = strlen(path);
    if (n >= 7 && same_ci(path, "http://", 7))
        rest = path + 7;
    else if (n >= 8 && same_ci(path, "https://", 8))
        rest = path + 8;
    if (!rest)
        return;
    rest = strchr(rest, '/');
    if (!rest)
        memcpy(path, "/", 2); /* "http://host?q": the path is "/" */
    else
        memmove(path, rest, strlen(rest) + 1);
}

static int end_target(struct chatd_http_parser *p)
{
    strip_authority(p->req.path);
    if (p->req.path[0] != '/' && strcmp(p->req.path, "*") != 0)
        return 400;
    enter(p, S_VERSION);
    return CHATD_HTTP_MORE;
}

static int on_target(struct chatd_http_parser *p, unsigned char c)
{
    if (c == ' ')
        return end_target(p);
    /* A fragment is never sent (RFC 9110 4.2.5); a raw one is garbage. */
    if (!is_visible_ascii(c) || c == '#')
        return 400;
    if (c == '?' && p->state == S_TARGET) {
        enter(p, S_QUERY);
        return CHATD_HTTP_MORE;
    }
    if (p->state == S_TARGET)
        return append(p->req.path, sizeof p->req.path, &p->len, (char)c)
                   ? CHATD_HTTP_MORE
                   : 414;
    return append(p->req.query, sizeof p->req.query, &p->len, (char)c)
               ? CHATD_HTTP_MORE
               : 414;
}

/* "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3); only major version 1 here. */
static int end_version(struct chatd_http_parser *p)
{
    const char *v = p->version;
    if (strlen(v) != 8 || strncmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
        v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1')
        return 505;
    p->req.minor = v[7] - '0';
    p->state = S_LINE;
    return CHATD_HTTP_MORE;
}

static int on_version(struct chatd_http_parser *p, unsigned char c)
{
    if (c == '\n')
        return end_version(p);
    if (!is_visible_ascii(c))
        return 400;
    return append(p->version, sizeof p->version, &p->len, (char)c)
               ? CHATD_HTTP_MORE
               : 400;
}

/* ---- header lines -------------------------------------------------------- */

static int end_head(struct chatd_http_parser *p)
{
    /* RFC 9112 3.2: an HTTP/1.1 request without Host gets a 400. */
    if (p->req.minor >= 1 && !(p->seen & 1u << F_HOST))
        return 400;
    return CHATD_HTTP_DONE;
}

static int on_line(struct chatd_http_parser *p, unsigned char c)
{
    if (c == '\n')
        return end_head(p);
    /* A space here would be obs-fold, which a server may reject (RFC
     * 9112 5.2) and chatd does: folding is how smuggling starts. */
    if (!is_tchar(c))
        return 400;
    enter(p, S_NAME);
    p->name[0] = '\0';
    /* Names longer than the buffer are none chatd reads: keep the start. */
    append(p->name, sizeof p->name, &p->len, (char)lower(c));
    return CHATD_HTTP_MORE;
}

static unsigned find_field(const char *name)
{
    for (unsigned i = 0; i < N_FIELDS; i++)
        if (strcmp(name, fields[i].name) == 0)
            return i;
    return F_OTHER;
}

/* The name is complete: find where its value goes. */
static int begin_value(struct chatd_http_parser *p)
{
    unsigned f = p->len < sizeof p->name - 1 ? find_field(p->name) : F_OTHER;
    p->field = f;
    enter(p, S_VALUE_START);
    p->separate = 0;
    if (f == F_OTHER)
        return CHATD_HTTP_MORE;
    if (fields[f].flags & F_SINGLE) {
        if (p->seen & 1u << f)
            return 400;
        p->seen |= 1u << f;
    }
    if (f == F_TRANSFER_ENCODING)
        p->req.transfer_encoding = 1;
    if (fields[f].cap) {
        p->len = strlen((char *)p + fields[f].offset);
        p->separate = p->len > 0;
    }
    return CHATD_HTTP_MORE;
}

static int on_name(struct chatd_http_parser *p, unsigned char c)
{
    if (c == ':')
        return begin_value(p);
    /* No whitespace before the colon (RFC 9112 5.1): 400. */
    if (!is_tchar(c))
        return 400;
    if (p->len < sizeof p->name - 1)
        append(p->name, sizeof p->name, &p->len, (char)lower(c));
    else
        p->len = sizeof p->name; /* too long to be one we read */
    return CHATD_HTTP_MORE;
}

/* Store a value byte of a header chatd reads (431 when it is full). */
static int store(struct chatd_http_parser *p, unsigned char c)
{
    const struct field *f = &fields[p->field];
    char *buf = (char *)p + f->offset;
    if (p->separate) {
        p->separate = 0;
        if (!append(buf, f->cap, &p->len, ',') ||
            !append(buf, f->cap, &p->len, ' '))
            return 431;
    }
    return append(buf, f->cap, &p->len, (char)c) ? CHATD_HTTP_MORE : 431;
}

/* Content-Length: digits only (RFC 9110 8.6), no sign, no list. */
static int parse_length(struct chatd_http_parser *p)
{
    int64_t n = 0;
    size_t k = strlen(p->clen);
    if (k == 0 || k > 18)
        return 400;
    for (size_t i = 0; i < k; i++) {
        if (p->clen[i] < '0' || p->clen[i] > '9')
            return 400;
        n = n * 10 + (p->clen[i] - '0');
    }
    p->req.content_length = n;
    return CHATD_HTTP_MORE;
}

static int end_value(struct chatd_http_parser *p)
{
    p->state = S_LINE;
    if (p->field == F_OTHER || !fields[p->field].cap)
        return CHATD_HTTP_MORE;
    char *buf = (char *)p + fields[p->field].offset;
    /* Trailing whitespace is not part of the value (RFC 9112 5.1). */
    while (p->len > 0 && (buf[p->len - 1] == ' ' || buf[p->len - 1] == '\t'))
        buf[--p->len] = '\0';
    if (p->field == F_CONTENT_LENGTH)
        return parse_length(p);
    return CHATD_HTTP_MORE;
}

static int on_value(struct chatd_http_parser *p, unsigned char c)
{
    if (c == '\n')
        return end_value(p);
    if (!is_value_char(c))
        return 400;
    if (p->state == S_VALUE_START) {
        if (c == ' ' || c == '\t')
            return CHATD_HTTP_MORE;
        p->state = S_VALUE;
    }
    if (p->field == F_OTHER || !fields[p->field].cap)
        return CHATD_HTTP_MORE;
    return store(p, c);
}

/* ---- the parser ---------------------------------------------------------- */

static int step(struct chatd_http_parser *p, unsigned char c)
{
    /* CRLF or a bare LF ends a line (RFC 9112 2.2); a bare CR does not. */
    if (p->cr) {
        if (c != '\n')
            return 400;
        p->cr = 0;
    } else if (c == '\r') {
        p->cr = 1;
        return CHATD_HTTP_MORE;
    }
    switch (p->state) {
    case S_START: return on_start(p, c);
    case S_METHOD: return on_method(p, c);
    case S_TARGET:
    case S_QUERY: return on_target(p, c);
    case S_VERSION: return on_version(p, c);
    case S_LINE: return on_line(p, c);
    case S_NAME: return on_name(p, c);
    default: return on_value(p, c);
    }
}

void chatd_http_init(struct chatd_http_parser *p, size_t max_head)
{
    memset(p, 0, sizeof *p);
    p->max_head = max_head ? max_head : CHATD_HTTP_HEAD_MAX;
    p->req.content_length = -1;
    p->state = S_START;
}

int chatd_http_parse(struct chatd_http_parser *p, const char *data,
                     size_t len, size_t *used)
{
    size_t i = 0;
    while (p->result == CHATD_HTTP_MORE && i < len) {
        if (p->head_len == p->max_head) {
            p->result = 431;
            break;
        }
        p->head_len++;
        p->result = step(p, (unsigned char)data[i++]);
    }
    *used = i;
    return p->result;
}

/* ---- helpers for the router ---------------------------------------------- */

/*
 * Walk a comma-separated list: the next item's start and length, with
 * surrounding spaces and tabs removed. Returns the position after it, or
 * NULL at the end.
 */
static const char *next_item(const char *s, const char **item, size_t *n)
{
    if (!*s)
        return NULL;
    size_t k = strcspn(s, ",");
    const char *b = s, *e = s + k;
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *item = b;
    *n = (size_t)(e - b);
    return s[k] ? s + k + 1 : s + k;
}

/* Non-zero if one of list's items equals want, case-insensitively (empty
 * items, as in "a,,b", are none). */
static int list_has(const char *list, const char *want)
{
    size_t wn = strlen(want), n;
    const char *item;
    while ((list = next_item(list, &item, &n)) != NULL)
        if (n && n == wn && same_ci(item, want, n))
            return 1;
    return 0;
}

int chatd_http_has_token(const char *list, const char *token)
{
    return list_has(list, token);
}

int chatd_http_keep_alive(const struct chatd_http_req *req)
{
    if (req->minor >= 1)
        return !chatd_http_has_token(req->connection, "close");
    return chatd_http_has_token(req->connection, "keep-alive");
}

const char *chatd_http_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {101, "Switching Protocols"}, {200, "OK"},
        {204, "No Content"},          {304, "Not Modified"},
        {400, "Bad Request"},         {403, "Forbidden"},
        {404, "Not Found"},           {405, "Method Not Allowed"},
        {408, "Request Timeout"},     {413, "Content Too Large"},
        {414, "URI Too Long"},        {426, "Upgrade Required"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"}, {501, "Not Implemented"},
        {503, "Service Unavailable"}, {505, "HTTP Version Not Supported"},
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

size_t chatd_http_response(char *buf, size_t cap, int status,
                           const char *content_type, const char *body,
                           size_t body_len, const char *extra_headers)
{
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, chatd_http_reason(status),
                     content_type ? "Content-Type: " : "",
                     content_type ? content_type : "",
                     content_type ? "\r\n" : "", body_len,
                     extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= cap)
        return 0;
    if (!body)
        return (size_t)n;
    if (body_len > cap - (size_t)n)
        return 0;
    memcpy(buf + n, body, body_len);
    return (size_t)n + body_len;
}

/* ---- the WebSocket handshake --------------------------------------------- */

/* RFC 6455 section 1.3: the GUID every accept key is hashed with. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int chatd_ws_accept_key(const char *key, char out[CHATD_WS_ACCEPT_LEN + 1])
{
    char buf[128];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    int n = snprintf(buf, sizeof buf, "%s%s", key, ws_guid);
    if (n < 0 || (size_t)n >= sizeof buf)
        return -1;
    if (!EVP_Digest(buf, (size_t)n, md, &md_len, EVP_sha1(), NULL) ||
        md_len != 20)
        return -1;
    /* 20 bytes are 28 base64 characters, and EVP_EncodeBlock adds a NUL. */
    return EVP_EncodeBlock((unsigned char *)out, md, 20) ==
                   CHATD_WS_ACCEPT_LEN
               ? 0
               : -1;
}

static int b64_value(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *at = c ? strchr(alphabet, c) : NULL;
    return at ? (int)(at - alphabet) : -1;
}

/*
 * RFC 6455 4.2.1: the key is 16 bytes in base64, i.e. 22 characters and
 * "==", the last character carrying 2 bits and 4 zero bits of padding.
 */
static int key_valid(const char *key)
{
    if (strlen(key) != 24 || strcmp(key + 22, "==") != 0)
        return 0;
    for (int i = 0; i < 22; i++)
        if (b64_value(key[i]) < 0)
            return 0;
    return (b64_value(key[21]) & 0x0F) == 0;
}

/* Which status the handshake earns (101 when it is good). */
static int handshake_status(const struct chatd_http_req *req)
{
    if (strcmp(req->method, "GET") != 0)
        return 405;
    if (!req->upgrade[0])
        return 426; /* a plain GET: tell it to speak WebSocket */
    if (req->minor < 1 || !chatd_http_has_token(req->upgrade, "websocket") ||
        !chatd_http_has_token(req->connection, "upgrade") ||
        !key_valid(req->ws_key) || !req->ws_version[0])
        return 400;
    if (strcmp(req->ws_version, "13") != 0)
        return 426;
    return 101;
}

static size_t handshake_error(int status, char *out, size_t cap)
{
    static const char body[] = "This is a WebSocket endpoint.\n";
    const char *extra = NULL;
    if (status == 405)
        extra = "Allow: GET\r\n";
    else if (status == 426)
        extra = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
    return chatd_http_response(out, cap, status, "text/plain; charset=utf-8",
                               body, sizeof body - 1, extra);
}

int chatd_ws_handshake(const struct chatd_http_req *req, char *out,
                       size_t cap, size_t *len)
{
    char accept[CHATD_WS_ACCEPT_LEN + 1];
    int status = handshake_status(req);
    if (status == 101 && chatd_ws_accept_key(req->ws_key, accept) != 0)
        status = 500;
    if (status == 101) {
        int n = snprintf(out, cap,
                         "HTTP/1.1 101 Switching Protocols\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n\r\n",
                         accept);
        *len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
    } else {
        *len = handshake_error(status, out, cap);
    }
    return *len ? status : -1;
}

int chatd_ws_origin_allowed(const char *allowed, const char *origin)
{
    if (!allowed || !*allowed || !*origin)
        return 1;
    return list_has(allowed, origin);
}
