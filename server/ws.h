/*
 * chatd - WebSocket (RFC 6455) frames: a decoder for what clients send and
 * encoders for the server's control frames. Sans-I/O and allocation-free,
 * like lib/: bytes in, events out, no sockets, no clock.
 *
 * Why not wslay (Debian libwslay-dev, by nghttp2's author)? Its event API
 * keeps its own queue of outgoing frames and writes them through a send
 * callback. chatd's rule is that the broker's outbox is the only output
 * queue: a peer's backlog, its high-water mark, the slow-consumer rule and
 * the write timeout are exact only if every byte for that peer waits in
 * one place. Chat lines are already framed by libchat
 * (CHAT_FRAMING_WEBSOCKET: one unmasked text frame per line, built once
 * and shared by every WebSocket recipient), and the front-end's own frames
 * (pong, close) go through chat_peer_send_raw() into the same outbox. What
 * is left is decoding client frames and two encoders, small enough to own
 * and to fuzz (tests/fuzz/fuzz_ws.c).
 *
 * Decoding. The caller hands chatd_ws_feed() each buffer it read, in order.
 * The buffer must be writable: masked payload is unmasked in place, so
 * text reaches the broker with no copy. Events are delivered through a
 * callback, in stream order:
 *
 *   TEXT   a piece of a text message, in data/len (pointing into the
 *          caller's buffer, unmasked, valid UTF-8 so far); fin is 1 on the
 *          message's last piece. Pass each to
 *          chat_peer_feed_line(b, p, data, len, !fin, now): pieces are cut
 *          wherever frames and reads end, so the caller never buffers a
 *          message (the broker keeps at most 400 bytes of one). A piece
 *          may be empty only when fin is 1 (an empty final frame).
 *   PING   a whole ping; data/len (0..125 bytes) is the payload, held in
 *          the decoder: answer with chatd_ws_pong(out, data, len).
 *   PONG   a whole pong (unsolicited ones are allowed): ignore it, or use
 *          it as a sign of life.
 *   CLOSE  the client's close frame, validated: code is its status code
 *          (0 if it sent none), data/len its UTF-8 reason. Echo it with
 *          chatd_ws_close(out, code, NULL, 0) (code 0 echoes an empty
 *          close) and close the connection once that is written.
 *   FAIL   the stream broke a rule: code is the close code to send
 *          (1002 protocol error, 1003 binary data, 1007 invalid UTF-8,
 *          1009 message too big), data/len a short static reason for logs
 *          and for the close frame: chatd_ws_close(out, code, data, len),
 *          then close. A message in progress is abandoned (its earlier
 *          pieces are not a line: feed no more, and chat_peer_eof() or
 *          chat_peer_release() drops them). When the text itself fails
 *          (1007, 1009), its valid start in this read comes first as a
 *          TEXT piece with fin 0, so that how the stream was cut into
 *          reads never changes the events.
 *
 * After CLOSE or FAIL the decoder is finished: chatd_ws_feed() returns how
 * many bytes it used up to the end of that frame (or the offending byte)
 * and later calls deliver nothing. Control frames (ping, pong, close) may
 * arrive between the fragments of a text message, as the RFC allows.
 *
 * Event data pointing into the buffer is valid until the caller reuses
 * the buffer; data held in the decoder (PING, PONG, CLOSE) until the next
 * chatd_ws_feed().
 */
#ifndef CHATD_WS_H
#define CHATD_WS_H

#include <stddef.h>
#include <stdint.h>

/* The longest payload of a control frame (RFC 6455 section 5.5). */
#define CHATD_WS_CONTROL_MAX 125

/* The most bytes chatd_ws_pong() and chatd_ws_close() write: a 2-byte
 * header and a full control payload. */
#define CHATD_WS_CONTROL_FRAME_MAX (2 + CHATD_WS_CONTROL_MAX)

/* Close codes the decoder fails with (RFC 6455 section 7.4.1). */
#define CHATD_WS_NORMAL 1000
#define CHATD_WS_PROTOCOL_ERROR 1002
#define CHATD_WS_UNSUPPORTED_DATA 1003
#define CHATD_WS_INVALID_DATA 1007
#define CHATD_WS_TOO_BIG 1009

enum chatd_ws_event_type {
    CHATD_WS_TEXT,
    CHATD_WS_PING,
    CHATD_WS_PONG,
    CHATD_WS_CLOSE,
    CHATD_WS_FAIL,
};

struct chatd_ws_event {
    enum chatd_ws_event_type type;
    int fin;           /* TEXT: 1 on the message's last piece */
    unsigned code;     /* CLOSE: its status (0: none); FAIL: code to send */
    const char *data;  /* see the event list above */
    size_t len;
};

/*
 * Called once per event. Return 0 to go on; anything else stops
 * chatd_ws_feed() right after this event (it returns the bytes used so
 * far, and a later call resumes with the rest), for a caller whose peer
 * went away mid-buffer.
 */
typedef int (*chatd_ws_callback)(void *ctx, const struct chatd_ws_event *ev);

/* An incremental UTF-8 validator's state (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF). Private. */
struct chatd_ws_utf8 {
    unsigned char need;     /* continuation bytes still expected */
    unsigned char lo, hi;   /* the range of the next one */
};

/*
 * The decoder: embed it in the connection (no allocation) and set it up
 * with chatd_ws_init(). Its fields are private.
 */
struct chatd_ws_decoder {
    unsigned char head[14];  /* the frame header read so far */
    unsigned head_len;
    unsigned state;          /* where in a frame the stream is */
    unsigned opcode;         /* the current frame's */
    int fin;                 /* the current frame's FIN bit */
    int in_message;          /* a fragmented text message is open */
    uint64_t remaining;      /* payload bytes of this frame still to come */
    unsigned char mask[4];
    unsigned mask_pos;       /* payload offset modulo 4 */
    struct chatd_ws_utf8 utf8; /* the current text message's */
    uint64_t message_bytes;  /* text of the current message so far */
    uint64_t max_message;    /* 0: no limit */
    unsigned char control[CHATD_WS_CONTROL_MAX];
    unsigned control_len;
};

/*
 * Start decoding a new connection's stream. max_message 0 lets messages
 * be any length (the broker bounds what it keeps of a line); otherwise a
 * text message longer than max_message bytes fails the stream with 1009.
 */
void chatd_ws_init(struct chatd_ws_decoder *d, uint64_t max_message);

/*
 * Decode len bytes at buf (unmasking them in place), calling cb for each
 * event. Returns the bytes used: len, unless a CLOSE or FAIL ended the
 * stream (used ends with the close frame, or with the byte that broke a
 * rule; what follows is not decoded, though payload bytes of the same
 * read may have been unmasked) or cb asked to stop.
 */
size_t chatd_ws_feed(struct chatd_ws_decoder *d, unsigned char *buf,
                     size_t len, chatd_ws_callback cb, void *ctx);

/* Non-zero once a CLOSE or FAIL was delivered. */
int chatd_ws_finished(const struct chatd_ws_decoder *d);

/* Bytes of text the current message has delivered so far (0 between
 * messages): for a caller that caps messages its own way. */
uint64_t chatd_ws_message_bytes(const struct chatd_ws_decoder *d);

/*
 * Write a pong frame echoing a ping's payload (len <= 125; longer is cut
 * to 125) into out, which holds CHATD_WS_CONTROL_FRAME_MAX bytes. Returns
 * the frame's length.
 */
size_t chatd_ws_pong(unsigned char *out, const void *payload, size_t len);

/*
 * Write a close frame into out (CHATD_WS_CONTROL_FRAME_MAX bytes): code 0
 * gives an empty payload (echoing a close that had none); otherwise the
 * code, then reason (cut to fit 123 bytes, at a UTF-8 boundary). Returns
 * the frame's length.
 */
size_t chatd_ws_close(unsigned char *out, unsigned code, const char *reason,
                      size_t reason_len);

/* Non-zero if a peer may send code in a close frame (1000-1003,
 * 1007-1014, 3000-4999). */
int chatd_ws_close_code_valid(unsigned code);

#endif /* CHATD_WS_H */
