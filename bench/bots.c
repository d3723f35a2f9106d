/*
 * chat-bench --bots: simulated users for demos and soak runs. Each bot,
 * once in its room, acts after a random pause (uniform, averaging 1/--rate
 * seconds): mostly chat, sometimes /me, a direct message to another bot,
 * a rename, a move to another room, or /users or /rooms. Bots follow their
 * own name and room from the server's replies; refusals (a name already
 * taken, a bot that renamed before our /msg reached it) are counted, not
 * errors. The end (--duration or a signal) sends /quit to every bot and
 * waits a little for the server to close them.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"

#define QUIT_WAIT_S 3
#define PROGRESS_TICKS (1000 / TICK_MS)

struct bench_bot {
    struct bench_conn *conn;
    struct event *timer;
};

struct bench_botstate {
    struct bench_bot *bot;   /* opt.clients of them */
    uint64_t rng;
    struct event *quit_ev;
    uint64_t start_ns, end_ns;
    double cpu_user0, cpu_sys0, cpu_user, cpu_sys;
    /* what the bots did and saw */
    uint64_t sent, chat, me, msg, renames, joins, lists;
    uint64_t received, refusals, dropped, disconnects;
    char first_loss[192];
};

static const char *const words[] = {
    "hello", "anyone", "pizza", "tonight", "the", "build", "is", "green",
    "again", "who", "broke", "main", "coffee", "time", "lunch", "at",
    "noon", "did", "you", "see", "that", "match", "great", "idea", "no",
    "way", "ok", "sure", "later", "café", "naïve", "über", "déjà", "vu",
    "ship", "it", "LGTM", "tests", "pass", "on", "my", "machine", ":)",
};

static const char *const nicks[] = {
    "ada", "bob", "cyd", "dee", "eve", "fox", "gus", "hal", "ivy", "jo",
    "kim", "lu", "max", "ned", "oz", "pam",
};

#define COUNT(a) (sizeof(a) / sizeof(*(a)))

/* xorshift64*: plenty for picking words, and reproducible with --seed. */
static uint64_t rnd(struct bench_botstate *st)
{
    st->rng ^= st->rng >> 12;
    st->rng ^= st->rng << 25;
    st->rng ^= st->rng >> 27;
    return st->rng * 0x2545F4914F6CDD1Dull;
}

static unsigned pick(struct bench_botstate *st, unsigned n)
{
    return (unsigned)(rnd(st) % n);
}

int bench_bots_init(struct bench *b)
{
    struct bench_botstate *st = calloc(1, sizeof *st);

    if (!st)
        return -1;
    b->bots = st;
    st->rng = b->opt.seed ? b->opt.seed
                          : (bench_now_ns() ^ ((uint64_t)getpid() << 32));
    if (st->rng == 0)
        st->rng = 1;
    st->bot = calloc(b->opt.clients, sizeof *st->bot);
    if (!st->bot)
        return -1;
    for (unsigned i = 0; i < b->opt.clients; i++) {
        st->bot[i].conn = &b->conns[i];
        b->conns[i].bot = &st->bot[i];
    }
    st->start_ns = bench_now_ns();
    bench_cpu(&st->cpu_user0, &st->cpu_sys0);
    return 0;
}

void bench_bots_free(struct bench *b)
{
    struct bench_botstate *st = b->bots;

    if (!st)
        return;
    for (unsigned i = 0; st->bot && i < b->opt.clients; i++)
        if (st->bot[i].timer)
            event_free(st->bot[i].timer);
    if (st->quit_ev)
        event_free(st->quit_ev);
    free(st->bot);
    free(st);
    b->bots = NULL;
}

/* ---- acting ------------------------------------------------------------- */

static void put(struct bench_conn *c, const char *s)
{
    c->b->bots->sent++;
    bench_send(c, s, strlen(s));
}

static void say_words(struct bench_botstate *st, char *buf, size_t size)
{
    unsigned n = 2 + pick(st, 9);
    size_t len = strlen(buf);

    for (unsigned i = 0; i < n; i++) {
        const char *w = words[pick(st, COUNT(words))];

        if (len + strlen(w) + 2 >= size)
            break;
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", w);
    }
}

/* Another bot that is online, or NULL. */
static struct bench_conn *other_bot(struct bench *b,
                                   const struct bench_conn *me)
{
    for (int tries = 0; tries < 8; tries++) {
        struct bench_conn *c = &b->conns[pick(b->bots, b->opt.clients)];

        if (c != me && c->state == CONN_READY && c->name[0])
            return c;
    }
    return NULL;
}

static void act(struct bench_conn *c)
{
    struct bench *b = c->b;
    struct bench_botstate *st = b->bots;
    unsigned roll = pick(st, 100);
    struct bench_conn *peer;
    char line[512], room[CHAT_NAME_MAX + 1];
    size_t len;

    line[0] = '\0';
    if (roll < 70) {
        st->chat++;
    } else if (roll < 76) {
        snprintf(line, sizeof line, "/me ");
        st->me++;
    } else if (roll < 82 && (peer = other_bot(b, c)) != NULL) {
        snprintf(line, sizeof line, "/msg %s ", peer->name);
        st->msg++;
    } else if (roll < 88) {
        snprintf(line, sizeof line, "/name %s_%u\n",
                 nicks[pick(st, COUNT(nicks))], pick(st, 1000));
        st->renames++;
        put(c, line);
        return;
    } else if (roll < 94 && b->opt.rooms > 1) {
        bench_room_name(b, pick(st, b->opt.rooms), room, sizeof room);
        snprintf(line, sizeof line, "/join %s\n", room);
        st->joins++;
        put(c, line);
        return;
    } else {
        put(c, pick(st, 2) ? "/users\n" : "/rooms\n");
        st->lists++;
        return;
    }
    say_words(st, line, sizeof line - 1);
    len = strlen(line);
    line[len++] = '\n';
    line[len] = '\0';
    put(c, line);
}

static void schedule(struct bench_bot *bot)
{
    struct bench *b = bot->conn->b;
    /* Uniform in [0, 2/rate): the mean pause is 1/rate. */
    double s = (double)(rnd(b->bots) % 1000000) / 1e6 * 2.0 / b->opt.rate;
    struct timeval tv;

    tv.tv_sec = (time_t)s;
    tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
    evtimer_add(bot->timer, &tv);
}

static void on_bot_timer(evutil_socket_t fd, short what, void *arg)
{
    struct bench_bot *bot = arg;
    struct bench_conn *c = bot->conn;

    (void)fd;
    (void)what;
    if (c->state != CONN_READY || c->b->phase > PHASE_SENDING)
        return;
    c->b->now_ns = bench_now_ns();
    act(c);
    bench_flush(c);
    schedule(bot);
}

void bench_bot_ready(struct bench_conn *c)
{
    struct bench_bot *bot = c->bot;

    bot->timer = evtimer_new(c->b->base, on_bot_timer, bot);
    if (!bot->timer) {
        bench_fatal(c->b, "out of memory");
        return;
    }
    schedule(bot);
}

void bench_bots_start(struct bench *b)
{
    if (b->phase == PHASE_SETUP)
        b->phase = PHASE_SENDING;
}

/* ---- what bots see ------------------------------------------------------- */

static int is_refusal(const char *line, size_t len)
{
    static const char *const starts[] = {
        "No such user: ", "Name must be", "Room must be",
        "Unrecognized command ", "Usage: ", "You are sending too fast",
    };
    static const char taken[] = " is already taken";
    size_t t = sizeof taken - 1;

    for (size_t i = 0; i < COUNT(starts); i++)
        if (bench_line_starts(line, len, starts[i]))
            return 1;
    return len > t && memcmp(line + len - t, taken, t) == 0;
}

/* "{me} is now {new}": follow our own rename. */
static void track_rename(struct bench_conn *c, const char *line, size_t len)
{
    static const char is_now[] = " is now ";
    size_t me = strlen(c->name), k = sizeof is_now - 1;

    if (me == 0 || len <= me + k || memcmp(line, c->name, me) != 0 ||
        memcmp(line + me, is_now, k) != 0 || len - me - k > CHAT_NAME_MAX)
        return;
    memcpy(c->name, line + me + k, len - me - k);
    c->name[len - me - k] = '\0';
}

void bench_bot_line(struct bench_conn *c, const char *line, size_t len)
{
    struct bench_botstate *st = c->b->bots;
    static const char busy[] = "Server is very busy and dropped ";

    st->received++;
    if (is_refusal(line, len)) {
        st->refusals++;
        bench_note_line(c, line, len);
    } else if (bench_line_starts(line, len, busy)) {
        st->dropped += strtoull(line + sizeof busy - 1, NULL, 10);
    } else if (bench_line_starts(line, len, "You are ") &&
               len - 8 <= CHAT_NAME_MAX) {
        memcpy(c->name, line + 8, len - 8);
        c->name[len - 8] = '\0';
    } else {
        track_rename(c, line, len);
    }
}

/* ---- the end --------------------------------------------------------------- */

static void finish(struct bench *b)
{
    struct bench_botstate *st = b->bots;

    if (b->phase == PHASE_DONE)
        return;
    b->phase = PHASE_DONE;
    st->end_ns = bench_now_ns();
    bench_cpu(&st->cpu_user, &st->cpu_sys);
    bench_done(b);
}

static void on_quit_wait(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish(arg);
}

void bench_bots_stop(struct bench *b)
{
    struct bench_botstate *st = b->bots;
    struct timeval tv = {QUIT_WAIT_S, 0};

    if (b->phase >= PHASE_DRAIN)
        return;
    b->phase = PHASE_DRAIN;
    for (unsigned i = 0; i < b->opt.clients; i++) {
        struct bench_conn *c = &b->conns[i];

        if (c->state == CONN_READY) {
            bench_send(c, "/quit\n", 6);
            bench_flush(c);
        } else {
            bench_conn_close(c); /* still connecting: just go */
        }
    }
    st->quit_ev = evtimer_new(b->base, on_quit_wait, b);
    if (b->open == 0 || !st->quit_ev || evtimer_add(st->quit_ev, &tv) < 0)
        finish(b);
}

void bench_bot_closed(struct bench_conn *c)
{
    struct bench *b = c->b;
    struct bench_botstate *st = b->bots;

    if (c->bot->timer)
        event_del(c->bot->timer);
    if (b->phase == PHASE_DRAIN) {
        if (b->open == 0)
            finish(b);
        return;
    }
    st->disconnects++;
    if (!st->first_loss[0])
        snprintf(st->first_loss, sizeof st->first_loss, "bot %u (%s): %s",
                 c->id + 1, c->name, c->last_line[0] ? c->last_line
                                                     : "closed by the server");
    if (b->open == 0) {
        bench_fatal(b, "every bot was disconnected; the first, %s",
                    st->first_loss);
        finish(b);
    }
}

void bench_bots_tick(struct bench *b)
{
    struct bench_botstate *st = b->bots;
    char sent[16], got[16];

    if (b->ticks % PROGRESS_TICKS != 0 || b->phase == PHASE_DONE)
        return;
    bench_human((double)st->sent, sent, sizeof sent);
    bench_human((double)st->received, got, sizeof got);
    bench_progress(b, "%5.1fs  bots %u/%u online  sent %s  received %s  "
                   "refusals %llu  disconnects %llu",
                   (double)(bench_now_ns() - st->start_ns) / 1e9, b->joined -
                   (unsigned)st->disconnects, b->opt.clients, sent, got,
                   (unsigned long long)st->refusals,
                   (unsigned long long)st->disconnects);
}

void bench_report_bots(struct bench *b, FILE *out)
{
    struct bench_botstate *st = b->bots;
    double secs = st->end_ns > st->start_ns
                      ? (double)(st->end_ns - st->start_ns) / 1e9 : 0;
    double user = st->cpu_user - st->cpu_user0, sys = st->cpu_sys - st->cpu_sys0;

    if (b->opt.json) {
        fprintf(out,
                "{\"mode\": \"bots\", \"tls\": %s, \"bots\": %u, "
                "\"rooms\": %u, \"online\": %u, \"elapsed_s\": %.3f, \"sent\": %llu, "
                "\"chat\": %llu, \"me\": %llu, \"msg\": %llu, "
                "\"renames\": %llu, \"joins\": %llu, \"lists\": %llu, "
                "\"received\": %llu, \"refusals\": %llu, \"dropped\": %llu, "
                "\"disconnects\": %llu, \"cpu_user_s\": %.3f, "
                "\"cpu_sys_s\": %.3f, \"error\": %s}\n",
                b->opt.tls ? "true" : "false", b->opt.clients, b->opt.rooms,
                b->joined, secs,
                (unsigned long long)st->sent, (unsigned long long)st->chat,
                (unsigned long long)st->me, (unsigned long long)st->msg,
                (unsigned long long)st->renames, (unsigned long long)st->joins,
                (unsigned long long)st->lists, (unsigned long long)st->received,
                (unsigned long long)st->refusals,
                (unsigned long long)st->dropped,
                (unsigned long long)st->disconnects, user, sys,
                b->fatal ? "true" : "false");
        return;
    }
    fprintf(out, "chat-bench: %u bots in %u rooms%s for %.1f s (%u came "
            "online)\n", b->opt.clients, b->opt.rooms,
            b->opt.tls ? " over TLS" : "", secs, b->joined);
    fprintf(out, "sent         %llu lines: %llu chat, %llu /me, %llu /msg, "
            "%llu renames, %llu joins, %llu lists\n",
            (unsigned long long)st->sent, (unsigned long long)st->chat,
            (unsigned long long)st->me, (unsigned long long)st->msg,
            (unsigned long long)st->renames, (unsigned long long)st->joins,
            (unsigned long long)st->lists);
    fprintf(out, "received     %llu lines, %llu refusals, %llu dropped\n",
            (unsigned long long)st->received, (unsigned long long)st->refusals,
            (unsigned long long)st->dropped);
    fprintf(out, "disconnects  %llu%s%s\n", (unsigned long long)st->disconnects,
            st->first_loss[0] ? "; first: " : "", st->first_loss);
    fprintf(out, "cpu          %.2f s user + %.2f s sys\n", user, sys);
}
