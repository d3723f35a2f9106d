/*
 * The broker's public entry points: lifetime, options, peers joining, the
 * ready list, timeouts and shutdown (a peer's own calls are in peer.c).
 * Every entry that can decide a close ends with chat_broker_settle(), so
 * closes never run in the middle of a fan-out.
 */
#include <string.h>

#include "alloc.h"
#include "broker_int.h"
#include "mix.h"
#include "text.h"

/* The i-th independent-looking value drawn from the seed. */
static uint64_t seed_draw(uint64_t seed, uint64_t i)
{
    return chat_splitmix64(seed, i);
}

/* Each table gets its own keys, and the name order (which clients can
 * observe) another draw, so seeing names says nothing useful about the
 * hash keys. */
static void seed_tables(chat_broker *b)
{
    chat_map_init(&b->names, offsetof(chat_peer, key), seed_draw(b->seed, 1),
                  seed_draw(b->seed, 2));
    chat_map_init(&b->rooms, offsetof(chat_room, key), seed_draw(b->seed, 3),
                  seed_draw(b->seed, 4));
    chat_map_init(&b->waits, offsetof(chat_wait, key), seed_draw(b->seed, 6),
                  seed_draw(b->seed, 7));
    chat_map_init(&b->remote, offsetof(chat_remote, key), seed_draw(b->seed, 8),
                  seed_draw(b->seed, 9));
    chat_map_init(&b->claims, offsetof(chat_wait, claim_key),
                  seed_draw(b->seed, 12), seed_draw(b->seed, 13));
    chat_map_init(&b->fetches, offsetof(chat_room, fetch_key),
                  seed_draw(b->seed, 14), seed_draw(b->seed, 15));
    chat_bus_init(&b->bus, seed_draw(b->seed, 10), seed_draw(b->seed, 11));
    chat_namegen_init(&b->gen, seed_draw(b->seed, 5));
}

int chat_broker_new(chat_broker **out, const chat_allocator *alloc)
{
    if (!out)
        return CHAT_ERR_INVALID;
    chat_allocator a;
    chat_allocator_init(&a, alloc);
    chat_broker *b = chat_mem_calloc(&a, 1, sizeof(*b));
    if (!b)
        return CHAT_ERR_NOMEM;
    b->alloc = a;
    b->rings.a = &b->alloc;
    b->opt = (chat_options){
        .history = 20, .rate = 20, .burst = 40, .idle_ms = 300000,
        .login_ms = 30000, .write_ms = 30000, .high_water = 1u << 20,
        .filter_ms = 5000, .filter_backlog = 16, .claim_ms = 5000,
    };
    memcpy(b->default_room, "main", 5);
    /* Without CHAT_OPT_SEED, where the broker landed (ASLR) varies runs. */
    b->seed = (uint64_t)(uintptr_t)b;
    seed_tables(b);
    chat_list_init(&b->all);
    chat_list_init(&b->idle);
    chat_list_init(&b->login);
    chat_list_init(&b->writes);
    chat_list_init(&b->ready);
    chat_list_init(&b->doomed);
    chat_list_init(&b->wait_list);
    b->bus.limit = 65536;
    *out = b;
    return CHAT_OK;
}

void chat_broker_free(chat_broker *b)
{
    if (!b)
        return;
    chat_link *l;
    while ((l = chat_list_first(&b->all))) {
        chat_list_remove(l);
        chat_peer_free(b, CHAT_CONTAINER(l, chat_peer, all_link));
    }
    chat_ringpool_clear(&b->rings);
    chat_remote_free_all(b);
    chat_room_free_all(b);
    chat_bus_free(&b->bus, &b->alloc);
    chat_map_free(&b->names, &b->alloc);
    for (int f = 0; f < CHAT_FORMATS; f++)
        chat_msg_unref(&b->alloc, b->help[f]);
    chat_map_free(&b->waits, &b->alloc);
    chat_map_free(&b->claims, &b->alloc);
    chat_map_free(&b->fetches, &b->alloc);
    chat_mem_free(&b->alloc, b->filters);
    chat_allocator a = b->alloc;
    chat_mem_free(&a, b);
}

#define MAX_MS ((int64_t)1 << 40)  /* about 35 years */
#define MAX_RATE 1000000           /* keeps token arithmetic in range */

static int in_range(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

/* The options that are a duration in ms, or NULL. */
static uint64_t *ms_option(chat_options *o, chat_option opt)
{
    switch (opt) {
    case CHAT_OPT_CLAIM_TIMEOUT_MS: return &o->claim_ms;
    case CHAT_OPT_IDLE_TIMEOUT_MS: return &o->idle_ms;
    case CHAT_OPT_LOGIN_TIMEOUT_MS: return &o->login_ms;
    case CHAT_OPT_WRITE_TIMEOUT_MS: return &o->write_ms;
    case CHAT_OPT_FILTER_TIMEOUT_MS: return &o->filter_ms;
    default: return NULL;
    }
}

int chat_broker_set_option(chat_broker *b, chat_option opt, int64_t v)
{
    chat_options *o = &b->opt;
    uint64_t *ms = ms_option(o, opt);
    if (ms) {
        if (!in_range(v, 0, MAX_MS)) return CHAT_ERR_INVALID;
        *ms = (uint64_t)v;
        return CHAT_OK;
    }
    switch (opt) {
    case CHAT_OPT_LOGIN_MODE:
        if (!in_range(v, 0, 1)) return CHAT_ERR_INVALID;
        o->login = (int)v;
        return CHAT_OK;
    case CHAT_OPT_HISTORY:
        if (!in_range(v, 0, 100000)) return CHAT_ERR_INVALID;
        o->history = (uint32_t)v;
        return CHAT_OK;
    case CHAT_OPT_RATE:
        if (!in_range(v, 0, MAX_RATE)) return CHAT_ERR_INVALID;
        o->rate = (uint32_t)v;
        return CHAT_OK;
    case CHAT_OPT_BURST:
        if (!in_range(v, 0, MAX_RATE)) return CHAT_ERR_INVALID;
        o->burst = (uint32_t)v;
        return CHAT_OK;
    case CHAT_OPT_EVENT_QUEUE:
        if (!in_range(v, 0, (int64_t)1 << 30)) return CHAT_ERR_INVALID;
        b->bus.limit = (uint32_t)v;
        return CHAT_OK;
    case CHAT_OPT_FILTER_BACKLOG:
        if (!in_range(v, 0, 100000)) return CHAT_ERR_INVALID;
        o->filter_backlog = (uint32_t)v;
        return CHAT_OK;
    case CHAT_OPT_HIGH_WATER:
        if (!in_range(v, 2, (int64_t)1 << 40)) return CHAT_ERR_INVALID;
        o->high_water = (size_t)v;
        return CHAT_OK;
    case CHAT_OPT_MAX_PEERS:
    case CHAT_OPT_RESERVED_PEERS:
        if (v < 0) return CHAT_ERR_INVALID;
        *(opt == CHAT_OPT_MAX_PEERS ? &o->max_peers : &o->reserved) =
            (uint64_t)v;
        return CHAT_OK;
    case CHAT_OPT_SEED:
        if (b->names.count || b->remote.count || b->bus.seen.count ||
            !chat_list_empty(&b->all))
            return CHAT_ERR_STATE;
        b->seed = (uint64_t)v;
        seed_tables(b);
        return CHAT_OK;
    default: /* the durations, above, or not an option */
        return CHAT_ERR_INVALID;
    }
}

int chat_broker_set_default_room(chat_broker *b, const char *room)
{
    if (!room || !chat_name_valid(room, strlen(room)))
        return CHAT_ERR_INVALID;
    memcpy(b->default_room, room, strlen(room) + 1);
    return CHAT_OK;
}

void chat_broker_stats(const chat_broker *b, chat_stats *out, size_t out_size)
{
    chat_stats s = b->stats;
    memcpy(out, &s, out_size < sizeof(s) ? out_size : sizeof(s));
}

/* ---- peers ---- */

uint32_t chat_burst(const chat_broker *b)
{
    /* A burst of 0 would block every line: take it as "one second's worth". */
    return b->opt.burst ? b->opt.burst : b->opt.rate;
}

static int name_taken(void *ctx, const char *name)
{
    chat_broker *b = ctx;
    char key[32];
    chat_fold(key, name, strlen(name));
    return chat_map_find(&b->names, key) != NULL ||
           chat_map_find(&b->remote, key) != NULL ||
           chat_claim_pending(b, key);
}

int chat_broker_fresh_name(chat_broker *b, char out[32], int *plain)
{
    return chat_namegen_next(&b->gen, out, name_taken, b, plain) ? -1 : 0;
}

void chat_peer_random_name(chat_broker *b, chat_peer *p)
{
    char name[32];
    int plain = 0;
    if (chat_broker_fresh_name(b, name, &plain)) {
        chat_peer_text(b, p, CHAT_T_FULL, NULL);
        chat_peer_doom(b, p, CHAT_CLOSE_FULL);
        return;
    }
    if (!chat_bus_live(&b->bus)) {
        chat_peer_named(b, p, name, strlen(name), plain);
        return;
    }
    /* The greeting waits for the cluster's grant, within the login
     * timeout like any nameless peer. */
    chat_list_move_back(&b->login, &p->time_link);
    if (chat_claim_start(b, p, CHAT_CLAIM_RANDOM, name, strlen(name), plain))
        chat_peer_nomem(b, p);
}

/* opt with the fields the caller did not know filled in; -1 if it is
 * malformed (see chat_broker_join_opts). */
static int read_options(const chat_peer_options *opt, chat_peer_options *o)
{
    static const chat_peer_options defaults = CHAT_PEER_OPTIONS_INIT;
    size_t n = opt ? opt->size : 0;

    *o = defaults;
    if (!opt)
        return 0;
    if (n < offsetof(chat_peer_options, dialect) + sizeof(o->dialect))
        return -1;
    for (size_t i = sizeof(*o); i < n; i++) /* a newer caller's fields */
        if (((const unsigned char *)opt)[i])
            return -1;
    memcpy(o, opt, n < sizeof(*o) ? n : sizeof(*o));
    o->size = sizeof(*o);
    return (unsigned)o->dialect < CHAT_DIALECT_COUNT &&
                   (unsigned)o->framing < CHAT_FRAMINGS ? 0 : -1;
}

/* Whether p's first line is its name, and how its input is framed. */
static int set_up_input(chat_broker *b, chat_peer *p, const chat_peer_options *o)
{
    const chat_dialect_def *d = chat_dialect_of(o->dialect);
    int telnet = o->telnet == CHAT_DEFAULT ? !o->lines : o->telnet;

    p->dialect = (uint8_t)o->dialect;
    p->format = (uint8_t)chat_format(o->dialect, o->framing);
    p->lines = (uint8_t)(o->lines != 0);
    chat_framer_init(&p->framer, &b->alloc, CHAT_MAX_LINE,
                     telnet > 0 ? CHAT_FRAMER_TELNET : 0);
    if (o->login != CHAT_DEFAULT)
        return o->login != 0;
    return d->login || b->opt.login;
}

static chat_peer *peer_new(chat_broker *b, void *user, uint64_t now_ms)
{
    chat_peer *p = chat_mem_calloc(&b->alloc, 1, sizeof(*p));
    if (!p)
        return NULL;
    p->user = user;
    p->state = PEER_LOGIN;
    p->last_input_ms = now_ms;
    chat_list_init(&p->room_link);
    chat_list_init(&p->time_link);
    chat_list_init(&p->write_link);
    chat_list_init(&p->ready_link);
    chat_list_push_back(&b->all, &p->all_link);
    chat_bucket_init(&p->bucket, now_ms, chat_burst(b));
    b->stats.peers++;
    return p;
}

int chat_broker_join_opts(chat_broker *b, void *user,
                          const chat_peer_options *opt, uint64_t now_ms,
                          chat_peer **out)
{
    chat_peer_options o;
    if (!b || !out || read_options(opt, &o))
        return CHAT_ERR_INVALID;
    if (b->shutdown)
        return CHAT_ERR_STATE;
    b->now = now_ms;
    chat_peer *p = peer_new(b, user, now_ms);
    if (!p)
        return CHAT_ERR_NOMEM;
    int login = set_up_input(b, p, &o);
    if (b->opt.max_peers && b->n_peers + b->opt.reserved >= b->opt.max_peers) {
        chat_peer_text(b, p, CHAT_T_FULL, NULL);
        chat_peer_doom(b, p, CHAT_CLOSE_FULL);
    } else {
        b->n_peers++;
        p->counted = 1;
        if (login)
            chat_list_push_back(&b->login, &p->time_link);
        else
            chat_peer_random_name(b, p);
    }
    chat_broker_settle(b);
    *out = p;
    return CHAT_OK;
}

int chat_broker_join(chat_broker *b, void *user, uint64_t now_ms,
                     chat_peer **out)
{
    return chat_broker_join_opts(b, user, NULL, now_ms, out);
}

/* ---- output ---- */

chat_peer *chat_broker_next_ready(chat_broker *b)
{
    chat_link *l = chat_list_first(&b->ready);
    if (!l)
        return NULL;
    chat_list_remove(l);
    chat_peer *p = CHAT_CONTAINER(l, chat_peer, ready_link);
    p->ready = 0;
    return p;
}

/* ---- time and shutdown ---- */

static chat_peer *head_of(chat_link *list, size_t offset)
{
    chat_link *l = chat_list_first(list);
    return l ? (chat_peer *)(void *)((char *)l - offset) : NULL;
}

#define IDLE_HEAD(b) head_of(&(b)->idle, offsetof(chat_peer, time_link))
#define LOGIN_HEAD(b) head_of(&(b)->login, offsetof(chat_peer, time_link))
#define WRITE_HEAD(b) head_of(&(b)->writes, offsetof(chat_peer, write_link))

static int due(uint64_t since, uint64_t timeout, uint64_t now)
{
    return timeout && since + timeout <= now;
}

void chat_broker_tick(chat_broker *b, uint64_t now_ms)
{
    chat_peer *p;
    b->now = now_ms;
    /* Each list is in time order, so only expired heads are touched. */
    while ((p = IDLE_HEAD(b)) && due(p->last_input_ms, b->opt.idle_ms, now_ms)) {
        chat_peer_text(b, p, CHAT_T_IDLE, NULL);
        chat_peer_doom(b, p, CHAT_CLOSE_IDLE); /* leaves the idle list */
    }
    while ((p = LOGIN_HEAD(b)) && due(p->last_input_ms, b->opt.login_ms, now_ms)) {
        chat_peer_text(b, p, CHAT_T_IDLE, NULL);
        chat_peer_doom(b, p, CHAT_CLOSE_LOGIN_TIMEOUT);
    }
    while ((p = WRITE_HEAD(b)) &&
           due(p->last_progress_ms, b->opt.write_ms, now_ms)) {
        chat_list_remove(&p->write_link);
        chat_peer_doom(b, p, CHAT_CLOSE_WRITE_TIMEOUT);
    }
    chat_waits_expire(b, now_ms);
    chat_broker_settle(b);
}

static uint64_t earliest(uint64_t cur, const chat_peer *p, uint64_t since,
                         uint64_t timeout)
{
    if (!p || !timeout)
        return cur;
    uint64_t t = since + timeout;
    return t < cur ? t : cur;
}

uint64_t chat_broker_next_deadline(const chat_broker *b)
{
    chat_broker *mb = (chat_broker *)b; /* lists are read only */
    uint64_t t = CHAT_NO_DEADLINE;
    chat_peer *p = IDLE_HEAD(mb);
    t = earliest(t, p, p ? p->last_input_ms : 0, b->opt.idle_ms);
    p = LOGIN_HEAD(mb);
    t = earliest(t, p, p ? p->last_input_ms : 0, b->opt.login_ms);
    p = WRITE_HEAD(mb);
    t = earliest(t, p, p ? p->last_progress_ms : 0, b->opt.write_ms);
    uint64_t w = chat_waits_deadline(b);
    return w < t ? w : t;
}

void chat_broker_shutdown(chat_broker *b, uint64_t now_ms)
{
    b->now = now_ms;
    b->shutdown = 1;
    chat_line *bye = chat_line_new(&b->alloc, CHAT_T_SHUTDOWN, &(chat_targs){0});
    for (chat_link *l = b->all.next; l != &b->all; l = l->next) {
        chat_peer *p = CHAT_CONTAINER(l, chat_peer, all_link);
        if (p->state == PEER_CLOSING)
            continue;
        /* Slow peers get it too. Without memory for it, a peer still
         * gets what is already pending: the line is not worth more. */
        chat_msg *m = bye ? chat_line_bytes(&b->alloc, bye, p->format) : NULL;
        if (m)
            chat_peer_reply_always(b, p, m);
        chat_peer_close(b, p, p->doomed ? (chat_close_reason)p->reason
                                        : CHAT_CLOSE_SHUTDOWN);
    }
    chat_line_unref(&b->alloc, bye);
    chat_broker_settle(b);
}
