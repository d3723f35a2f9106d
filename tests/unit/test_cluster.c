/*
 * Cluster mode (doc/cluster.md) without a server: three brokers, one per
 * node, linked through an in-memory stand-in for Redis: pub/sub that
 * routes each published message to the subscribers of its channel (and
 * can deliver twice or replay), and a table of names that grants each
 * claim atomically, as chatd's Lua script does. Users on different nodes chat in one room,
 * see each other in /users and /rooms, send direct messages, rename, move
 * and leave; a node that dies takes its users along.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES 3
#define MAX_SUBS 16

static const char *const node_ids[NODES] = {"node-a", "node-b", "node-c"};

/* One node: its broker (a harness) and the room channels it follows. */
typedef struct node {
    h_harness *h;
    char subs[MAX_SUBS][CHAT_NAME_MAX + 1];
    int nsubs;
} node;

static node nodes[NODES];

/* The names table: folded name -> node index, -1 free. */
#define MAX_NAMES 64
static struct {
    char key[CHAT_NAME_MAX + 1];
    int node;
} names[MAX_NAMES];
static int nnames;
static int hold_claims; /* leave claims unanswered (a slow Redis) */

static void fold(char *out, const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    out[i] = '\0';
}

static int *owner(const char *name)
{
    char key[CHAT_NAME_MAX + 1];
    fold(key, name);
    for (int i = 0; i < nnames; i++)
        if (strcmp(names[i].key, key) == 0)
            return &names[i].node;
    ck_assert_int_lt(nnames, MAX_NAMES);
    strcpy(names[nnames].key, key);
    names[nnames].node = -1;
    return &names[nnames++].node;
}

/* The claim script: the name if free or already ours; a rename gives up
 * the old name in the same step. */
static void claim(int i, const chat_event *ev)
{
    int *who = owner(ev->target);
    int granted = *who < 0 || *who == i;
    if (granted) {
        *who = i;
        if (ev->len) {
            char old[CHAT_NAME_MAX + 1];
            memcpy(old, ev->data, ev->len);
            old[ev->len] = '\0';
            if (*owner(old) == i)
                *owner(old) = -1;
        }
    }
    ck_assert_int_eq(chat_broker_claim_done(nodes[i].h->b, ev->token, granted,
                                            nodes[i].h->now), CHAT_OK);
}
/* The rooms' stored histories: each a list, newest first, as LPUSH and
 * LTRIM keep it (the publish script appends and publishes in one step). */
#define MAX_ROOMS 16
#define KEPT 32
static struct {
    char key[CHAT_NAME_MAX + 1];
    chat_bytes lines[KEPT]; /* newest first; data malloc'd */
    size_t n;
} stored[MAX_ROOMS];
static int nstored;
static int hold_fetches; /* leave history fetches unanswered ... */
static struct {
    int node;
    uint64_t token;
    char room[CHAT_NAME_MAX + 1];
} held[8]; /* ... and keep them here */
static int nheld;

static int stored_of(const char *room)
{
    char key[CHAT_NAME_MAX + 1];
    fold(key, room);
    for (int i = 0; i < nstored; i++)
        if (strcmp(stored[i].key, key) == 0)
            return i;
    ck_assert_int_lt(nstored, MAX_ROOMS);
    strcpy(stored[nstored].key, key);
    stored[nstored].n = 0;
    return nstored++;
}

static void forget(const char *room)
{
    int s = stored_of(room);
    for (size_t k = 0; k < stored[s].n; k++)
        free((void *)stored[s].lines[k].data);
    stored[s].n = 0;
}

static void store_one(int s, const char *msg, size_t len)
{
    if (stored[s].n == KEPT)
        free((void *)stored[s].lines[--stored[s].n].data);
    memmove(&stored[s].lines[1], &stored[s].lines[0],
            stored[s].n++ * sizeof(chat_bytes));
    void *copy = malloc(len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, msg, len);
    stored[s].lines[0] = (chat_bytes){copy, len};
}

/* A batch is stored one message per entry, as chatd's script does. */
static void store(const chat_event *ev)
{
    int s = stored_of(ev->target);
    const char *p = ev->data, *end = p + ev->len;
    uint32_t n = 0;
    for (;;) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        store_one(s, p, z ? (size_t)(z - p) : (size_t)(end - p));
        n++;
        if (!z)
            break;
        p = z + 1;
    }
    ck_assert_uint_eq(n, ev->count);
}

static void fetch(int i, const chat_event *ev)
{
    if (hold_fetches) {
        ck_assert_int_lt(nheld, 8);
        held[nheld].node = i;
        held[nheld].token = ev->token;
        strcpy(held[nheld++].room, ev->target);
        return;
    }
    int s = stored_of(ev->target);
    ck_assert_int_eq(chat_broker_history(nodes[i].h->b, ev->token,
                                         stored[s].lines, stored[s].n,
                                         nodes[i].h->now),
                     CHAT_OK);
}

/* Give name back if node i holds it; "" gives back all it holds. */
static void release(int i, const char *name)
{
    if (name[0]) {
        if (*owner(name) == i)
            *owner(name) = -1;
        return;
    }
    for (int k = 0; k < nnames; k++)
        if (names[k].node == i)
            names[k].node = -1;
}

static int cut[NODES];   /* node i's link is down: nothing reaches it */

static int twice;        /* deliver every message twice */
static char *last_msg;   /* the last message published, for replays */
static size_t last_len;

static node *subscriber_of(int i, const char *room)
{
    for (int k = 0; k < nodes[i].nsubs; k++)
        if (strcmp(nodes[i].subs[k], room) == 0)
            return &nodes[i];
    return NULL;
}

static void follow(node *n, const char *room, int on)
{
    for (int k = 0; k < n->nsubs; k++) {
        if (strcmp(n->subs[k], room) == 0) {
            if (!on)
                memmove(n->subs[k], n->subs[k + 1],
                        (size_t)(n->nsubs-- - k - 1) * sizeof(n->subs[0]));
            return;
        }
    }
    ck_assert_int_lt(n->nsubs, MAX_SUBS);
    if (on)
        strcpy(n->subs[n->nsubs++], room);
}

/* Does node i get a message published on (channel, target)? */
static int reaches(int i, const chat_event *ev)
{
    switch (ev->channel) {
    case CHAT_CHANNEL_ROOM: return subscriber_of(i, ev->target) != NULL;
    case CHAT_CHANNEL_NODE: return strcmp(ev->target, node_ids[i]) == 0;
    case CHAT_CHANNEL_PRESENCE: return 1;
    }
    return 0;
}

static void deliver(int from, const chat_event *ev)
{
    free(last_msg);
    last_msg = malloc(ev->len);
    ck_assert_ptr_nonnull(last_msg);
    memcpy(last_msg, ev->data, ev->len);
    last_len = ev->len;
    for (int i = 0; i < NODES; i++) {
        /* Redis delivers to the publisher too, if it follows the channel:
         * the broker must ignore its own messages. */
        if ((!reaches(i, ev) && i != from) || cut[i])
            continue;
        for (int k = 0; k <= twice; k++)
            ck_assert_int_eq(chat_broker_remote(nodes[i].h->b, last_msg,
                                                last_len, nodes[i].h->now),
                             CHAT_OK);
    }
}

/* Move every event through the stand-in until all is quiet, then let
 * every node write its output. */
static void pump(void)
{
    for (int busy = 1; busy;) {
        busy = 0;
        for (int i = 0; i < NODES; i++) {
            chat_event ev;
            while (chat_broker_next_event(nodes[i].h->b, &ev)) {
                busy = 1;
                if (ev.kind == CHAT_EVENT_PUBLISH && ev.history)
                    store(&ev);
                if (ev.kind == CHAT_EVENT_PUBLISH)
                    deliver(i, &ev);
                else if (ev.kind == CHAT_EVENT_FETCH)
                    fetch(i, &ev);
                else if (ev.kind == CHAT_EVENT_FORGET)
                    forget(ev.target);
                else if (ev.kind == CHAT_EVENT_CLAIM && !hold_claims)
                    claim(i, &ev);
                else if (ev.kind == CHAT_EVENT_RELEASE)
                    release(i, ev.target);
                else if (ev.kind == CHAT_EVENT_SUBSCRIBE ||
                         ev.kind == CHAT_EVENT_UNSUBSCRIBE)
                    follow(&nodes[i], ev.target,
                           ev.kind == CHAT_EVENT_SUBSCRIBE);
            }
        }
    }
    for (int i = 0; i < NODES; i++)
        h_pump(nodes[i].h);
}

static void setup(void)
{
    memset(nodes, 0, sizeof nodes);
    twice = 0;
    nnames = 0;
    hold_claims = 0;
    hold_fetches = 0;
    nheld = 0;
    nstored = 0;
    memset(cut, 0, sizeof cut);
    for (int i = 0; i < NODES; i++) {
        nodes[i].h = h_new();
        ck_assert_int_eq(chat_broker_set_node(nodes[i].h->b, node_ids[i]),
                         CHAT_OK);
        /* Names first, so the others hear "{name} joined", not a random
         * name's arrival and rename. */
        h_opt(nodes[i].h, CHAT_OPT_LOGIN_MODE, 1);
    }
}

static void teardown(void)
{
    for (int i = 0; i < NODES; i++)
        h_free(nodes[i].h);
    free(last_msg);
    last_msg = NULL;
    for (int s = 0; s < nstored; s++)
        forget(stored[s].key);
}

/* A user of dialect d on node i who sent name as its first line and got
 * it (the cluster granted it); nothing cleared. */
static h_peer *named(int i, chat_dialect d, const char *name)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    char line[64];
    o.dialect = d;
    h_peer *p = h_join_opts(nodes[i].h, &o);
    snprintf(line, sizeof line, "%s\n", name);
    h_send(p, line);
    pump();
    ck_assert_str_eq(h_name(p), name);
    return p;
}

/* A user called name on node i, greeted and quiet. */
static h_peer *user(int i, const char *name)
{
    h_peer *p = named(i, CHAT_DIALECT_CHAT, name);
    for (int k = 0; k < NODES; k++)
        h_clear_all(nodes[k].h);
    return p;
}

static void say(h_peer *p, const char *line)
{
    h_send(p, line);
    pump();
}

START_TEST(users_on_two_nodes_chat_in_one_room)
{
    h_peer *alice = user(0, "alice");
    h_peer *bob = user(1, "bob");
    say(alice, "hello bob\n");
    expect_lines(bob, "alice: hello bob\n");
    expect_lines(alice, "alice: hello bob\n");
    say(bob, "/me waves\n");
    expect_lines(alice, "* bob waves\n");
    expect_lines(bob, "* bob waves\n");
}
END_TEST

START_TEST(presence_spans_nodes)
{
    h_peer *alice = user(0, "alice");
    h_peer *bob = named(1, CHAT_DIALECT_CHAT, "bob");
    expect_lines(alice, "bob joined main\n");
    h_clear_all(nodes[1].h);
    user(2, "carol");
    h_clear_all(nodes[0].h);
    say(bob, "/users\n");
    expect_lines(bob, "Users - alice, bob, carol\n");
    say(alice, "/join side\n");
    expect_lines(bob, "alice left main\n");
    say(bob, "/rooms\n");
    expect_lines(bob, "Rooms - main (2), side (1)\n");
}
END_TEST

START_TEST(direct_messages_cross_nodes)
{
    h_peer *alice = user(0, "alice");
    h_peer *bob = user(1, "bob");
    say(bob, "/msg alice,nobody psst\n");
    expect_lines(alice, "from bob: psst\n");
    expect_lines(bob, "No such user: nobody\n", "to alice: psst\n");
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    o.dialect = CHAT_DIALECT_A_CHAT;
    h_peer *ann = h_join_opts(nodes[2].h, &o);
    say(ann, "ann\n");
    h_clear_all(nodes[0].h);
    h_clear_all(nodes[1].h);
    say(ann, "alice, bob: hi both\n");
    expect_lines(alice, "from ann: hi both\n");
    expect_lines(bob, "from ann: hi both\n");
}
END_TEST

START_TEST(names_are_unique_across_nodes)
{
    user(0, "alice");
    h_peer *bob = user(1, "bob");
    say(bob, "/name ALICE\n");
    expect_lines(bob, "ALICE is already taken\n");
    h_peer *x = h_join(nodes[2].h);
    say(x, "Alice\n");
    expect_lines(x, "Alice is already taken\n");
}
END_TEST

START_TEST(a_rename_is_seen_everywhere)
{
    h_peer *alice = user(0, "alice");
    h_peer *bob = user(1, "bob");
    say(alice, "/name alicia\n");
    expect_lines(bob, "alice is now alicia\n");
    say(bob, "/users\n");
    expect_lines(bob, "Users - alicia, bob\n");
    say(bob, "/msg alicia ok\n");
    expect_lines(alice, "alice is now alicia\n", "from bob: ok\n");
}
END_TEST

START_TEST(each_node_renders_in_its_users_dialects)
{
    h_peer *alice = user(0, "alice");
    h_peer *tom = named(1, CHAT_DIALECT_TELEX, "tom");
    h_clear_all(nodes[0].h);
    h_clear_all(nodes[1].h);
    say(alice, "hi tom\n");
    expect_lines(tom, "<alice> hi tom\n");
    say(tom, "hi alice\n");
    expect_lines(alice, "alice: hi tom\n", "tom: hi alice\n");
    expect_nothing(tom);
}
END_TEST

START_TEST(duplicates_and_own_messages_do_nothing)
{
    h_peer *alice = user(0, "alice");
    h_peer *bob = user(1, "bob");
    twice = 1;
    say(alice, "once only\n");
    expect_lines(bob, "alice: once only\n");
    expect_lines(alice, "alice: once only\n");
    twice = 0;
    /* A replay of an old message, later. */
    char *old = malloc(last_len);
    size_t old_len = last_len;
    memcpy(old, last_msg, last_len);
    say(alice, "newer\n");
    h_clear_all(nodes[1].h);
    ck_assert_int_eq(chat_broker_remote(nodes[1].h->b, old, old_len,
                                        nodes[1].h->now), CHAT_OK);
    h_pump(nodes[1].h);
    expect_nothing(bob);
    free(old);
}
END_TEST

START_TEST(what_comes_from_the_bus_is_checked)
{
    h_peer *bob = user(1, "bob");
    static const char *const bad[] = {
        "c1 node-a 5 chat\nalice\nmain\n\n\x1b[2Jgotcha",
        "c1 node-a 6 chat\nal ice\nmain\n\nhi",
        "garbage",
    };
    chat_stats st;
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(chat_broker_remote(nodes[1].h->b, bad[i],
                                            strlen(bad[i]), nodes[1].h->now),
                         CHAT_ERR_INVALID);
    h_pump(nodes[1].h);
    expect_nothing(bob);
    chat_broker_stats(nodes[1].h->b, &st, sizeof st);
    ck_assert_uint_eq(st.remote_invalid, 3);
}
END_TEST

START_TEST(a_dead_nodes_users_leave)
{
    user(0, "alice");
    user(0, "dave");
    h_peer *bob = user(1, "bob");
    h_peer *carol = user(2, "carol");
    /* node-a stops: its lease runs out, so its names are free to claim
     * (the script checks the owner's lease), and node-b says so. */
    for (int i = 0; i < nnames; i++)
        if (names[i].node == 0)
            names[i].node = -1;
    ck_assert_int_eq(chat_broker_node_gone(nodes[1].h->b, "node-a",
                                           nodes[1].h->now), CHAT_OK);
    pump();
    expect_lines_any_order(bob, "alice left main\n", "dave left main\n");
    expect_lines_any_order(carol, "alice left main\n", "dave left main\n");
    say(carol, "/users\n");
    expect_lines(carol, "Users - bob, carol\n");
    say(bob, "/name alice\n"); /* the name is free again */
    expect_lines(bob, "bob is now alice\n");
    ck_assert_int_eq(chat_broker_node_gone(nodes[1].h->b, "node-b", 0),
                     CHAT_ERR_INVALID);
}
END_TEST

START_TEST(a_node_follows_a_room_while_it_has_members_there)
{
    h_peer *alice = user(0, "alice");
    h_peer *bob = user(1, "bob");
    ck_assert_ptr_nonnull(subscriber_of(1, "main"));
    say(bob, "/join side\n");
    ck_assert_ptr_null(subscriber_of(1, "main"));
    ck_assert_ptr_nonnull(subscriber_of(1, "side"));
    h_clear_all(nodes[1].h);
    say(alice, "anyone?\n");
    expect_nothing(bob);
}
END_TEST

START_TEST(history_holds_lines_from_every_node)
{
    h_peer *alice = user(0, "alice");
    user(1, "bob");
    say(alice, "said before you came\n");
    h_peer *carol = named(1, CHAT_DIALECT_CHAT, "carol");
    ck_assert(h_has_line(carol, "alice: said before you came"));
}
END_TEST

START_TEST(the_event_queue_is_bounded)
{
    chat_stats st;
    h_opt(nodes[0].h, CHAT_OPT_EVENT_QUEUE, 2);
    h_peer *alice = named(0, CHAT_DIALECT_CHAT, "alice");
    h_send(alice, "one\ntwo\nthree\n"); /* three publishes, two fit */
    chat_broker_stats(nodes[0].h->b, &st, sizeof st);
    ck_assert_uint_gt(st.events_dropped, 0);
    pump();
}
END_TEST

/* Two users on two nodes ask for one name at the same moment: one grant,
 * one "is already taken"; the loser keeps asking, in order. */
START_TEST(one_name_claimed_on_two_nodes_at_once)
{
    h_peer *a = h_join(nodes[0].h), *b = h_join(nodes[1].h);
    h_send(a, "Zed\n");
    h_send(b, "zed\nzoe\n"); /* zoe waits behind the claim for zed */
    pump();
    ck_assert_str_eq(h_name(a), "Zed");
    ck_assert(h_has_line(b, "zed is already taken"));
    ck_assert_str_eq(h_name(b), "zoe");
}
END_TEST

START_TEST(renames_and_random_names_are_claimed)
{
    h_peer *alice = user(0, "alice");
    h_peer *bob = user(1, "bob");
    h_opt(nodes[2].h, CHAT_OPT_LOGIN_MODE, 0);
    h_peer *r = h_join(nodes[2].h); /* a random name, granted first */
    ck_assert_str_eq(h_name(r), "");
    pump();
    ck_assert_str_ne(h_name(r), "");
    ck_assert(h_has_line(r, "You joined main"));
    /* alice moves to a name; the old one is free for bob at once. */
    say(alice, "/name alicia\n");
    ck_assert_int_eq(*owner("alicia"), 0);
    say(bob, "/name alice\n");
    ck_assert_str_eq(h_name(bob), "alice");
    ck_assert_int_eq(*owner("alice"), 1);
    /* Leaving gives a name back. */
    h_send(bob, "/quit\n");
    pump();
    ck_assert_int_eq(*owner("alice"), -1);
}
END_TEST

/* Redis does not answer: after the claim timeout the node decides with
 * what it knows, and the user is not left waiting. */
START_TEST(an_unanswered_claim_is_decided_here)
{
    hold_claims = 1;
    h_opt(nodes[0].h, CHAT_OPT_CLAIM_TIMEOUT_MS, 1000);
    h_peer *a = h_join(nodes[0].h);
    h_send(a, "ann\nhello\n");
    pump();
    ck_assert_str_eq(h_name(a), "");
    ck_assert_uint_eq(chat_broker_next_deadline(nodes[0].h->b),
                      nodes[0].h->now + 1000);
    h_advance(nodes[0].h, 1000);
    ck_assert_str_eq(h_name(a), "ann");
    ck_assert(h_has_line(a, "ann: hello"));
}
END_TEST

/* The claim's deadline and the login timeout fall in one tick: the peer
 * closes (a name for it would pull it off its way out; found by the fuzz
 * target as a tick that never ended), and the name is given back. */
START_TEST(a_claim_decided_as_its_user_times_out)
{
    hold_claims = 1;
    h_opt(nodes[0].h, CHAT_OPT_CLAIM_TIMEOUT_MS, 1000);
    h_opt(nodes[0].h, CHAT_OPT_LOGIN_TIMEOUT_MS, 1000);
    h_peer *a = h_join(nodes[0].h);
    h_send(a, "ann\n");
    h_advance(nodes[0].h, 5000);
    ck_assert_int_eq(h_reason(a), CHAT_CLOSE_LOGIN_TIMEOUT);
    h_advance(nodes[0].h, 5000); /* and the next tick ends too */
}
END_TEST

/* ---- history, the link going down and back ---------------------------- */

/* Lines said in a room on node a reach a user on node c who joins later,
 * c having had no member there: the history is the room's. */
START_TEST(history_is_the_rooms_whichever_node_joins)
{
    h_peer *alice = user(0, "alice");
    h_peer *carol = user(2, "carol");
    say(alice, "/join den\n");
    say(alice, "one\n");
    say(alice, "/me two\n");
    h_clear_all(nodes[0].h);
    h_clear(carol);
    say(carol, "/join den\n");
    expect_lines(carol, "alice: one\n", "* alice two\n", "You joined den\n");
    expect_lines(alice, "carol joined den\n");
}
END_TEST

/* While the history is on its way the joiner's lines wait behind the
 * join, in order; a line said meanwhile in the room is shown once. */
START_TEST(a_join_waits_for_the_rooms_history)
{
    h_peer *alice = user(0, "alice");
    h_peer *carol = user(2, "carol");
    say(alice, "/join den\n");
    say(alice, "before\n");
    hold_fetches = 1;
    say(carol, "/join den\n");
    say(carol, "hi all\n");
    ck_assert_str_eq(h_room(carol), "main"); /* not yet in den */
    say(alice, "meanwhile\n");               /* stored, and sent to c */
    h_clear_all(nodes[0].h);
    h_clear(carol);
    ck_assert_int_eq(nheld, 1); /* one fetch, answered now */
    ck_assert_str_eq(held[0].room, "den");
    int s = stored_of("den");
    ck_assert_int_eq(chat_broker_history(nodes[2].h->b, held[0].token,
                                         stored[s].lines, stored[s].n,
                                         nodes[2].h->now),
                     CHAT_OK);
    ck_assert_int_eq(chat_broker_history(nodes[2].h->b, held[0].token, NULL, 0,
                                         nodes[2].h->now),
                     CHAT_ERR_NOT_FOUND);
    pump();
    expect_lines(carol, "alice: before\n", "alice: meanwhile\n",
                 "You joined den\n", "carol: hi all\n");
    expect_lines(alice, "carol joined den\n", "carol: hi all\n");
}
END_TEST

/* No answer: the join goes ahead after the claim timeout with what the
 * node has, and the lines behind it run. */
START_TEST(a_history_that_never_comes_lets_the_join_through)
{
    h_peer *alice = user(0, "alice");
    h_peer *carol = user(2, "carol");
    say(alice, "/join den\n");
    h_clear(carol);
    hold_fetches = 1;
    h_opt(nodes[2].h, CHAT_OPT_CLAIM_TIMEOUT_MS, 1000);
    say(carol, "/join den\nhello\n");
    ck_assert_str_eq(h_room(carol), "main");
    h_advance(nodes[2].h, 1000);
    pump();
    ck_assert_str_eq(h_room(carol), "den");
    expect_lines(carol, "You joined den\n", "carol: hello\n");
}
END_TEST

/* The link goes down: its users are told once and chat among
 * themselves; nothing is queued for the others (it is counted); it comes
 * back: they are told, and the cluster is one chat again. */
START_TEST(a_node_cut_off_goes_on_alone_and_comes_back)
{
    h_peer *alice = user(0, "alice");
    h_peer *amy = user(0, "amy");
    h_peer *bob = user(1, "bob");
    h_clear_all(nodes[0].h);
    cut[0] = 1;
    ck_assert_int_eq(chat_broker_cluster_up(nodes[0].h->b, 0, nodes[0].h->now),
                     CHAT_OK);
    ck_assert_int_eq(chat_broker_cluster_up(nodes[0].h->b, 0, nodes[0].h->now),
                     CHAT_OK); /* said once */
    pump();
    const char *down =
        "Chat with other servers is unavailable; users here can still chat\n";
    expect_lines(alice, down);
    expect_lines(amy, down);
    say(alice, "local only\n");
    expect_lines(amy, "alice: local only\n");
    h_clear(alice);
    expect_nothing(bob);
    say(alice, "/users\n");
    expect_lines(alice, "Users - alice, amy\n");
    chat_stats st;
    chat_broker_stats(nodes[0].h->b, &st, sizeof st);
    ck_assert_uint_gt(st.cluster_unsent, 0);
    ck_assert_uint_eq(st.cluster_down, 1);
    /* A newcomer while it lasts is told at once. */
    h_peer *al = h_join(nodes[0].h);
    say(al, "al\n");
    ck_assert(h_has_line(al, "Chat with other servers is unavailable; users "
                             "here can still chat"));
    h_clear_all(nodes[0].h);
    cut[0] = 0;
    ck_assert_int_eq(chat_broker_cluster_up(nodes[0].h->b, 1, nodes[0].h->now),
                     CHAT_OK);
    pump();
    expect_lines(alice, "Chat with other servers is available again\n");
    say(bob, "/users\n");
    expect_lines(bob, "Users - al, alice, amy, bob\n");
    say(alice, "/users\n");
    expect_lines(alice, "Users - al, alice, amy, bob\n");
    say(alice, "back\n");
    expect_lines(bob, "alice: back\n");
}
END_TEST

/* While node a is cut off, a user there and a user on node b both take
 * "sam"; when a comes back, b's grant stands, and a's sam is renamed and
 * told, and the cluster's names are unique again. */
START_TEST(a_name_taken_during_an_outage_is_lost_by_one)
{
    cut[0] = 1;
    ck_assert_int_eq(chat_broker_cluster_up(nodes[0].h->b, 0, nodes[0].h->now),
                     CHAT_OK);
    h_peer *sam_a = named(0, CHAT_DIALECT_CHAT, "sam");
    h_peer *sam_b = named(1, CHAT_DIALECT_CHAT, "sam");
    ck_assert_int_eq(*owner("sam"), 1);
    cut[0] = 0;
    ck_assert_int_eq(chat_broker_cluster_up(nodes[0].h->b, 1, nodes[0].h->now),
                     CHAT_OK);
    pump();
    ck_assert_str_eq(h_name(sam_b), "sam");
    ck_assert_str_ne(h_name(sam_a), "sam");
    char line[128];
    snprintf(line, sizeof line,
             "Your name sam was taken on another server; you are now %s",
             h_name(sam_a));
    ck_assert(h_has_line(sam_a, line));
    ck_assert_int_eq(*owner(h_name(sam_a)), 0);
    /* Others know the new name; its room heard of the change. */
    h_clear(sam_b);
    say(sam_b, "/users\n");
    char users[128];
    snprintf(users, sizeof users, "Users - sam, %s", h_name(sam_a));
    ck_assert(h_has_line(sam_b, users));
    /* A third node, whose replica heard of a's sam last, still reaches
     * the sam who kept the name. */
    h_peer *carol = user(2, "carol");
    h_clear(sam_b);
    say(carol, "/msg sam still there?\n");
    expect_lines(sam_b, "from carol: still there?\n");
}
END_TEST

/* A claim or a join that waits when the link goes down is decided here
 * at once: no user is left waiting for a cluster that is not there. */
START_TEST(what_waits_for_the_cluster_is_decided_when_it_goes)
{
    h_peer *alice = user(0, "alice");
    say(alice, "/join den\n");
    h_peer *carol = user(2, "carol");
    hold_claims = 1;
    hold_fetches = 1;
    h_peer *x = h_join(nodes[2].h);
    h_send(x, "xena\n");
    say(carol, "/join den\nstill here\n");
    ck_assert_str_eq(h_name(x), "");
    ck_assert_str_eq(h_room(carol), "main");
    ck_assert_int_eq(chat_broker_cluster_up(nodes[2].h->b, 0, nodes[2].h->now),
                     CHAT_OK);
    pump();
    ck_assert_str_eq(h_name(x), "xena");
    ck_assert_str_eq(h_room(carol), "den");
    ck_assert(h_has_line(carol, "carol: still here"));
}
END_TEST

/* Right after a node comes back its replica is still empty: a user who
 * joins a room then gets the room's history all the same (fetched, not
 * forgotten as if the room were new). */
START_TEST(a_room_joined_while_the_replica_fills_keeps_its_history)
{
    h_peer *alice = user(0, "alice");
    h_peer *carol = user(2, "carol");
    say(alice, "/join den\n");
    say(alice, "kept\n");
    cut[2] = 1;
    ck_assert_int_eq(chat_broker_cluster_up(nodes[2].h->b, 0, nodes[2].h->now),
                     CHAT_OK);
    cut[2] = 0;
    ck_assert_int_eq(chat_broker_cluster_up(nodes[2].h->b, 1, nodes[2].h->now),
                     CHAT_OK);
    h_clear(carol);
    h_send(carol, "/join den\n"); /* before any answer to its sync */
    pump();
    expect_lines(carol,
                 "Chat with other servers is unavailable; users here can "
                 "still chat\n",
                 "Chat with other servers is available again\n",
                 "alice: kept\n", "You joined den\n");
}
END_TEST

/* Claims asked before the link first came up (or while it was being
 * lost) are asked again when it comes up, and answered. */
START_TEST(claims_waiting_when_the_link_comes_up_are_asked_again)
{
    hold_claims = 1;
    h_peer *a = h_join(nodes[0].h);
    h_send(a, "ann\n");
    pump();
    ck_assert_str_eq(h_name(a), "");
    hold_claims = 0;
    ck_assert_int_eq(chat_broker_cluster_up(nodes[0].h->b, 1, nodes[0].h->now),
                     CHAT_OK);
    pump();
    ck_assert_str_eq(h_name(a), "ann");
    ck_assert_int_eq(*owner("ann"), 0);
}
END_TEST

/* Lines queued between two pulls for one room go as one publish (a
 * batch): the other nodes get each line once, in order, and the room's
 * stored history holds each line on its own. */
START_TEST(lines_queued_together_go_as_one_publish)
{
    h_peer *alice = user(0, "alice");
    h_peer *bob = user(1, "bob");
    h_opt(nodes[0].h, CHAT_OPT_RATE, 0);
    char line[32];
    for (int i = 0; i < 40; i++) {
        snprintf(line, sizeof line, "line %d\n", i);
        h_send(alice, line);
    }
    chat_event ev;
    ck_assert(chat_broker_next_event(nodes[0].h->b, &ev));
    ck_assert_int_eq(ev.kind, CHAT_EVENT_PUBLISH);
    ck_assert_uint_eq(ev.count, 40);
    ck_assert(ev.history);
    store(&ev);
    deliver(0, &ev);
    ck_assert(!chat_broker_next_event(nodes[0].h->b, &ev));
    pump();
    for (int i = 0; i < 40; i++) {
        char *got = h_take_line(bob);
        snprintf(line, sizeof line, "alice: line %d", i);
        ck_assert_str_eq(got, line);
        free(got);
    }
    ck_assert_uint_eq(stored[stored_of("main")].n, 32); /* KEPT */
    /* A batch with one bad message: the rest are applied. */
    static const char mixed[] = "c1 node-x 5 chat\nzed\nmain\n\nfine\0"
                                "c1 node-x 6 chat\nzed\nmain\n\n\x1b[2J\0"
                                "c1 node-x 7 me\nzed\nmain\n\nwaves";
    ck_assert_int_eq(chat_broker_remote(nodes[1].h->b, mixed,
                                        sizeof mixed - 1, nodes[1].h->now),
                     CHAT_ERR_INVALID);
    h_pump(nodes[1].h);
    expect_lines(bob, "zed: fine\n", "* zed waves\n");
}
END_TEST

/* The queue's bound counts messages, batched or not. */
START_TEST(a_batch_counts_each_message_against_the_queue)
{
    h_peer *alice = user(0, "alice");
    h_opt(nodes[0].h, CHAT_OPT_EVENT_QUEUE, 10);
    h_opt(nodes[0].h, CHAT_OPT_RATE, 0);
    for (int i = 0; i < 30; i++)
        h_send(alice, "more\n");
    chat_event ev;
    uint32_t total = 0;
    while (chat_broker_next_event(nodes[0].h->b, &ev))
        total += ev.kind == CHAT_EVENT_PUBLISH ? ev.count : 0;
    ck_assert_uint_eq(total, 10);
    chat_stats st;
    chat_broker_stats(nodes[0].h->b, &st, sizeof st);
    ck_assert_uint_eq(st.events_dropped, 20);
}
END_TEST

/* The bus reorders what two nodes publish (each node's own order holds,
 * as Redis keeps it per connection) and loses a message: every sender's
 * order holds everywhere, and a lost line is lost alone. */
START_TEST(reordered_and_lost_deliveries)
{
    h_peer *alice = user(0, "alice");
    h_peer *bob = user(1, "bob");
    h_peer *carol = user(2, "carol");
    h_opt(nodes[0].h, CHAT_OPT_RATE, 0);
    h_opt(nodes[1].h, CHAT_OPT_RATE, 0);
    /* Each line its own publish, taken in turn from a and b. */
    chat_event ev;
    char line[32];
    struct {
        char *data;
        size_t len;
    } kept[2][10];
    for (int i = 0; i < 10; i++) {
        for (int k = 0; k < 2; k++) {
            snprintf(line, sizeof line, "%c%d\n", k ? 'b' : 'a', i);
            h_send(k ? bob : alice, line);
            ck_assert(chat_broker_next_event(nodes[k].h->b, &ev));
            ck_assert_uint_eq(ev.count, 1);
            kept[k][i].data = malloc(ev.len);
            ck_assert_ptr_nonnull(kept[k][i].data);
            memcpy(kept[k][i].data, ev.data, ev.len);
            kept[k][i].len = ev.len;
        }
    }
    /* Carol's node gets all of b's first, then a's without a5. */
    for (int k = 1; k >= 0; k--)
        for (int i = 0; i < 10; i++) {
            if (!(k == 0 && i == 5))
                ck_assert_int_eq(chat_broker_remote(nodes[2].h->b,
                                                    kept[k][i].data,
                                                    kept[k][i].len,
                                                    nodes[2].h->now),
                                 CHAT_OK);
            free(kept[k][i].data);
        }
    h_pump(nodes[2].h);
    for (int k = 1; k >= 0; k--)
        for (int i = 0; i < 10; i++) {
            if (k == 0 && i == 5)
                continue;
            char want[32], *got = h_take_line(carol);
            snprintf(want, sizeof want, "%s: %c%d", k ? "bob" : "alice",
                     k ? 'b' : 'a', i);
            ck_assert_str_eq(got, want);
            free(got);
        }
    expect_nothing(carol);
}
END_TEST

/* A node gone is forgotten whole, its numbering too: back under the same
 * id (a restart; its numbers may be lower) it is heard again. */
START_TEST(a_node_back_under_its_id_is_heard_again)
{
    h_peer *alice = user(0, "alice");
    static const char high[] = "c1 node-x 900 chat\nzed\nmain\n\nfirst life";
    static const char low[] = "c1 node-x 5 chat\nzed\nmain\n\nsecond life";
    ck_assert_int_eq(chat_broker_remote(nodes[0].h->b, high, sizeof high - 1,
                                        nodes[0].h->now), CHAT_OK);
    ck_assert_int_eq(chat_broker_remote(nodes[0].h->b, low, sizeof low - 1,
                                        nodes[0].h->now), CHAT_OK);
    h_pump(nodes[0].h);
    expect_lines(alice, "zed: first life\n"); /* 5 is a replay of 900's */
    ck_assert_int_eq(chat_broker_node_gone(nodes[0].h->b, "node-x",
                                           nodes[0].h->now), CHAT_OK);
    ck_assert_int_eq(chat_broker_remote(nodes[0].h->b, low, sizeof low - 1,
                                        nodes[0].h->now), CHAT_OK);
    h_pump(nodes[0].h);
    expect_lines(alice, "zed: second life\n");
}
END_TEST

START_TEST(cluster_calls_outside_cluster_mode)
{
    chat_broker *b;
    chat_event ev;
    ck_assert_int_eq(chat_broker_new(&b, NULL), CHAT_OK);
    ck_assert_int_eq(chat_broker_remote(b, "x", 1, 0), CHAT_ERR_STATE);
    ck_assert_int_eq(chat_broker_node_gone(b, "n1", 0), CHAT_ERR_STATE);
    ck_assert_int_eq(chat_broker_cluster_up(b, 1, 0), CHAT_ERR_STATE);
    ck_assert_int_eq(chat_broker_history(b, 1, NULL, 0, 0), CHAT_ERR_STATE);
    ck_assert_int_eq(chat_broker_next_event(b, &ev), 0);
    ck_assert_int_eq(chat_broker_set_node(b, "bad id"), CHAT_ERR_INVALID);
    chat_broker_free(b);
}
END_TEST

static Suite *cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, users_on_two_nodes_chat_in_one_room);
    tcase_add_test(tc, presence_spans_nodes);
    tcase_add_test(tc, direct_messages_cross_nodes);
    tcase_add_test(tc, names_are_unique_across_nodes);
    tcase_add_test(tc, a_rename_is_seen_everywhere);
    tcase_add_test(tc, each_node_renders_in_its_users_dialects);
    tcase_add_test(tc, duplicates_and_own_messages_do_nothing);
    tcase_add_test(tc, what_comes_from_the_bus_is_checked);
    tcase_add_test(tc, a_dead_nodes_users_leave);
    tcase_add_test(tc, a_node_follows_a_room_while_it_has_members_there);
    tcase_add_test(tc, history_holds_lines_from_every_node);
    tcase_add_test(tc, the_event_queue_is_bounded);
    tcase_add_test(tc, cluster_calls_outside_cluster_mode);
    tcase_add_test(tc, one_name_claimed_on_two_nodes_at_once);
    tcase_add_test(tc, renames_and_random_names_are_claimed);
    tcase_add_test(tc, an_unanswered_claim_is_decided_here);
    tcase_add_test(tc, a_claim_decided_as_its_user_times_out);
    tcase_add_test(tc, history_is_the_rooms_whichever_node_joins);
    tcase_add_test(tc, a_join_waits_for_the_rooms_history);
    tcase_add_test(tc, a_history_that_never_comes_lets_the_join_through);
    tcase_add_test(tc, a_node_cut_off_goes_on_alone_and_comes_back);
    tcase_add_test(tc, a_name_taken_during_an_outage_is_lost_by_one);
    tcase_add_test(tc, what_waits_for_the_cluster_is_decided_when_it_goes);
    tcase_add_test(tc, a_room_joined_while_the_replica_fills_keeps_its_history);
    tcase_add_test(tc, claims_waiting_when_the_link_comes_up_are_asked_again);
    tcase_add_test(tc, lines_queued_together_go_as_one_publish);
    tcase_add_test(tc, a_batch_counts_each_message_against_the_queue);
    tcase_add_test(tc, reordered_and_lost_deliveries);
    tcase_add_test(tc, a_node_back_under_its_id_is_heard_again);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_run_suite(cluster_suite()); }
