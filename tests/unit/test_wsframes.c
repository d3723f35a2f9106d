/*
 * Output framed for WebSocket peers (chat_peer_options.framing): each
 * protocol line is one RFC 6455 text frame as a server sends it (FIN,
 * opcode 1, unmasked), built once per line and shared by every WebSocket
 * recipient, like the TCP bytes; chat_peer_send_raw puts a front-end's
 * own frames (a pong) in the same outbox, in order.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static h_peer *ws_peer(const char *name)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    o.lines = 1;
    o.framing = CHAT_FRAMING_WEBSOCKET;
    h_peer *w = h_join_opts(h, &o);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "/name %s", name);
    h_send_line(w, cmd);
    h_clear_all(h);
    return w;
}

/* The frame a server sends for text (short: 7-bit or 16-bit length). */
static size_t frame(char *out, const char *text)
{
    size_t n = strlen(text), k = 0;
    out[k++] = (char)0x81;
    if (n < 126) {
        out[k++] = (char)n;
    } else {
        out[k++] = 126;
        out[k++] = (char)(n >> 8);
        out[k++] = (char)(n & 0xff);
    }
    memcpy(out + k, text, n);
    return k + n;
}

static void expect_frames(h_peer *p, const char *const *texts, size_t n)
{
    char want[4096];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += frame(want + len, texts[i]);
    expect_out(p, want, len);
}

START_TEST(each_line_is_one_text_frame)
{
    h_join_abc(1);
    h_peer *w = ws_peer("webby");
    h_send(alice, "hello web\n");
    const char *const hello[] = {"alice: hello web"};
    expect_frames(w, hello, 1);
    expect_lines(alice, "alice: hello web\n");
    h_send_line(w, "/users");
    const char *const users[] = {"Users - alice, webby"};
    expect_frames(w, users, 1);
}
END_TEST

START_TEST(the_greeting_is_a_frame_per_line)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    o.lines = 1;
    o.framing = CHAT_FRAMING_WEBSOCKET;
    h_peer *w = h_join_opts(h, &o);
    char *help = h_help_text(); /* "Server commands\n...\n" */
    size_t frames = 0;
    const unsigned char *out = (const unsigned char *)w->buf;
    size_t i = 0;
    while (i + 2 <= w->len) { /* walk the frames: all short, all text */
        ck_assert_uint_eq(out[i], 0x81);
        ck_assert_uint_lt(out[i + 1], 126);
        ck_assert_ptr_null(memchr(out + i + 2, '\n', out[i + 1]));
        i += 2u + out[i + 1];
        frames++;
    }
    ck_assert_uint_eq(i, w->len);
    size_t help_lines = 0;
    for (const char *s = help; *s; s++)
        help_lines += *s == '\n';
    ck_assert_uint_eq(frames, help_lines + 2); /* + You are, You joined */
    free(help);
}
END_TEST

START_TEST(long_lines_get_the_16_bit_length)
{
    h_join_abc(1);
    h_peer *w = ws_peer("webby");
    char *text = h_repeat('z', 300);
    char line[320];
    snprintf(line, sizeof line, "%s\n", text);
    h_send(alice, line);
    snprintf(line, sizeof line, "alice: %s", text);
    const char *const want[] = {line};
    expect_frames(w, want, 1);
    free(text);
}
END_TEST

START_TEST(a_frame_is_built_once_per_line)
{
    h_join_abc(3);
    h_peer *w1 = ws_peer("web1");
    h_peer *w2 = ws_peer("web2");
    h_hold(w1, 1);
    h_hold(w2, 1);
    h_hold(bob, 1);
    h_hold(carol, 1);
    h_send(alice, "once\n");
    ck_assert_ptr_eq(h_first_piece(w1), h_first_piece(w2));
    ck_assert_ptr_eq(h_first_piece(bob), h_first_piece(carol));
    ck_assert_ptr_ne(h_first_piece(w1), h_first_piece(bob));
}
END_TEST

START_TEST(raw_bytes_join_the_outbox_in_order)
{
    h_join_abc(1);
    h_peer *w = ws_peer("webby");
    static const char pong[] = "\x8a\x02hi";
    h_hold(w, 1);
    h_send(alice, "before\n");
    ck_assert_int_eq(chat_peer_send_raw(h->b, w->p, pong, 4, h->now), CHAT_OK);
    h_send(alice, "after\n");
    h_hold(w, 0);
    h_drain(w);
    char want[64];
    size_t n = frame(want, "alice: before");
    memcpy(want + n, pong, 4);
    n += 4;
    n += frame(want + n, "alice: after");
    expect_out(w, want, n);
    ck_assert_int_eq(chat_peer_send_raw(h->b, w->p, pong, 0, h->now),
                     CHAT_ERR_INVALID);
}
END_TEST

START_TEST(raw_bytes_are_bounded_like_replies)
{
    h_opt(h, CHAT_OPT_HIGH_WATER, 1024);
    h_peer *w = ws_peer("webby");
    char ping[127] = {(char)0x8a, 125};
    h_hold(w, 1);
    int rc = CHAT_OK;
    for (int i = 0; i < 1000 && rc == CHAT_OK; i++)
        rc = chat_peer_send_raw(h->b, w->p, ping, sizeof ping, h->now);
    ck_assert_int_eq(h_reason(w), CHAT_CLOSE_SLOW);
    ck_assert_int_eq(rc, CHAT_ERR_STATE);
    ck_assert_uint_eq(h_pending(w), 0);
}
END_TEST

START_TEST(an_unknown_framing_is_refused)
{
    chat_peer_options o = CHAT_PEER_OPTIONS_INIT;
    chat_peer *p = NULL;
    o.framing = (chat_framing)7;
    ck_assert_int_eq(chat_broker_join_opts(h->b, NULL, &o, h->now, &p),
                     CHAT_ERR_INVALID);
}
END_TEST

static Suite *wsframes_suite(void)
{
    Suite *s = suite_create("wsframes");
    TCase *tc = h_tcase(s, "wsframes", h_setup);

    tcase_add_test(tc, each_line_is_one_text_frame);
    tcase_add_test(tc, the_greeting_is_a_frame_per_line);
    tcase_add_test(tc, long_lines_get_the_16_bit_length);
    tcase_add_test(tc, a_frame_is_built_once_per_line);
    tcase_add_test(tc, raw_bytes_join_the_outbox_in_order);
    tcase_add_test(tc, raw_bytes_are_bounded_like_replies);
    tcase_add_test(tc, an_unknown_framing_is_refused);
    return s;
}

int main(void) { return h_run_suite(wsframes_suite()); }
