/*
 * chat-bench: the benchmark message. Its text names the sender, numbers
 * the message and carries the send time, so any receiver can measure
 * latency and check order without knowing anything else about the run:
 *
 *     @cb/SID/SEQ/TNS/xxxxxxxx...      (exactly --size bytes)
 *
 * chatd's receivers get it as "{name}: {text}", redis's as a message's
 * payload. Parsing is on the generator's hot path (one call per received
 * line), so it is hand-written: find the ": ", check the tag, read three
 * decimal numbers.
 */
#include <string.h>

#include "bench.h"

static const char tag[] = "@cb/";
#define TAG_LEN (sizeof tag - 1)

size_t bench_put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

size_t bench_payload_write(char *buf, size_t size, const struct bench_msg *m)
{
    char head[TAG_LEN + 64]; /* three numbers of up to 20 digits, '/' each */
    size_t n = TAG_LEN;

    memcpy(head, tag, TAG_LEN);
    n += bench_put_u64(head + n, m->sid);
    head[n++] = '/';
    n += bench_put_u64(head + n, m->seq);
    head[n++] = '/';
    n += bench_put_u64(head + n, m->t_ns);
    head[n++] = '/';
    if (n > size)
        return 0;
    memcpy(buf, head, n);
    /* 'x', not spaces: the server trims trailing blanks. */
    memset(buf + n, 'x', size - n);
    buf[size] = '\n';
    return size + 1;
}

static int name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

/* A decimal number ending in '/' at *p (before end); advances *p past it. */
static int get_num(const char **p, const char *end, uint64_t max, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;

    if (s >= end || *s < '0' || *s > '9')
        return -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (x > (max - (uint64_t)(*s - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    if (s >= end || *s != '/')
        return -1;
    *p = s + 1;
    *v = x;
    return 0;
}

int bench_payload_parse_text(const char *text, size_t len,
                             struct bench_msg *m)
{
    const char *p = text + TAG_LEN, *end = text + len;
    uint64_t sid, seq, t;

    if (len < TAG_LEN || memcmp(text, tag, TAG_LEN) != 0 ||
        get_num(&p, end, UINT32_MAX, &sid) < 0 ||
        get_num(&p, end, UINT32_MAX, &seq) < 0 ||
        get_num(&p, end, UINT64_MAX, &t) < 0)
        return 0;
    m->sid = (uint32_t)sid;
    m->seq = (uint32_t)seq;
    m->t_ns = t;
    return 1;
}

int bench_payload_parse(const char *line, size_t len, struct bench_msg *m)
{
    /* A name is at most CHAT_NAME_MAX characters (a few more for the
     * numbered fallback), so the ": " is near the start if anywhere. */
    size_t scan = len < CHAT_NAME_MAX + 12 ? len : CHAT_NAME_MAX + 12;
    const char *colon = memchr(line, ':', scan);
    const char *end = line + len;

    if (!colon || colon == line || (size_t)(end - colon) < 2 + TAG_LEN ||
        colon[1] != ' ')
        return 0;
    /* "from bob: ..." is a direct message, not the room's chat. */
    for (const char *p = line; p < colon; p++)
        if (!name_char(*p))
            return 0;
    return bench_payload_parse_text(colon + 2, (size_t)(end - colon - 2), m);
}

/*
 * Order per (receiver, sender): the highest number seen and which of the
 * 32 below it were seen. A gap is not an error here (the server may drop
 * lines for a slow reader, and says so); a number that comes back below
 * the highest is reordered if new, a duplicate if seen. Below the window
 * we cannot tell, and call it reordered: with one TCP stream per receiver
 * neither should ever happen.
 */
enum bench_seq_result bench_seq_track(struct bench_seq *st, uint32_t seq)
{
    uint32_t k;

    if (seq > st->hi) {
        k = seq - st->hi;
        if (st->hi == 0 || k > 32)
            st->seen = 0;
        else
            st->seen = (k == 32 ? 0 : st->seen << k) | (1u << (k - 1));
        st->hi = seq;
        return BENCH_SEQ_IN_ORDER;
    }
    if (seq == st->hi)
        return BENCH_SEQ_DUPLICATE;
    k = st->hi - seq;
    if (k > 32)
        return BENCH_SEQ_LATE;
    if (st->seen & (1u << (k - 1)))
        return BENCH_SEQ_DUPLICATE;
    st->seen |= 1u << (k - 1);
    return BENCH_SEQ_LATE;
}
