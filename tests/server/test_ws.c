/*
 * server/ws.c, the WebSocket decoder and encoders, with no sockets.
 *
 * Autobahn|Testsuite cannot be installed here, so its categories 1-7 are
 * written out as tests named after its case numbers (ab_1_1_1_...): the
 * stream each case sends, decoded whole, byte by byte, in reads of 2, 3,
 * 7 and 997 bytes and split in two at every position, must give the same
 * events every time (ws_harness.c), and the ones the RFC asks for. What
 * Autobahn checks on the wire (the echo, the close handshake) is chatd's
 * job; here each case checks the events chatd acts on: a text message, a
 * ping to answer, a close to echo, or a failure with its close code.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_harness.h"

static char big[200 * 1024]; /* '*' bytes, for long payloads */

static void setup(void)
{
    st_reset();
    memset(big, '*', sizeof big);
}

/* ---- 1 Framing ------------------------------------------------------------ */

static void text_of_length(size_t n)
{
    st_put(FIN | OP_TEXT, big, n);
    EXPECT(W_TEXTN(big, n));
}

START_TEST(ab_1_1_1_text_length_0) { text_of_length(0); }
END_TEST
START_TEST(ab_1_1_2_text_length_125) { text_of_length(125); }
END_TEST
START_TEST(ab_1_1_3_text_length_126) { text_of_length(126); }
END_TEST
START_TEST(ab_1_1_4_text_length_127) { text_of_length(127); }
END_TEST
START_TEST(ab_1_1_5_text_length_128) { text_of_length(128); }
END_TEST
START_TEST(ab_1_1_6_text_length_65535) { text_of_length(65535); }
END_TEST
START_TEST(ab_1_1_7_text_length_65536) { text_of_length(65536); }
END_TEST

/* 1.1.8: 65536 bytes in chops of 997; the harness reads 997 at a time
 * among others, and here the reads' pieces are counted too. */
START_TEST(ab_1_1_8_text_65536_in_chops_of_997)
{
    st_put(FIN | OP_TEXT, big, 65536);
    struct ws_log lg;
    log_init(&lg);
    decode_chunks(st.buf, st.len, 997, 0, &lg);
    ck_assert_uint_eq(lg.n, 1);
    ck_assert_uint_eq(lg.ev[0].len, 65536);
    ck_assert_uint_eq(lg.pieces, (st.len + 996) / 997);
    log_free(&lg);
    st_reset();
    text_of_length(65536);
}
END_TEST

/* 1.2.x: binary messages of every length fail with 1003: chat is text. */
static const size_t binary_lengths[] = {0, 125, 126, 127, 128, 65535, 65536};

START_TEST(ab_1_2_1_to_1_2_8_binary_is_refused_1003)
{
    st_put(FIN | OP_BINARY, big, binary_lengths[_i]);
    EXPECT(W_FAIL(CHATD_WS_UNSUPPORTED_DATA));
}
END_TEST

/* ---- 2 Pings and pongs ---------------------------------------------------- */

START_TEST(ab_2_1_ping_empty)
{
    st_put(FIN | OP_PING, "", 0);
    EXPECT(W_PING(""));
}
END_TEST

START_TEST(ab_2_2_ping_text_payload)
{
    st_put_str(FIN | OP_PING, "Hello, world!");
    EXPECT(W_PING("Hello, world!"));
}
END_TEST

START_TEST(ab_2_3_ping_binary_payload)
{
    static const char p[] = "\x00\xff\xfe\xfd\xfc\xfb\x00\xff";
    st_put(FIN | OP_PING, p, sizeof p - 1);
    EXPECT(W_PING("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"));
}
END_TEST

START_TEST(ab_2_4_ping_125_bytes)
{
    st_put(FIN | OP_PING, big, 125);
    EXPECT(W_PINGN(big, 125));
}
END_TEST

START_TEST(ab_2_5_ping_126_bytes_fails)
{
    st_put(FIN | OP_PING, big, 126);
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

START_TEST(ab_2_6_ping_125_bytes_in_chops_of_1)
{
    st_put(FIN | OP_PING, big, 125);
    struct ws_log lg;
    log_init(&lg);
    decode_chunks(st.buf, st.len, 1, 0, &lg);
    ck_assert_uint_eq(lg.n, 1);
    ck_assert_uint_eq(lg.ev[0].type, CHATD_WS_PING);
    ck_assert_uint_eq(lg.ev[0].len, 125);
    log_free(&lg);
}
END_TEST

START_TEST(ab_2_7_unsolicited_pong_empty)
{
    st_put(FIN | OP_PONG, "", 0);
    EXPECT(W_PONG(""));
}
END_TEST

START_TEST(ab_2_8_unsolicited_pong_with_payload)
{
    st_put_str(FIN | OP_PONG, "unsolicited pong payload");
    EXPECT(W_PONG("unsolicited pong payload"));
}
END_TEST

START_TEST(ab_2_9_unsolicited_pong_then_ping)
{
    st_put_str(FIN | OP_PONG, "unsolicited pong payload");
    st_put_str(FIN | OP_PING, "ping payload");
    EXPECT(W_PONG("unsolicited pong payload"), W_PING("ping payload"));
}
END_TEST

static void ten_pings(void)
{
    for (int i = 0; i < 10; i++)
        st_put_str(FIN | OP_PING, "payload-0");
    EXPECT(W_PING("payload-0"), W_PING("payload-0"), W_PING("payload-0"),
           W_PING("payload-0"), W_PING("payload-0"), W_PING("payload-0"),
           W_PING("payload-0"), W_PING("payload-0"), W_PING("payload-0"),
           W_PING("payload-0"));
}

START_TEST(ab_2_10_ten_pings) { ten_pings(); }
END_TEST
/* 2.11 sends them in chops: the harness feeds every test in chops. */
START_TEST(ab_2_11_ten_pings_in_chops) { ten_pings(); }
END_TEST

/* ---- 3 Reserved bits ------------------------------------------------------ */

START_TEST(ab_3_1_text_rsv_1)
{
    st_put_str(FIN | RSV(1) | OP_TEXT, "Hello, world!");
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

/* 3.2-3.4: a good message, the bad frame, then a ping never decoded. */
static void rsv_after_text(unsigned rsv)
{
    st_put_str(FIN | OP_TEXT, "Hello, world!");
    st_put_str(FIN | RSV(rsv) | OP_TEXT, "Hello, world!");
    st_put(FIN | OP_PING, "", 0);
    EXPECT(W_TEXT("Hello, world!"), W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}

START_TEST(ab_3_2_text_rsv_2_after_text) { rsv_after_text(2); }
END_TEST
START_TEST(ab_3_3_text_rsv_3_after_text) { rsv_after_text(3); }
END_TEST
START_TEST(ab_3_4_text_rsv_4_in_chops) { rsv_after_text(4); }
END_TEST

/* Reserved bits fail before the opcode is looked at: 1002, not 1003. */
START_TEST(ab_3_5_binary_rsv_5)
{
    st_put(FIN | RSV(5) | OP_BINARY, "\x00\xff", 2);
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

START_TEST(ab_3_6_ping_rsv_6)
{
    st_put_str(FIN | RSV(6) | OP_PING, "Hello, world!");
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

START_TEST(ab_3_7_close_rsv_7)
{
    st_put(FIN | RSV(7) | OP_CLOSE, "\x03\xe8", 2);
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

/* ---- 4 Opcodes ------------------------------------------------------------ */

/* 4.1.x (3-7) and 4.2.x (11-15): alone, with a payload, or after a good
 * message and before a ping; all fail with 1002 and nothing after. */
static void unknown_opcode(unsigned op, int payload, int between)
{
    if (between)
        st_put_str(FIN | OP_TEXT, "Hello, world!");
    st_put_str(FIN | op, payload ? "reserved opcode payload" : "");
    if (between)
        st_put(FIN | OP_PING, "", 0);
    if (between)
        EXPECT(W_TEXT("Hello, world!"), W_FAIL(CHATD_WS_PROTOCOL_ERROR));
    else
        EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}

START_TEST(ab_4_1_1_opcode_3) { unknown_opcode(3, 0, 0); }
END_TEST
START_TEST(ab_4_1_2_opcode_4_with_payload) { unknown_opcode(4, 1, 0); }
END_TEST
START_TEST(ab_4_1_3_opcode_5_between) { unknown_opcode(5, 0, 1); }
END_TEST
START_TEST(ab_4_1_4_opcode_6_with_payload_between) { unknown_opcode(6, 1, 1); }
END_TEST
START_TEST(ab_4_1_5_opcode_7_with_payload_between) { unknown_opcode(7, 1, 1); }
END_TEST
START_TEST(ab_4_2_1_opcode_11) { unknown_opcode(11, 0, 0); }
END_TEST
START_TEST(ab_4_2_2_opcode_12_with_payload) { unknown_opcode(12, 1, 0); }
END_TEST
START_TEST(ab_4_2_3_opcode_13_between) { unknown_opcode(13, 0, 1); }
END_TEST
START_TEST(ab_4_2_4_opcode_14_with_payload_between) { unknown_opcode(14, 1, 1); }
END_TEST
START_TEST(ab_4_2_5_opcode_15_with_payload_between) { unknown_opcode(15, 1, 1); }
END_TEST

/* ---- 5 Fragmentation ------------------------------------------------------ */

START_TEST(ab_5_1_ping_in_2_fragments)
{
    st_put_str(OP_PING, "fragment1");
    st_put_str(FIN | OP_CONT, "fragment2");
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

START_TEST(ab_5_2_pong_in_2_fragments)
{
    st_put_str(OP_PONG, "fragment1");
    st_put_str(FIN | OP_CONT, "fragment2");
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

/* 5.3-5.5: one message in two frames, sent whole, chopped, frame-wise:
 * the harness feeds each of those ways. */
static void text_in_2_fragments(void)
{
    st_put_str(OP_TEXT, "fragment1");
    st_put_str(FIN | OP_CONT, "fragment2");
    EXPECT(W_TEXT("fragment1fragment2"));
}

START_TEST(ab_5_3_text_in_2_fragments) { text_in_2_fragments(); }
END_TEST
START_TEST(ab_5_4_text_in_2_fragments_chopped) { text_in_2_fragments(); }
END_TEST
START_TEST(ab_5_5_text_in_2_fragments_frame_wise) { text_in_2_fragments(); }
END_TEST

/* The pieces themselves are cut where frames end: fin only on the last. */
START_TEST(text_pieces_end_with_their_frames)
{
    st_put_str(OP_TEXT, "fragment1");
    st_put_str(FIN | OP_CONT, "fragment2");
    struct ws_log lg;
    log_init(&lg);
    decode_chunks(st.buf, st.len, 0, 0, &lg);
    ck_assert_uint_eq(lg.pieces, 2);
    log_free(&lg);
}
END_TEST

/* 5.6-5.8: a ping between the fragments is answered in the middle. */
static void ping_between_fragments(void)
{
    st_put_str(OP_TEXT, "fragment1");
    st_put_str(FIN | OP_PING, "pongme 2!");
    st_put_str(FIN | OP_CONT, "fragment2");
    EXPECT(W_PART("fragment1"), W_PING("pongme 2!"), W_TEXT("fragment2"));
}

START_TEST(ab_5_6_ping_between_fragments) { ping_between_fragments(); }
END_TEST
START_TEST(ab_5_7_ping_between_fragments_chopped) { ping_between_fragments(); }
END_TEST
START_TEST(ab_5_8_ping_between_fragments_frame_wise) { ping_between_fragments(); }
END_TEST

/* 5.9-5.14: a continuation with nothing to continue (FIN set or not),
 * then a message: the continuation fails the stream. */
static void continuation_first(unsigned fin)
{
    st_put_str(fin | OP_CONT, "non-continuation payload");
    st_put_str(FIN | OP_TEXT, "Hello, world!");
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}

START_TEST(ab_5_9_continuation_fin_nothing_to_continue) { continuation_first(FIN); }
END_TEST
START_TEST(ab_5_10_same_chopped) { continuation_first(FIN); }
END_TEST
START_TEST(ab_5_11_same_frame_wise) { continuation_first(FIN); }
END_TEST
START_TEST(ab_5_12_continuation_nothing_to_continue) { continuation_first(0); }
END_TEST
START_TEST(ab_5_13_same_chopped) { continuation_first(0); }
END_TEST
START_TEST(ab_5_14_same_frame_wise) { continuation_first(0); }
END_TEST

START_TEST(ab_5_15_continuation_after_a_finished_message)
{
    st_put_str(OP_TEXT, "fragment1");
    st_put_str(FIN | OP_CONT, "fragment2");
    st_put_str(OP_CONT, "fragment3");
    st_put_str(FIN | OP_TEXT, "fragment4");
    EXPECT(W_TEXT("fragment1fragment2"), W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

static void twice_continuation_then_message(unsigned fin)
{
    for (int i = 0; i < 2; i++) {
        st_put_str(fin | OP_CONT, "fragment1");
        st_put_str(OP_TEXT, "fragment2");
        st_put_str(FIN | OP_CONT, "fragment3");
    }
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}

START_TEST(ab_5_16_continuation_then_message_twice) { twice_continuation_then_message(0); }
END_TEST
START_TEST(ab_5_17_continuation_fin_then_message_twice) { twice_continuation_then_message(FIN); }
END_TEST

START_TEST(ab_5_18_two_text_opcodes_in_one_message)
{
    st_put_str(OP_TEXT, "fragment1");
    st_put_str(FIN | OP_TEXT, "fragment2");
    EXPECT(W_PART("fragment1"), W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

static void five_fragments_two_pings(void)
{
    st_put_str(OP_TEXT, "fragment1");
    st_put_str(OP_CONT, "fragment2");
    st_put_str(FIN | OP_PING, "pongme 1!");
    st_put_str(OP_CONT, "fragment3");
    st_put_str(OP_CONT, "fragment4");
    st_put_str(FIN | OP_PING, "pongme 2!");
    st_put_str(FIN | OP_CONT, "fragment5");
    EXPECT(W_PART("fragment1fragment2"), W_PING("pongme 1!"),
           W_PART("fragment3fragment4"), W_PING("pongme 2!"),
           W_TEXT("fragment5"));
}

START_TEST(ab_5_19_five_fragments_two_pings) { five_fragments_two_pings(); }
END_TEST
START_TEST(ab_5_20_five_fragments_two_pings_frame_wise) { five_fragments_two_pings(); }
END_TEST

/* A binary frame inside a text message is a new data frame: 1002. */
START_TEST(binary_inside_a_text_message_is_a_protocol_error)
{
    st_put_str(OP_TEXT, "fragment1");
    st_put(FIN | OP_BINARY, "\x01", 1);
    EXPECT(W_PART("fragment1"), W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

/* ---- 6 UTF-8 -------------------------------------------------------------- */

START_TEST(ab_6_1_1_empty_text)
{
    st_put(FIN | OP_TEXT, "", 0);
    EXPECT(W_TEXT(""));
}
END_TEST

START_TEST(ab_6_1_2_empty_fragments)
{
    st_put(OP_TEXT, "", 0);
    st_put(OP_CONT, "", 0);
    st_put(FIN | OP_CONT, "", 0);
    EXPECT(W_TEXT(""));
}
END_TEST

START_TEST(ab_6_1_3_empty_first_and_last_fragments)
{
    st_put(OP_TEXT, "", 0);
    st_put_str(OP_CONT, "middle frame payload");
    st_put(FIN | OP_CONT, "", 0);
    EXPECT(W_TEXT("middle frame payload"));
}
END_TEST

/*
 * One UTF-8 case, every way it can be cut: as one frame (the harness
 * tries every read split), as two frames split at every byte, and one
 * frame per byte. Valid text arrives whole; invalid text fails with 1007
 * after at most a part of the message, always the same part.
 */
static void utf8_case(const char *id, const void *bytes, size_t n, int valid)
{
    struct ws_log first, other;
    st_reset();
    st_put(FIN | OP_TEXT, bytes, n);
    if (valid) {
        EXPECT(W_TEXTN(bytes, n));
    } else {
        /* The same events however it is read: checked by expect_events
         * against what the whole stream gives. */
        log_init(&first);
        decode_chunks(st.buf, st.len, 0, 0, &first);
        const struct ws_ev *last = &first.ev[first.n - 1];
        ck_assert_msg(last->type == CHATD_WS_FAIL &&
                          last->code == CHATD_WS_INVALID_DATA,
                      "%s: no 1007", id);
        ck_assert_msg(first.n == 1 ||
                          (first.n == 2 && !first.ev[0].fin &&
                           first.ev[0].len <= n &&
                           memcmp(log_data(&first, 0), bytes,
                                  first.ev[0].len) == 0),
                      "%s: what came before the failure is not a prefix", id);
        if (first.n == 2)
            EXPECT(W_PARTN(bytes, first.ev[0].len), W_FAIL(CHATD_WS_INVALID_DATA));
        else
            EXPECT(W_FAIL(CHATD_WS_INVALID_DATA));
        log_free(&first);
    }
    log_init(&first);
    decode_chunks(st.buf, st.len, 0, 0, &first);
    /* Two frames, split at every byte (frame headers change the bytes
     * used, not the events). */
    for (size_t k = 0; k <= n; k++) {
        st_reset();
        st_put(OP_TEXT, bytes, k);
        st_put(FIN | OP_CONT, (const char *)bytes + k, n - k);
        log_init(&other);
        decode_chunks(st.buf, st.len, 0, 0, &other);
        other.used = first.used;
        if (!log_same(&first, &other))
            ck_abort_msg("%s: frames split at %zu", id, k);
        log_free(&other);
    }
    /* One frame per byte. */
    st_reset();
    for (size_t k = 0; k < n; k++)
        st_put((k + 1 == n ? FIN : 0) | (k ? OP_CONT : OP_TEXT),
               (const char *)bytes + k, 1);
    log_init(&other);
    decode_chunks(st.buf, st.len, 0, 0, &other);
    other.used = first.used;
    ck_assert_msg(n == 0 || log_same(&first, &other), "%s: octet frames", id);
    log_free(&other);
    log_free(&first);
}

#define UTF8_CASE(id, valid, s) {id, s, sizeof(s) - 1, valid}

struct utf8_case {
    const char *id;
    const char *bytes;
    size_t len;
    int valid;
};

static const struct utf8_case utf8_cases[] = {
    /* 6.2 valid UTF-8, 6.3 invalid, differently fragmented (above) */
    UTF8_CASE("6.2.1", 1, "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"),
    UTF8_CASE("6.2.4", 1, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
    UTF8_CASE("6.3.1", 0, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"),
    /* 6.5 some valid sequences */
    UTF8_CASE("6.5.1", 1, "hello\x24world"),
    UTF8_CASE("6.5.2", 1, "hello\xc2\xa2world"),
    UTF8_CASE("6.5.3", 1, "hello\xe2\x82\xacworld"),
    UTF8_CASE("6.5.4", 1, "hello\xf0\xa4\xad\xa2world"),
    UTF8_CASE("6.5.5", 1, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
    /* 6.7 first possible sequence of each length */
    UTF8_CASE("6.7.1", 1, "\x00"),
    UTF8_CASE("6.7.2", 1, "\xc2\x80"),
    UTF8_CASE("6.7.3", 1, "\xe0\xa0\x80"),
    UTF8_CASE("6.7.4", 1, "\xf0\x90\x80\x80"),
    /* 6.8 first sequences of 5 and 6 bytes (never valid) */
    UTF8_CASE("6.8.1", 0, "\xf8\x88\x80\x80\x80"),
    UTF8_CASE("6.8.2", 0, "\xfc\x84\x80\x80\x80\x80"),
    /* 6.9 last possible sequence of each length */
    UTF8_CASE("6.9.1", 1, "\x7f"),
    UTF8_CASE("6.9.2", 1, "\xdf\xbf"),
    UTF8_CASE("6.9.3", 1, "\xef\xbf\xbf"),
    UTF8_CASE("6.9.4", 1, "\xf4\x8f\xbf\xbf"),
    /* 6.10 last sequences of 4-6 bytes past U+10FFFF */
    UTF8_CASE("6.10.1", 0, "\xf7\xbf\xbf\xbf"),
    UTF8_CASE("6.10.2", 0, "\xfb\xbf\xbf\xbf\xbf"),
    UTF8_CASE("6.10.3", 0, "\xfd\xbf\xbf\xbf\xbf\xbf"),
    /* 6.11 other boundaries */
    UTF8_CASE("6.11.1", 1, "\xed\x9f\xbf"),
    UTF8_CASE("6.11.2", 1, "\xee\x80\x80"),
    UTF8_CASE("6.11.3", 1, "\xef\xbf\xbd"),
    UTF8_CASE("6.11.4", 1, "\xf4\x8f\xbf\xbf"),
    UTF8_CASE("6.11.5", 0, "\xf4\x90\x80\x80"),
    /* 6.12 unexpected continuation bytes (6.12.8 below) */
    UTF8_CASE("6.12.1", 0, "\x80"),
    UTF8_CASE("6.12.2", 0, "\xbf"),
    UTF8_CASE("6.12.3", 0, "\x80\xbf"),
    UTF8_CASE("6.12.4", 0, "\x80\xbf\x80"),
    UTF8_CASE("6.12.5", 0, "\x80\xbf\x80\xbf"),
    UTF8_CASE("6.12.6", 0, "\x80\xbf\x80\xbf\x80"),
    UTF8_CASE("6.12.7", 0, "\x80\xbf\x80\xbf\x80\xbf"),
    /* 6.14 sequences with the last continuation byte missing */
    UTF8_CASE("6.14.1", 0, "\xc0"),
    UTF8_CASE("6.14.2", 0, "\xe0\x80"),
    UTF8_CASE("6.14.3", 0, "\xf0\x80\x80"),
    UTF8_CASE("6.14.4", 0, "\xf8\x80\x80\x80"),
    UTF8_CASE("6.14.5", 0, "\xfc\x80\x80\x80\x80"),
    UTF8_CASE("6.14.6", 0, "\xdf"),
    UTF8_CASE("6.14.7", 0, "\xef\xbf"),
    UTF8_CASE("6.14.8", 0, "\xf7\xbf\xbf"),
    UTF8_CASE("6.14.9", 0, "\xfb\xbf\xbf\xbf"),
    UTF8_CASE("6.14.10", 0, "\xfd\xbf\xbf\xbf\xbf"),
    /* 6.15 their concatenation */
    UTF8_CASE("6.15.1", 0, "\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80"
                           "\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf"),
    /* 6.16 impossible bytes */
    UTF8_CASE("6.16.1", 0, "\xfe"),
    UTF8_CASE("6.16.2", 0, "\xff"),
    UTF8_CASE("6.16.3", 0, "\xfe\xfe\xff\xff"),
    /* 6.17 overlong ASCII '/' */
    UTF8_CASE("6.17.1", 0, "\xc0\xaf"),
    UTF8_CASE("6.17.2", 0, "\xe0\x80\xaf"),
    UTF8_CASE("6.17.3", 0, "\xf0\x80\x80\xaf"),
    UTF8_CASE("6.17.4", 0, "\xf8\x80\x80\x80\xaf"),
    UTF8_CASE("6.17.5", 0, "\xfc\x80\x80\x80\x80\xaf"),
    /* 6.18 maximum overlong sequences */
    UTF8_CASE("6.18.1", 0, "\xc1\xbf"),
    UTF8_CASE("6.18.2", 0, "\xe0\x9f\xbf"),
    UTF8_CASE("6.18.3", 0, "\xf0\x8f\xbf\xbf"),
    UTF8_CASE("6.18.4", 0, "\xf8\x87\xbf\xbf\xbf"),
    UTF8_CASE("6.18.5", 0, "\xfc\x83\xbf\xbf\xbf\xbf"),
    /* 6.19 overlong NUL */
    UTF8_CASE("6.19.1", 0, "\xc0\x80"),
    UTF8_CASE("6.19.2", 0, "\xe0\x80\x80"),
    UTF8_CASE("6.19.3", 0, "\xf0\x80\x80\x80"),
    UTF8_CASE("6.19.4", 0, "\xf8\x80\x80\x80\x80"),
    UTF8_CASE("6.19.5", 0, "\xfc\x80\x80\x80\x80\x80"),
    /* 6.20 single UTF-16 surrogates */
    UTF8_CASE("6.20.1", 0, "\xed\xa0\x80"),
    UTF8_CASE("6.20.2", 0, "\xed\xad\xbf"),
    UTF8_CASE("6.20.3", 0, "\xed\xae\x80"),
    UTF8_CASE("6.20.4", 0, "\xed\xaf\xbf"),
    UTF8_CASE("6.20.5", 0, "\xed\xb0\x80"),
    UTF8_CASE("6.20.6", 0, "\xed\xbe\x80"),
    UTF8_CASE("6.20.7", 0, "\xed\xbf\xbf"),
    /* 6.21 paired UTF-16 surrogates */
    UTF8_CASE("6.21.1", 0, "\xed\xa0\x80\xed\xb0\x80"),
    UTF8_CASE("6.21.2", 0, "\xed\xa0\x80\xed\xbf\xbf"),
    UTF8_CASE("6.21.3", 0, "\xed\xad\xbf\xed\xb0\x80"),
    UTF8_CASE("6.21.4", 0, "\xed\xad\xbf\xed\xbf\xbf"),
    UTF8_CASE("6.21.5", 0, "\xed\xae\x80\xed\xb0\x80"),
    UTF8_CASE("6.21.6", 0, "\xed\xae\x80\xed\xbf\xbf"),
    UTF8_CASE("6.21.7", 0, "\xed\xaf\xbf\xed\xb0\x80"),
    UTF8_CASE("6.21.8", 0, "\xed\xaf\xbf\xed\xbf\xbf"),
    /* 6.23 Unicode specials (valid; 6.22's noncharacters below) */
    UTF8_CASE("6.23.1", 1, "\xef\xbf\xb9"),
    UTF8_CASE("6.23.2", 1, "\xef\xbf\xba"),
    UTF8_CASE("6.23.3", 1, "\xef\xbf\xbb"),
    UTF8_CASE("6.23.4", 1, "\xef\xbf\xbc"),
    UTF8_CASE("6.23.5", 1, "\xef\xbf\xbd"),
    UTF8_CASE("6.23.6", 1, "\xef\xbf\xbe"),
    UTF8_CASE("6.23.7", 1, "\xef\xbf\xbf"),
};

#define N_UTF8_CASES (sizeof utf8_cases / sizeof utf8_cases[0])

START_TEST(ab_6_2_to_6_23_utf8_table)
{
    const struct utf8_case *c = &utf8_cases[_i];
    utf8_case(c->id, c->bytes, c->len, c->valid);
}
END_TEST

/* 6.2.2: the text of 6.2.1 in two frames split at code point boundaries
 * is one of utf8_case's splits; 6.2.3 is its one frame per byte. */

/* 6.6.x: every prefix of "κόσμε"; valid exactly when it ends between code
 * points (the prefix 1, 3... bytes long is cut inside one). */
START_TEST(ab_6_6_prefixes_of_kosme)
{
    static const char k[] = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
    static const int ends[] = {0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1};
    for (size_t n = 1; n <= 11; n++) {
        char id[16];
        snprintf(id, sizeof id, "6.6.%zu", n);
        utf8_case(id, k, n, ends[n]);
    }
}
END_TEST

/* 6.12.8: every continuation byte in a row (Autobahn sends 0x80..0xbe). */
START_TEST(ab_6_12_8_all_continuation_bytes)
{
    unsigned char s[64];
    for (int i = 0; i < 63; i++)
        s[i] = (unsigned char)(0x80 + i);
    utf8_case("6.12.8", s, 63, 0);
}
END_TEST

/* 6.13.x: each lead byte alone, followed by a space. */
START_TEST(ab_6_13_lonely_start_bytes)
{
    static const unsigned ranges[][2] = {
        {0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}};
    for (size_t r = 0; r < 5; r++) {
        unsigned char s[64];
        size_t n = 0;
        for (unsigned b = ranges[r][0]; b < ranges[r][1]; b++) {
            s[n++] = (unsigned char)b;
            s[n++] = ' ';
        }
        char id[16];
        snprintf(id, sizeof id, "6.13.%zu", r + 1);
        utf8_case(id, s, n, 0);
    }
}
END_TEST

/* 6.22.x: noncharacters are valid UTF-8 (RFC 3629 encodes them). */
START_TEST(ab_6_22_noncharacters_are_valid)
{
    static const unsigned char second[] = {0x8f, 0x9f, 0xaf, 0xbf};
    utf8_case("6.22.1", "\xef\xbf\xbe", 3, 1);
    utf8_case("6.22.2", "\xef\xbf\xbf", 3, 1);
    int j = 3;
    for (unsigned z1 = 0xf0; z1 <= 0xf4; z1++)
        for (size_t z2 = 0; z2 < 4; z2++)
            for (unsigned z3 = 0xbe; z3 <= 0xbf; z3++) {
                unsigned char s[4] = {(unsigned char)z1, second[z2], 0xbf,
                                      (unsigned char)z3};
                if ((z1 == 0xf4 && second[z2] != 0x8f) ||
                    (z1 == 0xf0 && second[z2] == 0x8f))
                    continue; /* past U+10FFFF, or overlong */
                char id[16];
                snprintf(id, sizeof id, "6.22.%d", j++);
                utf8_case(id, s, 4, 1);
            }
    ck_assert_int_eq(j - 1, 34);
}
END_TEST

/* Every code point, one per message, U+0000 to U+10FFFF: the surrogates
 * fail, everything else passes (a validator's exhaustive check). */
START_TEST(utf8_every_code_point)
{
    for (unsigned long c = 0; c <= 0x10FFFF; c += c < 0x3000 ? 1 : 61) {
        unsigned char s[4];
        size_t n;
        if (c < 0x80) {
            s[0] = (unsigned char)c, n = 1;
        } else if (c < 0x800) {
            s[0] = (unsigned char)(0xC0 | c >> 6), n = 2;
        } else if (c < 0x10000) {
            s[0] = (unsigned char)(0xE0 | c >> 12), n = 3;
        } else {
            s[0] = (unsigned char)(0xF0 | c >> 18), n = 4;
        }
        for (size_t i = 1; i < n; i++)
            s[i] = (unsigned char)(0x80 | ((c >> (6 * (n - 1 - i))) & 0x3F));
        st_reset();
        st_put(FIN | OP_TEXT, s, n);
        struct ws_log lg;
        log_init(&lg);
        decode_chunks(st.buf, st.len, 0, 0, &lg);
        int valid = c < 0xD800 || c > 0xDFFF;
        if ((lg.ev[lg.n - 1].type == CHATD_WS_TEXT) != valid)
            ck_abort_msg("U+%04lX", c);
        log_free(&lg);
    }
}
END_TEST

/*
 * 6.4.x: fail fast. The valid start is delivered, the stream fails on the
 * byte that cannot continue UTF-8 (the 0x90 after 0xf4: past U+10FFFF),
 * and what follows is never read: the bytes used stop right there.
 */
#define KOSME "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

START_TEST(ab_6_4_1_fail_fast_3_frames)
{
    st_put_str(OP_TEXT, KOSME);
    st_put_str(OP_CONT, "\xf4\x90\x80\x80");
    st_put_str(FIN | OP_CONT, "edited");
    const struct want w[] = {W_PART(KOSME "\xf4"),
                             W_FAIL(CHATD_WS_INVALID_DATA)};
    ck_assert_uint_eq(expect_events(w, 2), 6 + 11 + 6 + 2);
}
END_TEST

START_TEST(ab_6_4_2_fail_fast_on_a_1_byte_frame)
{
    st_put_str(OP_TEXT, KOSME "\xf4");
    st_put_str(OP_CONT, "\x90");
    st_put_str(FIN | OP_CONT, "\x80\x80" "edited");
    const struct want w[] = {W_PART(KOSME "\xf4"),
                             W_FAIL(CHATD_WS_INVALID_DATA)};
    ck_assert_uint_eq(expect_events(w, 2), 6 + 12 + 6 + 1);
}
END_TEST

/* 6.4.3 and 6.4.4 send one frame in three chops; every split is fed. */
static void fail_fast_one_frame(void)
{
    st_put_str(FIN | OP_TEXT, KOSME "\xf4\x90\x80\x80" "edited");
    const struct want w[] = {W_PART(KOSME "\xf4"),
                             W_FAIL(CHATD_WS_INVALID_DATA)};
    ck_assert_uint_eq(expect_events(w, 2), 6 + 13);
}

START_TEST(ab_6_4_3_fail_fast_chops) { fail_fast_one_frame(); }
END_TEST
START_TEST(ab_6_4_4_fail_fast_chops_at_the_byte) { fail_fast_one_frame(); }
END_TEST

/* A code point split across a ping between fragments is still one. */
START_TEST(utf8_code_point_across_a_ping)
{
    st_put_str(OP_TEXT, "\xe2\x82");
    st_put_str(FIN | OP_PING, "p");
    st_put_str(FIN | OP_CONT, "\xac!");
    EXPECT(W_PART("\xe2\x82"), W_PING("p"), W_TEXT("\xac!"));
}
END_TEST

/* The validator starts over with each message. */
START_TEST(utf8_state_ends_with_the_message)
{
    st_put_str(FIN | OP_TEXT, "\xe2\x82\xac");
    st_put_str(FIN | OP_TEXT, "\x82\xac");
    EXPECT(W_TEXT("\xe2\x82\xac"), W_FAIL(CHATD_WS_INVALID_DATA));
}
END_TEST

/* ---- 7 Close handling ------------------------------------------------------ */

START_TEST(ab_7_1_1_text_then_close)
{
    st_put_str(FIN | OP_TEXT, "Hello World!");
    st_put(FIN | OP_CLOSE, "\x03\xe8", 2);
    EXPECT(W_TEXT("Hello World!"), W_CLOSE(1000, ""));
}
END_TEST

/* 7.1.2-7.1.4: after a close, nothing is decoded: the bytes used end
 * with the close frame. */
static void after_close(unsigned b0, const char *payload)
{
    st_put(FIN | OP_CLOSE, "\x03\xe8", 2);
    size_t end = st.len;
    st_put_str(b0, payload);
    const struct want w[] = {W_CLOSE(1000, "")};
    ck_assert_uint_eq(expect_events(w, 1), end);
}

START_TEST(ab_7_1_2_close_twice) { after_close(FIN | OP_CLOSE, "\x03\xe8"); }
END_TEST
START_TEST(ab_7_1_3_ping_after_close) { after_close(FIN | OP_PING, "Hello World!"); }
END_TEST
START_TEST(ab_7_1_4_text_after_close) { after_close(FIN | OP_TEXT, "Hello World!"); }
END_TEST

/* 7.1.5: a close between fragments ends the stream; the message is
 * abandoned. */
START_TEST(ab_7_1_5_close_between_fragments)
{
    st_put_str(OP_TEXT, "fragment1");
    st_put(FIN | OP_CLOSE, "\x03\xe8", 2);
    st_put_str(FIN | OP_CONT, "fragment2");
    EXPECT(W_PART("fragment1"), W_CLOSE(1000, ""));
}
END_TEST

START_TEST(ab_7_1_6_big_message_then_close)
{
    st_put(FIN | OP_TEXT, big, 131072);
    st_put(FIN | OP_CLOSE, "\x03\xe8", 2);
    st_put_str(FIN | OP_PING, "Hello World!");
    EXPECT(W_TEXTN(big, 131072), W_CLOSE(1000, ""));
}
END_TEST

START_TEST(ab_7_3_1_close_empty)
{
    st_put(FIN | OP_CLOSE, "", 0);
    EXPECT(W_CLOSE(0, ""));
}
END_TEST

START_TEST(ab_7_3_2_close_of_1_byte)
{
    st_put(FIN | OP_CLOSE, "\x03", 1);
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

START_TEST(ab_7_3_3_close_with_code)
{
    st_put(FIN | OP_CLOSE, "\x03\xe8", 2);
    EXPECT(W_CLOSE(1000, ""));
}
END_TEST

START_TEST(ab_7_3_4_close_with_code_and_reason)
{
    st_put(FIN | OP_CLOSE, "\x03\xe8Hello World!", 14);
    EXPECT(W_CLOSE(1000, "Hello World!"));
}
END_TEST

START_TEST(ab_7_3_5_close_with_123_byte_reason)
{
    char p[125] = "\x03\xe8";
    memset(p + 2, '*', 123);
    st_put(FIN | OP_CLOSE, p, 125);
    EXPECT(W_CLOSEN(1000, big, 123));
}
END_TEST

START_TEST(ab_7_3_6_close_with_124_byte_reason)
{
    char p[126] = "\x03\xe8";
    memset(p + 2, '*', 124);
    st_put(FIN | OP_CLOSE, p, 126);
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

START_TEST(ab_7_5_1_close_reason_not_utf8)
{
    static const char p[] = "\x03\xe8" KOSME "\xed\xa0\x80" "edited";
    st_put(FIN | OP_CLOSE, p, sizeof p - 1);
    EXPECT(W_FAIL(CHATD_WS_INVALID_DATA));
}
END_TEST

/* A reason cut inside a code point is not UTF-8 either. */
START_TEST(close_reason_truncated_utf8)
{
    st_put(FIN | OP_CLOSE, "\x03\xe8" "ab\xe2\x82", 6);
    EXPECT(W_FAIL(CHATD_WS_INVALID_DATA));
}
END_TEST

/* 7.7.x (and the codes IANA registered since: 1012-1014): echoed. */
static const unsigned valid_codes[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                       1009, 1010, 1011, 3000, 3999, 4000,
                                       4999, 1012, 1013, 1014};

START_TEST(ab_7_7_1_to_7_7_13_valid_close_codes)
{
    unsigned code = valid_codes[_i];
    unsigned char p[2] = {(unsigned char)(code >> 8), (unsigned char)code};
    st_put(FIN | OP_CLOSE, p, 2);
    EXPECT(W_CLOSE(code, ""));
}
END_TEST

/* 7.9.x, 7.13.x (5000, 65535) and the rest of RFC 6455 7.4's reserved
 * ranges: 1015 (TLS failure, never sent), 1016-2999. */
static const unsigned invalid_codes[] = {0,    999,  1004, 1005, 1006,
                                         1016, 1100, 2000, 2999, 1015,
                                         5000, 65535};

START_TEST(ab_7_9_1_to_7_9_9_and_7_13_invalid_close_codes)
{
    unsigned code = invalid_codes[_i];
    unsigned char p[2] = {(unsigned char)(code >> 8), (unsigned char)code};
    st_put(FIN | OP_CLOSE, p, 2);
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

START_TEST(close_code_ranges)
{
    unsigned n = 0;
    for (unsigned c = 0; c < 70000; c++)
        n += (unsigned)chatd_ws_close_code_valid(c);
    ck_assert_uint_eq(n, 4 + 8 + 2000);
}
END_TEST

/* ---- framing rules Autobahn does not name ------------------------------- */

START_TEST(unmasked_client_frames_fail)
{
    st_put_unmasked(FIN | OP_TEXT, "hello", 5);
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
    st_reset();
    st_put_unmasked(FIN | OP_PING, "", 0);
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
}
END_TEST

/* The top bit of a 64-bit length must be 0 (RFC 6455 5.2); the failure
 * comes once the length is in, without waiting for a payload. */
START_TEST(length_with_the_top_bit_fails)
{
    st_put_len64(FIN | OP_TEXT, 0x8000000000000000ull);
    EXPECT(W_FAIL(CHATD_WS_PROTOCOL_ERROR));
    st_reset();
    st_put_len64(FIN | OP_TEXT, 0x7fffffffffffffffull);
    EXPECT_NOTHING(); /* a legal, very long message: waiting for it */
}
END_TEST

/* A frame header split anywhere: covered by every test's splits; here the
 * 16- and 64-bit lengths carry a short payload (not minimal: accepted). */
START_TEST(non_minimal_lengths_are_accepted)
{
    static const unsigned char s[] = {0x81, 0xfe, 0x00, 0x02, 0, 0, 0, 0, 'h',
                                      'i',  0x81, 0xff, 0,    0, 0, 0, 0, 0,
                                      0,    2,    0,    0,    0, 0, 'y', 'o'};
    memcpy(st.buf, s, sizeof s);
    st.len = sizeof s;
    EXPECT(W_TEXT("hi"), W_TEXT("yo"));
}
END_TEST

/* A ping's payload is held by the decoder until the ping is whole: the
 * buffers its bytes came in may be reused by then. */
static int ping_is_held(void *ctx, const struct chatd_ws_event *ev)
{
    int *ok = ctx;
    *ok = ev->type == CHATD_WS_PING && ev->len == 4 &&
          memcmp(ev->data, "held", 4) == 0;
    return 0;
}

START_TEST(control_payload_is_held_by_the_decoder)
{
    struct chatd_ws_decoder d;
    int ok = 0;
    st_put_str(FIN | OP_PING, "held");
    chatd_ws_init(&d, 0);
    ck_assert_uint_eq(chatd_ws_feed(&d, st.buf, st.len - 1, ping_is_held, &ok),
                      st.len - 1);
    memset(st.buf, 0xee, st.len - 1);
    ck_assert_uint_eq(chatd_ws_feed(&d, st.buf + st.len - 1, 1, ping_is_held, &ok), 1);
    ck_assert(ok);
}
END_TEST

/* max_message: a message longer fails with 1009 after exactly that many
 * bytes, however it was cut; the counter shows the message so far. */
static void decode_capped(unsigned long long cap, struct ws_log *lg)
{
    log_init(lg);
    decode_chunks(st.buf, st.len, 0, cap, lg);
    for (size_t chunk = 1; chunk <= 5; chunk += 4) {
        struct ws_log other;
        log_init(&other);
        decode_chunks(st.buf, st.len, chunk, cap, &other);
        ck_assert(log_same(lg, &other));
        log_free(&other);
    }
}

START_TEST(message_cap_fails_with_1009)
{
    struct ws_log lg;
    st_put_str(OP_TEXT, "0123");
    st_put_str(FIN | OP_CONT, "456789");
    decode_capped(10, &lg);
    ck_assert_uint_eq(lg.n, 1);
    ck_assert_uint_eq(lg.ev[0].len, 10);
    log_free(&lg);
    decode_capped(7, &lg);
    ck_assert_uint_eq(lg.n, 2);
    ck_assert_uint_eq(lg.ev[0].len, 7);
    ck_assert(!lg.ev[0].fin);
    ck_assert_uint_eq(lg.ev[1].code, CHATD_WS_TOO_BIG);
    log_free(&lg);
}
END_TEST

/* Whichever of the cap and bad UTF-8 comes first decides the code. */
START_TEST(message_cap_and_utf8_weigh_the_same_byte)
{
    struct ws_log lg;
    st_put_str(FIN | OP_TEXT, "abc\xff" "def");
    decode_capped(3, &lg);
    ck_assert_uint_eq(lg.ev[lg.n - 1].code, CHATD_WS_TOO_BIG);
    log_free(&lg);
    decode_capped(4, &lg);
    ck_assert_uint_eq(lg.ev[lg.n - 1].code, CHATD_WS_INVALID_DATA);
    log_free(&lg);
}
END_TEST

struct counter {
    struct chatd_ws_decoder *d;
    unsigned long long seen[8];
    size_t n;
    int stop_after; /* stop after this many events (0: never) */
};

static int count_bytes(void *ctx, const struct chatd_ws_event *ev)
{
    struct counter *c = ctx;
    (void)ev;
    if (c->n < 8)
        c->seen[c->n] = chatd_ws_message_bytes(c->d);
    c->n++;
    return c->stop_after && (int)c->n >= c->stop_after;
}

START_TEST(message_bytes_counts_the_message_so_far)
{
    struct chatd_ws_decoder d;
    struct counter c = {&d, {0}, 0, 0};
    st_put_str(OP_TEXT, "abc");
    st_put_str(FIN | OP_PING, "");
    st_put_str(FIN | OP_CONT, "de");
    st_put_str(FIN | OP_TEXT, "f");
    chatd_ws_init(&d, 0);
    ck_assert_uint_eq(chatd_ws_feed(&d, st.buf, st.len, count_bytes, &c), st.len);
    ck_assert_uint_eq(c.n, 4);
    ck_assert_uint_eq(c.seen[0], 3); /* "abc" */
    ck_assert_uint_eq(c.seen[1], 3); /* the ping, inside the message */
    ck_assert_uint_eq(c.seen[2], 0); /* the message ended */
    ck_assert_uint_eq(c.seen[3], 0);
    ck_assert(!chatd_ws_finished(&d));
}
END_TEST

/* A callback that asks to stop gets the rest on the next call. */
START_TEST(a_callback_can_stop_and_resume)
{
    struct chatd_ws_decoder d;
    struct counter c = {&d, {0}, 0, 1};
    st_put_str(FIN | OP_PING, "one");
    size_t first = st.len;
    st_put_str(FIN | OP_TEXT, "two");
    st_put_str(FIN | OP_PING, "three");
    chatd_ws_init(&d, 0);
    size_t used = chatd_ws_feed(&d, st.buf, st.len, count_bytes, &c);
    ck_assert_uint_eq(used, first);
    c.stop_after = 0;
    used += chatd_ws_feed(&d, st.buf + used, st.len - used, count_bytes, &c);
    ck_assert_uint_eq(used, st.len);
    ck_assert_uint_eq(c.n, 3);
}
END_TEST

/* ---- encoders --------------------------------------------------------------- */

START_TEST(pong_echoes_the_payload)
{
    unsigned char out[CHATD_WS_CONTROL_FRAME_MAX];
    ck_assert_uint_eq(chatd_ws_pong(out, "abc", 3), 5);
    ck_assert(memcmp(out, "\x8a\x03" "abc", 5) == 0);
    ck_assert_uint_eq(chatd_ws_pong(out, NULL, 0), 2);
    ck_assert(memcmp(out, "\x8a\x00", 2) == 0);
    ck_assert_uint_eq(chatd_ws_pong(out, big, 200), 127);
    ck_assert_uint_eq(out[1], 125);
}
END_TEST

START_TEST(close_frames)
{
    unsigned char out[CHATD_WS_CONTROL_FRAME_MAX];
    ck_assert_uint_eq(chatd_ws_close(out, 0, "ignored", 7), 2);
    ck_assert(memcmp(out, "\x88\x00", 2) == 0);
    ck_assert_uint_eq(chatd_ws_close(out, 1000, NULL, 0), 4);
    ck_assert(memcmp(out, "\x88\x02\x03\xe8", 4) == 0);
    ck_assert_uint_eq(chatd_ws_close(out, 1002, "bad", 3), 7);
    ck_assert(memcmp(out, "\x88\x05\x03\xea" "bad", 7) == 0);
}
END_TEST

/* A long reason is cut to 123 bytes, never inside a code point. */
START_TEST(close_reason_is_cut_at_a_code_point)
{
    unsigned char out[CHATD_WS_CONTROL_FRAME_MAX];
    char reason[200];
    memset(reason, 'a', 122);
    memcpy(reason + 122, "\xe2\x82\xac", 3); /* a euro sign over byte 123 */
    ck_assert_uint_eq(chatd_ws_close(out, 1000, reason, 125), 2 + 2 + 122);
    ck_assert_uint_eq(out[1], 124);
    memset(reason, 'a', 200);
    ck_assert_uint_eq(chatd_ws_close(out, 1000, reason, 200), 127);
}
END_TEST

/* What the encoders write, the decoder reads (masked, as a client would). */
START_TEST(encoded_close_round_trips)
{
    unsigned char out[CHATD_WS_CONTROL_FRAME_MAX];
    size_t n = chatd_ws_close(out, 1001, "going away", 10);
    st_put(out[0], out + 2, n - 2);
    EXPECT(W_CLOSE(1001, "going away"));
}
END_TEST

static Suite *ws_suite(void)
{
    Suite *s = suite_create("ws");
    TCase *tc = tcase_create("ws");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
#define T(name) tcase_add_test(tc, name)
    T(ab_1_1_1_text_length_0);
    T(ab_1_1_2_text_length_125);
    T(ab_1_1_3_text_length_126);
    T(ab_1_1_4_text_length_127);
    T(ab_1_1_5_text_length_128);
    T(ab_1_1_6_text_length_65535);
    T(ab_1_1_7_text_length_65536);
    T(ab_1_1_8_text_65536_in_chops_of_997);
    tcase_add_loop_test(tc, ab_1_2_1_to_1_2_8_binary_is_refused_1003, 0,
                        sizeof binary_lengths / sizeof binary_lengths[0]);
    T(ab_2_1_ping_empty);
    T(ab_2_2_ping_text_payload);
    T(ab_2_3_ping_binary_payload);
    T(ab_2_4_ping_125_bytes);
    T(ab_2_5_ping_126_bytes_fails);
    T(ab_2_6_ping_125_bytes_in_chops_of_1);
    T(ab_2_7_unsolicited_pong_empty);
    T(ab_2_8_unsolicited_pong_with_payload);
    T(ab_2_9_unsolicited_pong_then_ping);
    T(ab_2_10_ten_pings);
    T(ab_2_11_ten_pings_in_chops);
    T(ab_3_1_text_rsv_1);
    T(ab_3_2_text_rsv_2_after_text);
    T(ab_3_3_text_rsv_3_after_text);
    T(ab_3_4_text_rsv_4_in_chops);
    T(ab_3_5_binary_rsv_5);
    T(ab_3_6_ping_rsv_6);
    T(ab_3_7_close_rsv_7);
    T(ab_4_1_1_opcode_3);
    T(ab_4_1_2_opcode_4_with_payload);
    T(ab_4_1_3_opcode_5_between);
    T(ab_4_1_4_opcode_6_with_payload_between);
    T(ab_4_1_5_opcode_7_with_payload_between);
    T(ab_4_2_1_opcode_11);
    T(ab_4_2_2_opcode_12_with_payload);
    T(ab_4_2_3_opcode_13_between);
    T(ab_4_2_4_opcode_14_with_payload_between);
    T(ab_4_2_5_opcode_15_with_payload_between);
    T(ab_5_1_ping_in_2_fragments);
    T(ab_5_2_pong_in_2_fragments);
    T(ab_5_3_text_in_2_fragments);
    T(ab_5_4_text_in_2_fragments_chopped);
    T(ab_5_5_text_in_2_fragments_frame_wise);
    T(text_pieces_end_with_their_frames);
    T(ab_5_6_ping_between_fragments);
    T(ab_5_7_ping_between_fragments_chopped);
    T(ab_5_8_ping_between_fragments_frame_wise);
    T(ab_5_9_continuation_fin_nothing_to_continue);
    T(ab_5_10_same_chopped);
    T(ab_5_11_same_frame_wise);
    T(ab_5_12_continuation_nothing_to_continue);
    T(ab_5_13_same_chopped);
    T(ab_5_14_same_frame_wise);
    T(ab_5_15_continuation_after_a_finished_message);
    T(ab_5_16_continuation_then_message_twice);
    T(ab_5_17_continuation_fin_then_message_twice);
    T(ab_5_18_two_text_opcodes_in_one_message);
    T(ab_5_19_five_fragments_two_pings);
    T(ab_5_20_five_fragments_two_pings_frame_wise);
    T(binary_inside_a_text_message_is_a_protocol_error);
    T(ab_6_1_1_empty_text);
    T(ab_6_1_2_empty_fragments);
    T(ab_6_1_3_empty_first_and_last_fragments);
    tcase_add_loop_test(tc, ab_6_2_to_6_23_utf8_table, 0, N_UTF8_CASES);
    T(ab_6_4_1_fail_fast_3_frames);
    T(ab_6_4_2_fail_fast_on_a_1_byte_frame);
    T(ab_6_4_3_fail_fast_chops);
    T(ab_6_4_4_fail_fast_chops_at_the_byte);
    T(ab_6_6_prefixes_of_kosme);
    T(ab_6_12_8_all_continuation_bytes);
    T(ab_6_13_lonely_start_bytes);
    T(ab_6_22_noncharacters_are_valid);
    T(utf8_every_code_point);
    T(utf8_code_point_across_a_ping);
    T(utf8_state_ends_with_the_message);
    T(ab_7_1_1_text_then_close);
    T(ab_7_1_2_close_twice);
    T(ab_7_1_3_ping_after_close);
    T(ab_7_1_4_text_after_close);
    T(ab_7_1_5_close_between_fragments);
    T(ab_7_1_6_big_message_then_close);
    T(ab_7_3_1_close_empty);
    T(ab_7_3_2_close_of_1_byte);
    T(ab_7_3_3_close_with_code);
    T(ab_7_3_4_close_with_code_and_reason);
    T(ab_7_3_5_close_with_123_byte_reason);
    T(ab_7_3_6_close_with_124_byte_reason);
    T(ab_7_5_1_close_reason_not_utf8);
    T(close_reason_truncated_utf8);
    tcase_add_loop_test(tc, ab_7_7_1_to_7_7_13_valid_close_codes, 0,
                        sizeof valid_codes / sizeof valid_codes[0]);
    tcase_add_loop_test(tc, ab_7_9_1_to_7_9_9_and_7_13_invalid_close_codes, 0,
                        sizeof invalid_codes / sizeof invalid_codes[0]);
    T(close_code_ranges);
    T(unmasked_client_frames_fail);
    T(length_with_the_top_bit_fails);
    T(non_minimal_lengths_are_accepted);
    T(control_payload_is_held_by_the_decoder);
    T(message_cap_fails_with_1009);
    T(message_cap_and_utf8_weigh_the_same_byte);
    T(message_bytes_counts_the_message_so_far);
    T(a_callback_can_stop_and_resume);
    T(pong_echoes_the_payload);
    T(close_frames);
    T(close_reason_is_cut_at_a_code_point);
    T(encoded_close_round_trips);
#undef T
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(ws_suite()); }
