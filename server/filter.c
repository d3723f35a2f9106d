/*
 * chatd - --filter-exec, the broker's side. See filter.h, doc/filter.md.
 *
 * The filter callback runs inside the broker, which it must not call
 * back: it only writes the question (filter_child.c queues it) and
 * answers CHAT_FILTER_PENDING, or applies the fallback at once when the
 * question cannot be asked. Everything that resumes a message runs later
 * from the loop: an answer read, the timer of the oldest question, the
 * program going down. Each of those ends with a flush, which writes what
 * the broker relayed and re-arms the broker's timer.
 *
 * Questions waiting are a ring in the order asked. Every one gets the
 * same timeout, so that is also deadline order (one timer, for the
 * oldest), and ids grow along it, so an answer, which may come in any
 * order, finds its question by binary search.
 */
#define _POSIX_C_SOURCE 200809L

#include "filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter_child.h"
#include "filterproto.h"
#include "log.h"
#include "server.h"

/* A question asked and not answered yet. */
struct question {
    uint64_t id;       /* in the request line */
    uint64_t token;    /* the broker's, for chat_broker_filter_resume */
    uint64_t due;      /* chatd_now_ms() past which the fallback applies */
    int answered;      /* answered out of order: popped when it is oldest */
};

struct chatd_filter {
    struct chatd_server *srv;
    struct chatd_filter_config cfg;
    struct chatd_child *child;
    struct event *timer_ev; /* the oldest question's deadline */
    struct question *q;     /* ring of cap, count from head, oldest first */
    size_t head, count, cap;
    uint64_t next_id;
    struct chatd_log_limit garbage_log, late_log, full_log;
};

/* ---- the questions waiting ----------------------------------------------- */

static struct question *q_at(const struct chatd_filter *f, size_t i)
{
    return &f->q[(f->head + i) % f->cap];
}

/* Room for one more question. Returns 0, or -1 at the limit or without
 * memory. */
static int q_reserve(struct chatd_filter *f)
{
    size_t cap = f->cap ? f->cap * 2 : 64;
    struct question *v;

    if (f->count < f->cap)
        return 0;
    if (f->cap >= CHATD_FILTER_MAX_WAITING)
        return -1;
    v = malloc(cap * sizeof *v);
    if (!v)
        return -1;
    if (f->count > 0) { /* full: it wraps at head */
        size_t tail = f->cap - f->head;
        memcpy(v, f->q + f->head, tail * sizeof *v);
        memcpy(v + tail, f->q, f->head * sizeof *v);
    }
    free(f->q);
    f->q = v;
    f->cap = cap;
    f->head = 0;
    return 0;
}

static void q_push(struct chatd_filter *f, const struct question *e)
{
    f->q[(f->head + f->count++) % f->cap] = *e;
}

/* Take the oldest question off the ring, into *e. */
static void q_pop(struct chatd_filter *f, struct question *e)
{
    *e = *q_at(f, 0);
    f->head = (f->head + 1) % f->cap;
    f->count--;
}

/* The question asked under id, or NULL. */
static struct question *q_find(const struct chatd_filter *f, uint64_t id)
{
    size_t lo = 0, hi = f->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        struct question *e = q_at(f, mid);
        if (e->id == id)
            return e;
        if (e->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- deadlines ----------------------------------------------------------- */

static void arm_timer(struct chatd_filter *f)
{
    uint64_t now = chatd_now_ms(), due, wait;
    struct timeval tv;

    if (f->count == 0)
        return;
    due = q_at(f, 0)->due;
    wait = due > now ? due - now : 0;
    tv.tv_sec = (time_t)(wait / 1000);
    tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
    /* Without it, allow would turn into the broker's drop, later. */
    if (evtimer_add(f->timer_ev, &tv) != 0)
        log_error("filter: cannot arm the answer timer");
}

static chat_filter_verdict fallback(const struct chatd_filter *f)
{
    return f->cfg.fallback_allow ? CHAT_FILTER_ALLOW : CHAT_FILTER_DROP;
}

static const char *fallback_done(const struct chatd_filter *f)
{
    return f->cfg.fallback_allow ? "allowed unfiltered" : "dropped";
}

/* Answer the broker for a question; it may run the sender's next lines,
 * which may ask new questions (appended to the ring: hold no pointer into
 * it across this call). */
static void resume(struct chatd_filter *f, uint64_t token,
                   chat_filter_verdict v, const char *text, size_t len)
{
    /* CHAT_ERR_NOT_FOUND: the sender left meanwhile; nothing to do. */
    (void)chat_broker_filter_resume(f->srv->broker, token, v, text, len,
                                    chatd_now_ms());
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_filter *f = arg;
    uint64_t now = chatd_now_ms();
    struct question e;

    (void)fd;
    (void)what;
    while (f->count > 0 && q_at(f, 0)->due <= now) {
        q_pop(f, &e);
        if (e.answered)
            continue;
        chatd_log_limited(&f->late_log, now, CHATD_LOG_WARN,
                          "filter: no answer to request %llu within %.3f s: "
                          "the message is %s",
                          (unsigned long long)e.id,
                          (double)f->cfg.timeout_ms / 1000.0, fallback_done(f));
        /* With drop, the broker's own deadline (the same) drops it and
         * tells the sender. */
        if (f->cfg.fallback_allow)
            resume(f, e.token, CHAT_FILTER_ALLOW, NULL, 0);
    }
    arm_timer(f);
    chatd_server_schedule_flush(f->srv);
}

/* ---- asking -------------------------------------------------------------- */

/* The chat_filter_fn (so buf and len, for a rewrite, are not const; this
 * one never rewrites). Must not call into the broker. */
// NOLINTNEXTLINE(readability-non-const-parameter): chat_filter_fn's buf
static chat_filter_verdict ask(void *ctx, const chat_filter_msg *m, char *buf,
                               size_t *len) // NOLINT(readability-non-const-parameter)
{
    struct chatd_filter *f = ctx;
    char line[CHATP_FILTER_LINE_MAX + 1];
    chatp_filter_request r = {f->next_id, m->kind, m->sender, m->room,
                              m->text, m->len};
    size_t n = chatp_filter_write_request(&r, line, sizeof line);
    uint64_t now = chatd_now_ms();

    (void)buf;
    (void)len;
    if (n == 0 || q_reserve(f) != 0) {
        chatd_log_limited(&f->full_log, now, CHATD_LOG_WARN,
                          "filter: too many questions waiting (%zu): a "
                          "message from %s is %s at once", f->count,
                          m->sender, fallback_done(f));
        return fallback(f);
    }
    switch (chatd_child_send(f->child, line, n)) {
    case CHATD_CHILD_SENT:
        break;
    case CHATD_CHILD_DOWN: /* the incident's own log line said so */
        return fallback(f);
    case CHATD_CHILD_FULL:
        chatd_log_limited(&f->full_log, now, CHATD_LOG_WARN,
                          "filter: the program is not reading its input "
                          "(%zu KiB wait): a message from %s is %s at once",
                          CHATD_CHILD_OUTBUF / 1024, m->sender,
                          fallback_done(f));
        return fallback(f);
    }
    struct question e = {f->next_id++, m->token, now + f->cfg.timeout_ms, 0};
    q_push(f, &e);
    /* Later questions are due later: an armed timer is early enough. */
    if (f->count == 1 || !evtimer_pending(f->timer_ev, NULL))
        arm_timer(f);
    return CHAT_FILTER_PENDING;
}

/* ---- answers ------------------------------------------------------------- */

/* A log-safe excerpt of a line: its start, printable ASCII only. */
static void excerpt(const char *line, size_t len, char *out, size_t size)
{
    size_t n = 0;

    for (; n < len && n + 4 < size; n++)
        out[n] = (char)(line[n] >= 0x20 && line[n] < 0x7f ? line[n] : '?');
    snprintf(out + n, size - n, "%s", n < len ? "..." : "");
}

static void garbage(struct chatd_filter *f, const char *what,
                    const char *line, size_t len)
{
    char text[84];

    excerpt(line, len, text, sizeof text);
    chatd_log_limited(&f->garbage_log, chatd_now_ms(), CHATD_LOG_WARN,
                      "filter: ignored a line from the program (%s): '%s'",
                      what, text);
}

static void answer(struct chatd_filter *f, const chatp_filter_answer *a,
                   const char *line, size_t len)
{
    struct question *e = q_find(f, a->id);
    struct question done;
    uint64_t token;

    if (!e && a->id >= f->next_id) {
        garbage(f, "an answer to no request made", line, len);
        return;
    }
    if (!e || e->answered) {
        log_debug("filter: answer to request %llu ignored: late or repeated",
                  (unsigned long long)a->id);
        return;
    }
    token = e->token;
    e->answered = 1;
    while (f->count > 0 && q_at(f, 0)->answered)
        q_pop(f, &done);
    resume(f, token, a->verdict, a->text, a->len);
    chatd_server_schedule_flush(f->srv);
}

static void on_line(void *ctx, const char *line, size_t len)
{
    struct chatd_filter *f = ctx;
    char buf[CHATP_FILTER_LINE_MAX + 1];
    chatp_filter_answer a;

    if (!line)
        chatd_log_limited(&f->garbage_log, chatd_now_ms(), CHATD_LOG_WARN,
                          "filter: ignored a line from the program (longer "
                          "than %d bytes)", CHATP_FILTER_LINE_MAX);
    else if (chatp_filter_read_answer(line, len, &a, buf, sizeof buf) != 0)
        garbage(f, "not an answer", line, len);
    else
        answer(f, &a, line, len);
}

/* The program went down: what it was asked will not be answered. */
static void on_down(void *ctx)
{
    struct chatd_filter *f = ctx;
    struct question e;

    /* The program is down, so what resuming asks next gets the fallback
     * at once and never joins the ring. */
    while (f->count > 0) {
        q_pop(f, &e);
        if (!e.answered)
            resume(f, e.token, fallback(f), NULL, 0);
    }
    chatd_server_schedule_flush(f->srv);
}

/* ---- lifetime ------------------------------------------------------------ */

int chatd_filter_start(struct chatd_filter **out, struct chatd_server *srv,
                       const struct chatd_filter_config *cfg)
{
    struct chatd_filter *f = calloc(1, sizeof *f);
    struct chatd_child_config cc = {
        cfg->cmd,
        cfg->fallback_allow ? "messages are allowed unfiltered"
                            : "messages are dropped",
        on_line, on_down, f,
    };
    uint64_t broker_ms = cfg->timeout_ms +
                         (cfg->fallback_allow ? CHATD_FILTER_BACKSTOP_MS : 0);

    if (!f) {
        log_error("filter: out of memory");
        return -1;
    }
    f->srv = srv;
    f->cfg = *cfg;
    f->next_id = 1;
    f->timer_ev = evtimer_new(srv->base, on_timer, f);
    if (!f->timer_ev ||
        chat_broker_set_option(srv->broker, CHAT_OPT_FILTER_TIMEOUT_MS,
                               (int64_t)broker_ms) != CHAT_OK ||
        chatd_child_new(&f->child, srv->base, &cc) != 0 ||
        chat_broker_add_filter(srv->broker, ask, f) != CHAT_OK) {
        log_error("filter: cannot start the filter");
        chatd_filter_stop(f);
        return -1;
    }
    *out = f;
    return 0;
}

void chatd_filter_stop(struct chatd_filter *f)
{
    if (!f)
        return;
    if (f->srv->broker)
        (void)chat_broker_remove_filter(f->srv->broker, ask, f);
    chatd_child_free(f->child);
    if (f->timer_ev)
        event_free(f->timer_ev);
    free(f->q);
    free(f);
}
