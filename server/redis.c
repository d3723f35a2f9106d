/*
 * chatd - the Redis link of cluster mode. See redis.h, doc/cluster.md.
 *
 * Two hiredis async connections, by address (the host was resolved at
 * start: hiredis would resolve a name with a blocking getaddrinfo() at
 * every connect): `cmd` for commands and scripts, `sub`
 * subscribed to this node's channel, the presence channel and the rooms
 * the broker asks for. The link is IDLE (a retry timer is armed),
 * CONNECTING (both connections set up in one pipelined burst each: AUTH,
 * SELECT, SCRIPT LOAD, a first heartbeat; AUTH, SUBSCRIBE), UP (events
 * flow), LEAVING (shutdown) or DONE.
 *
 * hiredis frees a context itself when it fails (after running every
 * pending callback with a NULL reply, then the disconnect callback), and
 * defers redisAsyncFree() called from inside one of that context's reply
 * callbacks. So: a reply callback decides nothing from a NULL reply or a
 * context that is not current any more (r->cmd, r->sub are cleared before
 * a context is freed); the connect and disconnect callbacks clear the slot
 * of the context hiredis is freeing before calling link_down(), which
 * frees only what is still in the slots; and nothing is freed from the
 * connect callback (hiredis still uses the context after it), where there
 * is nothing to do anyway since every setup command is queued at connect
 * time.
 *
 * Bounds: events are pulled from the broker only while both output
 * buffers hold less than OBUF_MAX bytes and fewer than AWAITED_MAX replies
 * are awaited; past that a PUMP_RETRY_MS timer (or the next reply) tries
 * again. While the link is down nothing is pulled: the broker, told so,
 * drops and counts. A Redis that stops answering is caught by a deadline
 * on the heartbeat (and on the whole setup): one lease.
 */
#define _GNU_SOURCE /* getrandom */

#include "redis.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <libchat/chat.h>

#include "log.h"
#include "netaddr.h"
#include "redis_scripts.h"
#include "redis_tls.h"
#include "server.h"

#define OBUF_MAX ((size_t)1 << 20) /* bytes hiredis may hold unsent */
#define AWAITED_MAX 10000          /* replies awaited on cmd */
#define PUMP_RETRY_MS 5
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define LEAVE_MAX_MS 1000          /* shutdown waits this long for Redis */
#define KEY_MAX 192                /* prefix (63) + kind + room or node id */

enum script {
    SCRIPT_PUBLISH,
    SCRIPT_CLAIM,
    SCRIPT_RELEASE,
    SCRIPT_HEARTBEAT,
    SCRIPT_LEAVE,
    SCRIPTS
};

static const char *const script_text[SCRIPTS] = {
    [SCRIPT_PUBLISH] = CHATD_LUA_PUBLISH,
    [SCRIPT_CLAIM] = CHATD_LUA_CLAIM,
    [SCRIPT_RELEASE] = CHATD_LUA_RELEASE,
    [SCRIPT_HEARTBEAT] = CHATD_LUA_HEARTBEAT,
    [SCRIPT_LEAVE] = CHATD_LUA_LEAVE,
};

enum link_state { LINK_IDLE, LINK_CONNECTING, LINK_UP, LINK_LEAVING,
                  LINK_DONE };

struct chatd_redis {
    struct chatd_server *srv;
    chat_broker *b;
    struct chatd_redis_config cfg;
    struct chatd_rtls *rtls; /* rediss://: the TLS relay hiredis goes
                                through (redis_tls.h), else NULL */
    redisAsyncContext *cmd;  /* current contexts, or NULL */
    redisAsyncContext *sub;
    enum link_state state;
    int told;                /* what the broker was told: -1 nothing yet,
                                0 down, 1 up */
    uint64_t connects;       /* connections tried, ever */
    int cmd_ready;           /* setup replies all in, heartbeat included */
    int sub_acks;            /* of the 2 base subscriptions */
    int beat_out;            /* a heartbeat awaits its reply */
    size_t awaited;          /* replies awaited on cmd */
    char sha[SCRIPTS][41];
    uint64_t backoff_ms;
    uint64_t rng;            /* xorshift state: backoff jitter */
    struct event *retry_ev;  /* connect again after the backoff */
    struct event *beat_ev;   /* every lease/4 while up */
    struct event *watch_ev;  /* what is outstanding must answer by then */
    struct event *pump_ev;   /* pump again after the bounds were hit */
    struct event *leave_ev;  /* the shutdown stops waiting for Redis */
    struct chatd_log_limit err_log;
    struct fetch *fetches;   /* history reads waiting for their room's
                                subscription to be confirmed */
    /* keys and channels that never change */
    char k_nodes[KEY_MAX], k_names[KEY_MAX], k_owned[KEY_MAX],
        k_owned_prefix[KEY_MAX], ch_node[KEY_MAX], ch_presence[KEY_MAX];
};

static void link_down(struct chatd_redis *r, const char *why);

/* A room's history is read once its channel is subscribed (the
 * subscription's confirmation has come back), never before: a line
 * published between the read and the subscription would reach neither. */
struct fetch {
    struct fetch *next;
    uint64_t token;
    char channel[KEY_MAX];
};

static void fetches_run(struct chatd_redis *r, const char *ch);

/* ---- keys ---------------------------------------------------------------- */

/* s[0..n) (up to a NUL) folded to ASCII lowercase into out (KEY_MAX):
 * names and rooms compare case-insensitively, so Lobby and lobby are one
 * key and one hash field. */
static char lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

static int fold(char *out, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n && s[i]; i++) {
        if (i + 1 >= KEY_MAX)
            return -1;
        out[i] = lower(s[i]);
    }
    out[i] = '\0';
    return 0;
}

/* prefix + kind + name folded. */
static int make_key(const struct chatd_redis *r, char *out, const char *kind,
                    const char *name)
{
    char folded[KEY_MAX];
    int n;

    if (fold(folded, name, strlen(name)) != 0)
        return -1;
    n = snprintf(out, KEY_MAX, "%s%s%s", r->cfg.prefix, kind, folded);
    return n < 0 || n >= KEY_MAX ? -1 : 0;
}

/* A node's channel: node ids are case-sensitive, kept as they are. */
static int node_channel(const struct chatd_redis *r, char *out, const char *id)
{
    int n = snprintf(out, KEY_MAX, "%snode:%s", r->cfg.prefix, id);

    return n < 0 || n >= KEY_MAX ? -1 : 0;
}

static int make_fixed_keys(struct chatd_redis *r)
{
    const char *id = r->cfg.node_id;
    char owned[KEY_MAX];
    int n = snprintf(owned, sizeof owned, "%sowned:%s", r->cfg.prefix, id);

    if (n < 0 || n >= KEY_MAX)
        return -1;
    memcpy(r->k_owned, owned, sizeof owned);
    return make_key(r, r->k_nodes, "nodes", "") ||
                   make_key(r, r->k_names, "names", "") ||
                   make_key(r, r->k_owned_prefix, "owned:", "") ||
                   make_key(r, r->ch_presence, "presence", "") ||
                   node_channel(r, r->ch_node, id)
               ? -1
               : 0;
}

/* The channel an event publishes on. */
static int channel_of(const struct chatd_redis *r, const chat_event *ev,
                      char *out)
{
    switch (ev->channel) {
    case CHAT_CHANNEL_ROOM:
        return make_key(r, out, "room:", ev->target);
    case CHAT_CHANNEL_NODE:
        return node_channel(r, out, ev->target);
    case CHAT_CHANNEL_PRESENCE:
        memcpy(out, r->ch_presence, KEY_MAX);
        return 0;
    }
    return -1;
}

/* ---- small helpers ------------------------------------------------------- */

static struct timeval ms_tv(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static void arm(struct event *ev, uint64_t ms)
{
    struct timeval tv = ms_tv(ms);

    if (evtimer_add(ev, &tv) != 0)
        log_warn("redis: cannot arm a timer");
}

static uint64_t next_rand(struct chatd_redis *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng;
}

/* Setting the metrics here keeps the gauge and the broker's view one. */
static void tell_broker(struct chatd_redis *r, int up)
{
    int err = chat_broker_cluster_up(r->b, up, chatd_now_ms());

    if (err != CHAT_OK)
        log_warn("redis: the broker refused cluster_up(%d): %s", up,
                 chat_strerror(err));
    r->told = up;
    r->srv->metrics.cluster_up = (uint64_t)up;
    chatd_server_schedule_flush(r->srv);
}

static size_t obuf_len(const redisAsyncContext *ac)
{
    return ac ? sdslen(ac->c.obuf) : 0;
}

static int over_bounds(const struct chatd_redis *r)
{
    return obuf_len(r->cmd) + obuf_len(r->sub) >= OBUF_MAX ||
           r->awaited >= AWAITED_MAX;
}

/* A reply callback's context: r, or NULL when the reply is to be ignored
 * (the connection is being freed, or was replaced). Counts the reply. */
static struct chatd_redis *reply_owner(redisAsyncContext *ac,
                                       const void *reply)
{
    struct chatd_redis *r = ac->data;

    if (!r)
        return NULL;
    if (r->awaited)
        r->awaited--;
    return reply && ac == r->cmd ? r : NULL;
}

static int is_error(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR;
}

/* An error reply to a command of the running link. NOSCRIPT means the
 * scripts are gone (SCRIPT FLUSH, a failover): reconnecting loads them. */
static void command_error(struct chatd_redis *r, const redisReply *reply)
{
    chatd_log_limited(&r->err_log, chatd_now_ms(), CHATD_LOG_WARN,
                      "redis: command failed: %s", reply->str);
    if (strncmp(reply->str, "NOSCRIPT", 8) == 0)
        link_down(r, "the scripts are gone");
}

/* Queue a command on cmd, its reply to fn. Returns 0 or -1. */
static int command(struct chatd_redis *r, redisCallbackFn *fn, void *priv,
                   int argc, const char **argv, const size_t *len)
{
    if (!r->cmd ||
        redisAsyncCommandArgv(r->cmd, fn, priv, argc, argv, len) != REDIS_OK)
        return -1;
    r->awaited++;
    return 0;
}

/* argv's lengths, for arguments that are C strings. */
static void str_lens(int argc, const char **argv, size_t *len)
{
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
}

/* ---- replies ------------------------------------------------------------- */

/* A claim or fetch waiting for its reply: which broker token it answers. */
struct op {
    uint64_t token;
};

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct chatd_redis *r = reply_owner(ac, reply);

    (void)priv;
    if (r && is_error(reply))
        command_error(r, reply);
}

/* A NULL or error reply is not answered: the broker decides the claim on
 * its own timeout (a name granted twice is worse than a late answer). */
static void on_claim(redisAsyncContext *ac, void *reply, void *priv)
{
    struct chatd_redis *r = reply_owner(ac, reply);
    struct op *op = priv;
    const redisReply *rp = reply;

    if (r && is_error(rp))
        command_error(r, rp);
    else if (r && rp->type == REDIS_REPLY_INTEGER) {
        (void)chat_broker_claim_done(r->b, op->token, rp->integer == 1,
                                     chatd_now_ms());
        chatd_server_schedule_flush(r->srv);
    }
    free(op);
}

static void answer_fetch(struct chatd_redis *r, uint64_t token,
                         const redisReply *rp)
{
    chat_bytes *msgs = NULL;
    size_t n = 0;

    if (rp->elements > 0) {
        msgs = calloc(rp->elements, sizeof *msgs);
        if (!msgs)
            return; /* unanswered: the broker's timeout finishes it */
    }
    for (size_t i = 0; i < rp->elements; i++) {
        const redisReply *e = rp->element[i];
        if (e->type == REDIS_REPLY_STRING)
            msgs[n++] = (chat_bytes){e->str, e->len};
    }
    (void)chat_broker_history(r->b, token, msgs, n, chatd_now_ms());
    free(msgs);
    chatd_server_schedule_flush(r->srv);
}

static void on_fetch(redisAsyncContext *ac, void *reply, void *priv)
{
    struct chatd_redis *r = reply_owner(ac, reply);
    struct op *op = priv;
    const redisReply *rp = reply;

    if (r && is_error(rp))
        command_error(r, rp);
    else if (r && rp->type == REDIS_REPLY_ARRAY)
        answer_fetch(r, op->token, rp);
    free(op);
}

/* ---- the heartbeat ------------------------------------------------------- */

static void on_beat(redisAsyncContext *ac, void *reply, void *priv);

/* The setup's heartbeat goes by its text (the SCRIPT LOADs before it have
 * not answered yet) and removes no dead node (see the script). */
static int send_heartbeat(struct chatd_redis *r, int setup)
{
    char lease[24];
    const char *argv[] = {
        setup ? "EVAL" : "EVALSHA",
        setup ? script_text[SCRIPT_HEARTBEAT] : r->sha[SCRIPT_HEARTBEAT],
        "2", r->k_nodes, r->k_names, r->cfg.node_id, lease,
        r->k_owned_prefix, setup ? "0" : "1",
    };
    size_t len[9];

    /* The lease is written as 3/4 of --redis-lease, renewed every 1/4:
     * a node that dies is found by another node's beat within
     * --redis-lease of its death, and a live node's beat may come late
     * by half a lease before others take it for dead (doc/cluster.md). */
    snprintf(lease, sizeof lease, "%llu",
             (unsigned long long)(r->cfg.lease_ms * 3 / 4));
    str_lens(9, argv, len);
    if (command(r, on_beat, NULL, 9, argv, len) != 0)
        return -1;
    r->beat_out = 1;
    return 0;
}

/* Nodes this heartbeat removed: gone, announced by this node only. */
static void nodes_gone(struct chatd_redis *r, const redisReply *dead)
{
    uint64_t now = chatd_now_ms();

    for (size_t i = 0; i < dead->elements; i++) {
        const redisReply *e = dead->element[i];
        if (e->type != REDIS_REPLY_STRING ||
            strcmp(e->str, r->cfg.node_id) == 0)
            continue;
        log_info("redis: node %s is gone (its lease is over): its users "
                 "leave", e->str);
        if (chat_broker_node_gone(r->b, e->str, now) != CHAT_OK)
            log_warn("redis: node id '%s' refused by the broker", e->str);
    }
    if (dead->elements)
        chatd_server_schedule_flush(r->srv);
}

static void maybe_up(struct chatd_redis *r);

static void on_beat(redisAsyncContext *ac, void *reply, void *priv)
{
    struct chatd_redis *r = reply_owner(ac, reply);
    const redisReply *rp = reply;

    (void)priv;
    if (!r)
        return;
    if (rp->type != REDIS_REPLY_ARRAY || rp->elements != 2 ||
        rp->element[0]->type != REDIS_REPLY_INTEGER ||
        rp->element[1]->type != REDIS_REPLY_ARRAY) {
        link_down(r, rp->type == REDIS_REPLY_ERROR ? rp->str
                                                   : "odd heartbeat reply");
        return;
    }
    r->beat_out = 0;
    if (r->state == LINK_CONNECTING) {
        r->cmd_ready = 1;
        maybe_up(r);
    } else if (r->state == LINK_UP) {
        evtimer_del(r->watch_ev);
        if (rp->element[0]->integer == 1) {
            log_warn("redis: this node's lease had run out: resyncing");
            tell_broker(r, 1);
        }
    }
    nodes_gone(r, rp->element[1]);
}

static void on_beat_timer(evutil_socket_t fd, short what, void *arg)
{
    struct chatd_redis *r = arg;

    (void)fd;
    (void)what;
    if (r->state != LINK_UP || r->beat_out)
        return; /* the watch timer judges the one outstanding */
    if (send_heartbeat(r, 0) != 0) {
        link_down(r, "cannot send the heartbeat");
        return;
    }
    arm(r->watch_ev, r->cfg.lease_ms);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    link_down(arg, "no answer within the lease");
}

/* ---- the subscriber ------------------------------------------------------ */

static void on_sub(redisAsyncContext *ac, void *reply, void *priv)
{
    struct chatd_redis *r = ac->data;
    const redisReply *rp = reply;

    (void)priv;
    if (!r || !rp || ac != r->sub)
        return;
    if (rp->type == REDIS_REPLY_ERROR) {
        link_down(r, rp->str);
        return;
    }
    if (rp->type != REDIS_REPLY_ARRAY || rp->elements < 3 ||
        rp->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rp->element[0]->str;
    const redisReply *data = rp->element[2];
    if (strcmp(kind, "message") == 0 && data->type == REDIS_REPLY_STRING) {
        /* An invalid message is the broker's to count. */
        (void)chat_broker_remote(r->b, data->str, data->len, chatd_now_ms());
        chatd_server_schedule_flush(r->srv);
    } else if (strcmp(kind, "subscribe") == 0 &&
               r->state == LINK_CONNECTING && ++r->sub_acks == 2) {
        maybe_up(r);
    } else if (strcmp(kind, "subscribe") == 0 &&
               rp->element[1]->type == REDIS_REPLY_STRING) {
        fetches_run(r, rp->element[1]->str);
    }
}

/* AUTH on the subscriber: only its failure matters. */
static void on_sub_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    struct chatd_redis *r = ac->data;
    const redisReply *rp = reply;

    (void)priv;
    if (r && rp && ac == r->sub && rp->type == REDIS_REPLY_ERROR)
        link_down(r, rp->str);
}

static int subscribe(struct chatd_redis *r, const char *verb, const char *ch1,
                     const char *ch2)
{
    const char *argv[] = {verb, ch1, ch2};
    int argc = ch2 ? 3 : 2;
    size_t len[3];
    int on = verb[0] == 'S';

    str_lens(argc, argv, len);
    /* UNSUBSCRIBE has no reply of its own: hiredis takes no callback. */
    return redisAsyncCommandArgv(r->sub, on ? on_sub : NULL, NULL, argc, argv,
                                 len) == REDIS_OK ? 0 : -1;
}

/* ---- events to commands -------------------------------------------------- */

/* The messages of a batch (NUL-separated in ev->data) as arguments
 * argv[at..at+count), for the history's one entry each. */
static void split_batch(const chat_event *ev, const char **argv, size_t *len,
                        int at)
{
    const char *s = ev->data, *end = s + ev->len;
    for (uint32_t i = 0; i < ev->count; i++) {
        const char *z = memchr(s, '\0', (size_t)(end - s));
        argv[at + (int)i] = s;
        len[at + (int)i] = z ? (size_t)(z - s) : (size_t)(end - s);
        s = z ? z + 1 : end;
    }
}

#define PUBLISH_ARGS 6 /* EVALSHA sha 1 key channel kept */

static int send_publish(struct chatd_redis *r, const chat_event *ev)
{
    char ch[KEY_MAX], key[KEY_MAX], keep[24];
    const char **argv = NULL;
    size_t *len = NULL;

    if (channel_of(r, ev, ch) != 0)
        return 0; /* an id too long for a key: nothing to send */
    int kept = ev->history && ev->channel == CHAT_CHANNEL_ROOM &&
               r->cfg.history > 0 && ev->count > 0 &&
               make_key(r, key, "history:", ev->target) == 0;
    if (kept) {
        argv = malloc((PUBLISH_ARGS + ev->count) * sizeof(*argv));
        len = malloc((PUBLISH_ARGS + ev->count) * sizeof(*len));
    }
    if (!argv || !len) {
        /* Not kept, or no memory to split it: published all the same
         * (the lines reach the others; only the stored history lacks
         * them). */
        free(argv);
        free(len);
        const char *pub[] = {"PUBLISH", ch, ev->data};
        size_t pub_len[] = {7, strlen(ch), ev->len};
        return command(r, on_reply, NULL, 3, pub, pub_len);
    }
    snprintf(keep, sizeof keep, "%llu", (unsigned long long)r->cfg.history);
    const char *head[PUBLISH_ARGS] = {"EVALSHA", r->sha[SCRIPT_PUBLISH], "1",
                                      key, ch, keep};
    memcpy(argv, head, sizeof(head));
    str_lens(PUBLISH_ARGS, argv, len);
    split_batch(ev, argv, len, PUBLISH_ARGS);
    int rc = command(r, on_reply, NULL, PUBLISH_ARGS + (int)ev->count, argv,
                     len);
    free(argv);
    free(len);
    return rc;
}

/* A command whose reply answers token: the op goes with it. */
static int command_op(struct chatd_redis *r, redisCallbackFn *fn,
                      uint64_t token, int argc, const char **argv,
                      const size_t *len)
{
    struct op *op = malloc(sizeof *op);

    if (!op)
        return 0; /* unanswered: the broker's timeout decides */
    op->token = token;
    if (command(r, fn, op, argc, argv, len) != 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* A name too long for a key is not a name: such a claim is left to the
 * broker's timeout. The old name of a rename comes as data, NUL-ended or
 * not. */
static int send_claim(struct chatd_redis *r, const chat_event *ev)
{
    char name[KEY_MAX], old[KEY_MAX];

    if (fold(name, ev->target, strlen(ev->target)) != 0 ||
        fold(old, ev->data ? ev->data : "", ev->len) != 0)
        return 0;
    const char *argv[] = {"EVALSHA", r->sha[SCRIPT_CLAIM], "3", r->k_names,
                          r->k_nodes, r->k_owned, name, r->cfg.node_id, old};
    size_t len[9];
    str_lens(9, argv, len);
    return command_op(r, on_claim, ev->token, 9, argv, len);
}

/* Target "" gives back every name this node holds. */
static int send_release(struct chatd_redis *r, const chat_event *ev)
{
    char name[KEY_MAX];

    if (fold(name, ev->target, strlen(ev->target)) != 0)
        return 0;
    const char *argv[] = {"EVALSHA", r->sha[SCRIPT_RELEASE], "2", r->k_names,
                          r->k_owned, name, r->cfg.node_id};
    size_t len[7];
    str_lens(7, argv, len);
    return command(r, on_reply, NULL, 7, argv, len);
}

/* FETCH comes right after its room's SUBSCRIBE: it waits for the
 * subscription's confirmation (fetches_run). Without memory it is not
 * asked: the broker's timeout lets the join through. */
static int send_fetch(struct chatd_redis *r, const chat_event *ev)
{
    struct fetch *f;

    if (r->cfg.history == 0) {
        (void)chat_broker_history(r->b, ev->token, NULL, 0, chatd_now_ms());
        return 0;
    }
    f = malloc(sizeof *f);
    if (!f)
        return 0;
    if (make_key(r, f->channel, "room:", ev->target) != 0) {
        free(f);
        return 0;
    }
    f->token = ev->token;
    f->next = r->fetches;
    r->fetches = f;
    return 0;
}

/* LRANGE of the room whose channel is ch: its history, newest first. */
static int read_history(struct chatd_redis *r, uint64_t token, const char *ch)
{
    char key[KEY_MAX], last[24];
    size_t n = strlen(r->cfg.prefix) + strlen("room:");

    /* ch is prefix + "room:" + the folded room; the key is the same
     * room under "history:". */
    if (snprintf(key, sizeof key, "%shistory:%s", r->cfg.prefix, ch + n) >=
        (int)sizeof key)
        return 0;
    snprintf(last, sizeof last, "%llu",
             (unsigned long long)(r->cfg.history - 1));
    const char *argv[] = {"LRANGE", key, "0", last};
    size_t len[4];
    str_lens(4, argv, len);
    return command_op(r, on_fetch, token, 4, argv, len);
}

static void fetches_run(struct chatd_redis *r, const char *ch)
{
    struct fetch **at = &r->fetches;
    while (*at) {
        struct fetch *f = *at;
        if (strcmp(f->channel, ch) != 0) {
            at = &f->next;
            continue;
        }
        *at = f->next;
        if (read_history(r, f->token, ch) != 0) {
            free(f);
            link_down(r, "cannot queue a command");
            return;
        }
        free(f);
    }
}

static void fetches_clear(struct chatd_redis *r)
{
    while (r->fetches) {
        struct fetch *f = r->fetches;
        r->fetches = f->next;
        free(f);
    }
}

static int send_forget(struct chatd_redis *r, const chat_event *ev)
{
    char key[KEY_MAX];

    if (make_key(r, key, "history:", ev->target) != 0)
        return 0;
    const char *argv[] = {"DEL", key};
    size_t len[2];
    str_lens(2, argv, len);
    return command(r, on_reply, NULL, 2, argv, len);
}

static int send_subscribe(struct chatd_redis *r, const chat_event *ev)
{
    char ch[KEY_MAX];

    if (make_key(r, ch, "room:", ev->target) != 0)
        return 0;
    return subscribe(r, ev->kind == CHAT_EVENT_SUBSCRIBE ? "SUBSCRIBE"
                                                         : "UNSUBSCRIBE",
                     ch, NULL);
}

/* One event as commands. -1 when the link cannot take it (it is dying). */
static int send_event(struct chatd_redis *r, const chat_event *ev)
{
    switch (ev->kind) {
    case CHAT_EVENT_PUBLISH: return send_publish(r, ev);
    case CHAT_EVENT_SUBSCRIBE:
    case CHAT_EVENT_UNSUBSCRIBE: return send_subscribe(r, ev);
    case CHAT_EVENT_CLAIM: return send_claim(r, ev);
    case CHAT_EVENT_RELEASE: return send_release(r, ev);
    case CHAT_EVENT_FETCH: return send_fetch(r, ev);
    case CHAT_EVENT_FORGET: return send_forget(r, ev);
    case CHAT_EVENT_NONE: break;
    }
    return 0;
}

void chatd_redis_pump(struct chatd_redis *r)
{
    chat_event ev;

    if (!r || r->state != LINK_UP)
        return;
    while (!over_bounds(r)) {
        if (!chat_broker_next_event(r->b, &ev))
            return;
        if (send_event(r, &ev) != 0) {
            link_down(r, "cannot queue a command");
            return;
        }
    }
    if (!evtimer_pending(r->pump_ev, NULL))
        arm(r->pump_ev, PUMP_RETRY_MS);
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    chatd_redis_pump(arg);
}

/* ---- connecting ---------------------------------------------------------- */

static void on_script(redisAsyncContext *ac, void *reply, void *priv)
{
    struct chatd_redis *r = reply_owner(ac, reply);
    const redisReply *rp = reply;
    const enum script *which = priv;

    if (!r)
        return;
    if (rp->type != REDIS_REPLY_STRING || rp->len != 40) {
        link_down(r, is_error(rp) ? rp->str : "odd SCRIPT LOAD reply");
        return;
    }
    memcpy(r->sha[*which], rp->str, 41);
}

/* AUTH, SELECT: only a failure matters. */
static void on_setup(redisAsyncContext *ac, void *reply, void *priv)
{
    struct chatd_redis *r = reply_owner(ac, reply);

    (void)priv;
    if (r && is_error(reply))
        link_down(r, ((const redisReply *)reply)->str);
}

static int setup_cmd(struct chatd_redis *r)
{
    static const enum script ids[SCRIPTS] = {0, 1, 2, 3, 4};
    int err = 0;

    if (r->cfg.password[0]) {
        const char *argv[] = {"AUTH", r->cfg.password};
        size_t len[2];
        str_lens(2, argv, len);
        err |= command(r, on_setup, NULL, 2, argv, len);
    }
    if (r->cfg.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->cfg.db);
        const char *argv[] = {"SELECT", db};
        size_t len[2];
        str_lens(2, argv, len);
        err |= command(r, on_setup, NULL, 2, argv, len);
    }
    for (int i = 0; i < SCRIPTS; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", script_text[i]};
        size_t len[3];
        str_lens(3, argv, len);
        err |= command(r, on_script, (void *)&ids[i], 3, argv, len);
    }
    /* By its text: the first lease is taken before the link counts as up
     * (the names the broker claims again need a live owner). */
    return err | send_heartbeat(r, 1);
}

static int setup_sub(struct chatd_redis *r)
{
    if (r->cfg.password[0]) {
        const char *argv[] = {"AUTH", r->cfg.password};
        size_t len[2];
        str_lens(2, argv, len);
        if (redisAsyncCommandArgv(r->sub, on_sub_auth, NULL, 2, argv, len) !=
            REDIS_OK)
            return -1;
    }
    return subscribe(r, "SUBSCRIBE", r->ch_node, r->ch_presence);
}

static void maybe_up(struct chatd_redis *r)
{
    if (!r->cmd_ready || r->sub_acks < 2)
        return;
    evtimer_del(r->watch_ev);
    r->state = LINK_UP;
    r->backoff_ms = BACKOFF_MIN_MS;
    if (r->told == 0)
        log_info("redis %s:%d: link up again: chat with other servers "
                 "resumes", r->cfg.host, r->cfg.port);
    else
        log_info("redis %s:%d: link up (node %s)", r->cfg.host, r->cfg.port,
                 r->cfg.node_id);
    tell_broker(r, 1);
    struct timeval every = ms_tv(r->cfg.lease_ms / 4);
    if (event_add(r->beat_ev, &every) != 0)
        log_warn("redis: cannot arm the heartbeat");
    chatd_redis_pump(r);
}

/* One slot's context is being freed by hiredis: forget it, then fail. */
static void lost(struct chatd_redis *r, const redisAsyncContext *ac,
                 const char *why)
{
    if (ac == r->cmd)
        r->cmd = NULL;
    else if (ac == r->sub)
        r->sub = NULL;
    else
        return; /* a context already let go */
    /* Through the relay, hiredis sees only that its connection ended;
     * the relay knows why (a refused connect, a certificate). */
    if (r->rtls && chatd_rtls_why(r->rtls)[0])
        why = chatd_rtls_why(r->rtls);
    if (r->state == LINK_LEAVING) {
        r->state = LINK_DONE;
        chatd_server_redis_left(r->srv);
        return;
    }
    link_down(r, why);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct chatd_redis *r = ac->data;

    /* Success needs nothing: the setup commands are queued already. */
    if (r && status != REDIS_OK)
        lost(r, ac, ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct chatd_redis *r = ac->data;

    if (r)
        lost(r, ac, status == REDIS_OK ? "closed" : ac->errstr);
}

/* ---- the libevent hooks -------------------------------------------------
 * hiredis's own adapter (adapters/libevent.h) does not check its calloc or
 * event_new; these are the same hooks with the failures handled. */

struct hooks {
    redisAsyncContext *ac;
    struct event *rev, *wev;
};

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    redisAsyncHandleRead(((struct hooks *)arg)->ac);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    redisAsyncHandleWrite(((struct hooks *)arg)->ac);
}

static void add_read(void *p) { event_add(((struct hooks *)p)->rev, NULL); }
static void del_read(void *p) { event_del(((struct hooks *)p)->rev); }
static void add_write(void *p) { event_add(((struct hooks *)p)->wev, NULL); }
static void del_write(void *p) { event_del(((struct hooks *)p)->wev); }

static void hooks_free(void *p)
{
    struct hooks *h = p;

    if (h->rev)
        event_free(h->rev);
    if (h->wev)
        event_free(h->wev);
    free(h);
}

static int attach(redisAsyncContext *ac, struct event_base *base)
{
    struct hooks *h = calloc(1, sizeof *h);

    if (!h)
        return -1;
    h->ac = ac;
    h->rev = event_new(base, ac->c.fd, EV_READ, on_readable, h);
    h->wev = event_new(base, ac->c.fd, EV_WRITE, on_writable, h);
    if (!h->rev || !h->wev) {
        hooks_free(h);
        return -1;
    }
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = hooks_free;
    ac->ev.data = h;
    add_read(h);
    return 0;
}

/* A connecting context with r's callbacks, or NULL (freed). By address:
 * hiredis's getaddrinfo() then has no name to look up. With TLS, to the
 * relay's unix socket: the relay connects to the address. */
static redisAsyncContext *open_context(struct chatd_redis *r)
{
    redisAsyncContext *ac =
        r->rtls ? redisAsyncConnectUnix(chatd_rtls_path(r->rtls))
                : redisAsyncConnect(r->cfg.addr, r->cfg.port);

    if (!ac)
        return NULL;
    if (ac->err) {
        log_debug("redis %s:%d: %s", r->cfg.host, r->cfg.port, ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    if (attach(ac, r->srv->base) != 0) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = r;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

static void connect_now(struct chatd_redis *r)
{
    r->state = LINK_CONNECTING;
    if (r->connects++ > 0)
        r->srv->metrics.redis_reconnects++;
    r->cmd_ready = r->sub_acks = r->beat_out = 0;
    r->awaited = 0;
    r->cmd = open_context(r);
    r->sub = r->cmd ? open_context(r) : NULL;
    if (!r->sub || setup_cmd(r) != 0 || setup_sub(r) != 0) {
        link_down(r, r->cmd && r->sub ? "cannot queue the setup"
                                      : "cannot connect");
        return;
    }
    /* The whole setup, connect included, answers within a lease. */
    arm(r->watch_ev, r->cfg.lease_ms);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

/* ---- going down ---------------------------------------------------------- */

static void close_contexts(struct chatd_redis *r)
{
    redisAsyncContext *cmd = r->cmd, *sub = r->sub;

    /* Cleared first: the callbacks the frees run see stale contexts. */
    r->cmd = r->sub = NULL;
    if (cmd)
        redisAsyncFree(cmd);
    if (sub)
        redisAsyncFree(sub);
    /* The relay's pairs go too, at once: one whose buffer toward Redis
     * is full (a handshake that hangs) would not read its end. */
    chatd_rtls_close_all(r->rtls);
}

/* The next try: 100 ms doubling to 5 s, each wait drawn in [b/2, b] so
 * that nodes cut off together do not come back in step. */
static uint64_t next_backoff(struct chatd_redis *r)
{
    uint64_t b = r->backoff_ms, wait = b / 2 + next_rand(r) % (b / 2 + 1);

    r->backoff_ms = b * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b * 2;
    return wait;
}

static void link_down(struct chatd_redis *r, const char *why)
{
    enum link_state was = r->state;

    if (was == LINK_IDLE || was == LINK_DONE)
        return;
    close_contexts(r);
    fetches_clear(r); /* the broker decides what waits (link down) */
    evtimer_del(r->beat_ev);
    evtimer_del(r->watch_ev);
    evtimer_del(r->pump_ev);
    if (was == LINK_LEAVING) {
        r->state = LINK_DONE;
        chatd_server_redis_left(r->srv);
        return;
    }
    r->state = LINK_IDLE;
    if (was == LINK_UP)
        log_warn("redis %s:%d: link down (%s): chat with other servers is "
                 "unavailable until it is back", r->cfg.host, r->cfg.port,
                 why ? why : "error");
    else if (r->told != 0)
        log_warn("redis %s:%d: cannot reach it (%s): retrying in the "
                 "background", r->cfg.host, r->cfg.port, why ? why : "error");
    else
        log_debug("redis %s:%d: still unreachable (%s)", r->cfg.host,
                  r->cfg.port, why ? why : "error");
    if (r->told != 0)
        tell_broker(r, 0);
    arm(r->retry_ev, next_backoff(r));
}

/* ---- lifetime ------------------------------------------------------------ */

/* hiredis 0.14's choice among a name's addresses: IPv4 first. */
static const struct addrinfo *pick_address(const struct addrinfo *res)
{
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            return ai;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            return ai;
    return NULL;
}

int chatd_redis_resolve(struct chatd_redis_config *cfg, char *err,
                        size_t errsize)
{
    struct addrinfo *res;
    const struct addrinfo *ai;
    char port[8];
    int e;

    snprintf(port, sizeof port, "%d", cfg->port);
    e = chatp_resolve(cfg->host, port, 0, &res);
    if (e != 0) {
        snprintf(err, errsize, "cannot resolve %s: %s", cfg->host,
                 chatp_resolve_strerror(e));
        return -1;
    }
    ai = pick_address(res);
    e = ai ? getnameinfo(ai->ai_addr, ai->ai_addrlen, cfg->addr,
                         sizeof cfg->addr, NULL, 0, NI_NUMERICHOST)
           : EAI_FAMILY;
    freeaddrinfo(res);
    if (e != 0) {
        snprintf(err, errsize, "cannot resolve %s: %s", cfg->host,
                 chatp_resolve_strerror(e));
        return -1;
    }
    return 0;
}

static void on_leave_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    link_down(arg, "leaving");
}

int chatd_redis_leave(struct chatd_redis *r)
{
    if (!r || r->state != LINK_UP)
        return 0;
    chatd_redis_pump(r);
    const char *argv[] = {"EVALSHA", r->sha[SCRIPT_LEAVE], "2", r->k_nodes,
                          r->k_names, r->cfg.node_id, "0", r->k_owned_prefix};
    /* (ARGV as the heartbeat's, for free_names; the lease is unused) */
    size_t len[8];
    str_lens(8, argv, len);
    if (command(r, on_reply, NULL, 8, argv, len) != 0)
        return 0;
    evtimer_del(r->beat_ev);
    evtimer_del(r->pump_ev);
    r->state = LINK_LEAVING;
    /* Clean: hiredis writes everything, waits for every reply, closes;
     * the disconnect callback then ends the leave. */
    redisAsyncContext *sub = r->sub;
    r->sub = NULL;
    redisAsyncFree(sub);
    redisAsyncDisconnect(r->cmd);
    if (r->state == LINK_LEAVING)
        arm(r->leave_ev, LEAVE_MAX_MS);
    return 1;
}

static int make_events(struct chatd_redis *r, struct event_base *base)
{
    r->retry_ev = evtimer_new(base, on_retry, r);
    r->beat_ev = event_new(base, -1, EV_PERSIST, on_beat_timer, r);
    r->watch_ev = evtimer_new(base, on_watch, r);
    r->pump_ev = evtimer_new(base, on_pump, r);
    r->leave_ev = evtimer_new(base, on_leave_timeout, r);
    return r->retry_ev && r->beat_ev && r->watch_ev && r->pump_ev &&
                   r->leave_ev ? 0 : -1;
}

int chatd_redis_new(struct chatd_redis **out, struct chatd_server *srv,
                    const struct chatd_redis_config *cfg,
                    struct chatd_rtls *rtls)
{
    struct chatd_redis *r = calloc(1, sizeof *r);
    int err;

    if (!r) {
        log_error("out of memory");
        chatd_rtls_free(rtls);
        return -1;
    }
    r->rtls = rtls;
    r->srv = srv;
    r->b = srv->broker;
    r->cfg = *cfg;
    r->told = -1;
    r->backoff_ms = BACKOFF_MIN_MS;
    if (getrandom(&r->rng, sizeof r->rng, 0) != (ssize_t)sizeof r->rng)
        r->rng = chatd_now_ms();
    r->rng |= 1; /* xorshift's state must not be 0 */
    err = chat_broker_set_node(r->b, cfg->node_id);
    if (err != CHAT_OK || make_fixed_keys(r) != 0 ||
        make_events(r, srv->base) != 0 ||
        (rtls && chatd_rtls_start(rtls, srv->base) != 0)) {
        log_error("cannot set up the redis link: %s",
                  err != CHAT_OK ? chat_strerror(err) : "no memory");
        chatd_redis_free(r);
        return -1;
    }
    srv->metrics.cluster = 1;
    log_info("cluster node %s: redis%s %s:%d db %d, prefix '%s', lease "
             "%llu ms", cfg->node_id, rtls ? " (TLS)" : "", cfg->host,
             cfg->port, cfg->db, cfg->prefix,
             (unsigned long long)cfg->lease_ms);
    if (strcmp(cfg->host, cfg->addr) != 0)
        log_info("redis %s is %s (resolved once, at start)", cfg->host,
                 cfg->addr);
    connect_now(r);
    *out = r;
    return 0;
}

static void free_event(struct event *ev)
{
    if (ev)
        event_free(ev);
}

void chatd_redis_free(struct chatd_redis *r)
{
    if (!r)
        return;
    r->state = LINK_DONE; /* nothing the frees call back starts again */
    close_contexts(r);
    fetches_clear(r);
    free_event(r->retry_ev);
    free_event(r->beat_ev);
    free_event(r->watch_ev);
    free_event(r->pump_ev);
    free_event(r->leave_ev);
    chatd_rtls_free(r->rtls);
    free(r);
}
