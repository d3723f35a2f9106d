/*
 * The message format between nodes (doc/cluster.md): what encodes decodes
 * back the same, and what arrives from Redis is validated as if a user had
 * typed it: a message is taken whole or not at all.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "wire.h"

static chat_allocator al;

static void setup(void) { chat_allocator_init(&al, NULL); }

static int decode(const char *s, chat_wire *w)
{
    return chat_wire_decode(s, strlen(s), w);
}

START_TEST(a_chat_line_decodes)
{
    chat_wire w;
    ck_assert_int_eq(decode("c1 node-a 17 chat\nalice\nmain\n\nhello: all", &w), 0);
    ck_assert_str_eq(w.node, "node-a");
    ck_assert_uint_eq(w.seq, 17);
    ck_assert_int_eq(w.kind, CHAT_WIRE_CHAT);
    ck_assert_str_eq(w.name, "alice");
    ck_assert_str_eq(w.room, "main");
    ck_assert_str_eq(w.other, "");
    ck_assert_uint_eq(w.text_len, 10);
    ck_assert(memcmp(w.text, "hello: all", 10) == 0);
}
END_TEST

/* Every kind with the fields it needs survives encode and decode. */
START_TEST(every_kind_round_trips)
{
    static const chat_wire samples[] = {
        {"n1", 1, CHAT_WIRE_CHAT, "alice", "main", "", "hi", 2},
        {"n1", 2, CHAT_WIRE_ME, "alice", "main", "", "waves", 5},
        {"n1", 3, CHAT_WIRE_DIRECT, "alice", "", "bob", "psst", 4},
        {"n1", 4, CHAT_WIRE_JOINED, "alice", "side", "", "", 0},
        {"n1", 5, CHAT_WIRE_LEFT, "alice", "side", "", "", 0},
        {"n1", 6, CHAT_WIRE_RENAMED, "alicia", "main", "alice", "", 0},
        {"n1", 7, CHAT_WIRE_HERE, "alicia", "main", "", "", 0},
        {"n1", 8, CHAT_WIRE_GONE, "alicia", "", "", "", 0},
        {"n1", UINT64_MAX, CHAT_WIRE_NODE_GONE, "", "", "n2", "", 0},
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        chat_wire back;
        ck_assert(chat_wire_valid(&samples[i]));
        chat_msg *m = chat_wire_encode(&al, &samples[i]);
        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq(chat_wire_decode(m->data, m->len, &back), 0);
        ck_assert_int_eq(back.kind, samples[i].kind);
        ck_assert_uint_eq(back.seq, samples[i].seq);
        ck_assert_str_eq(back.name, samples[i].name);
        ck_assert_str_eq(back.room, samples[i].room);
        ck_assert_str_eq(back.other, samples[i].other);
        ck_assert_uint_eq(back.text_len, samples[i].text_len);
        chat_msg_unref(&al, m);
    }
}
END_TEST

/* Whatever Redis hands over is refused unless a user could have sent it. */
START_TEST(bad_messages_are_refused_whole)
{
    static const char *const bad[] = {
        "",
        "c2 n1 1 chat\nalice\nmain\n\nhi",          /* unknown version */
        "c1 n1 1 shout\nalice\nmain\n\nhi",         /* unknown kind */
        "c1 n1 0 chat\nalice\nmain\n\nhi",          /* seq 0 */
        "c1 n1 01 chat\nalice\nmain\n\nhi",         /* two spellings of 1 */
        "c1 n1 18446744073709551616 chat\na1\nmain\n\nhi", /* overflow */
        "c1 n1 -1 chat\nalice\nmain\n\nhi",
        "c1 n/1 1 chat\nalice\nmain\n\nhi",         /* node id */
        "c1  1 chat\nalice\nmain\n\nhi",            /* empty node */
        "c1 n1 1 chat\nal ice\nmain\n\nhi",         /* name rule */
        "c1 n1 1 chat\na\nmain\n\nhi",              /* too short */
        "c1 n1 1 chat\nalice\n\n\nhi",              /* chat without room */
        "c1 n1 1 chat\nalice\nmain\nbob\nhi",       /* field it has no use for */
        "c1 n1 1 chat\nalice\nmain\n\n",            /* empty text */
        "c1 n1 1 chat\nalice\nmain\n\nhi\n",        /* control character */
        "c1 n1 1 chat\nalice\nmain\n\n\x1b[31mred", /* terminal escape */
        "c1 n1 1 chat\nalice\nmain\n\n hi",         /* not trimmed */
        "c1 n1 1 chat\nalice\nmain\n\n\xc0\xaf",    /* invalid UTF-8 */
        "c1 n1 1 joined\nalice\nmain\n\nextra",     /* text it has no use for */
        "c1 n1 1 direct\nalice\n\n\nhi",            /* direct without recipient */
        "c1 n1 1 node-gone\n\n\n\n",               /* which node? */
        "c1 n1 1 node-gone\n\n\nn/2\n",            /* not a node id */
        "c1 n1 1 chat\nalice\nmain",                /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chat_wire w;
        ck_assert_msg(decode(bad[i], &w) != 0, "accepted bad message %zu", i);
    }
}
END_TEST

START_TEST(text_is_bounded_at_the_line_limit)
{
    char msg[600];
    chat_wire w;
    int head = snprintf(msg, sizeof msg, "c1 n1 9 chat\nalice\nmain\n\n");
    memset(msg + head, 'x', CHAT_MAX_LINE);
    ck_assert_int_eq(chat_wire_decode(msg, (size_t)head + CHAT_MAX_LINE, &w), 0);
    msg[head + CHAT_MAX_LINE] = 'x';
    ck_assert_int_ne(chat_wire_decode(msg, (size_t)head + CHAT_MAX_LINE + 1, &w),
                     0);
}
END_TEST

START_TEST(node_ids)
{
    ck_assert(chat_node_id_valid("a", 1));
    ck_assert(chat_node_id_valid("node-7_b", 8));
    ck_assert(!chat_node_id_valid("", 0));
    ck_assert(!chat_node_id_valid("a b", 3));
    char *long_id = h_repeat('n', CHAT_NODE_MAX + 1);
    ck_assert(chat_node_id_valid(long_id, CHAT_NODE_MAX));
    ck_assert(!chat_node_id_valid(long_id, CHAT_NODE_MAX + 1));
    free(long_id);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("wire");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, a_chat_line_decodes);
    tcase_add_test(tc, every_kind_round_trips);
    tcase_add_test(tc, bad_messages_are_refused_whole);
    tcase_add_test(tc, text_is_bounded_at_the_line_limit);
    tcase_add_test(tc, node_ids);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_run_suite(wire_suite()); }
