/*
 * chat-bench: load mode. Clients 0..S-1 send; client i is in room i % K,
 * so senders spread over the rooms like everyone else.
 *
 * Pacing. With --rate each sender sends on a schedule (open loop). Without
 * it, a closed loop: each sender keeps at most --window messages
 * unacknowledged. With --ack server a message is acknowledged when the
 * server answers it: chatd's echo (it relays chat to the whole room, the
 * sender included), redis's PUBLISH reply. Those answers are cumulative:
 * the server handles one client's lines in order, so the answer to message
 * q settles every earlier one. With --ack receivers a message is
 * acknowledged once every receiver in its room (the clients that do not
 * send) has it, and the window moves past it once every earlier one is
 * acknowledged too: at most S x W messages are then queued anywhere, in
 * the server or the kernel, so the rate found is what the server sustains
 * with a bounded backlog. That is the pacing that compares servers.
 *
 * Accounting. A message accepted by chatd is due once to every other
 * member of its room (a delivery) and once to its sender (an echo); one
 * accepted by redis once to every subscriber of its channel. The
 * deliveries to clients that do not send (receiver_deliveries) are the
 * count both targets share: chatd also delivers to the other senders in
 * the room, redis does not. chatd may drop lines for a slow reader and
 * says how many; its rate limit drops lines silently after one "too fast"
 * notice a second. So when a sender got such a notice, only its echoed
 * messages count as accepted, and messages that stay unacknowledged for
 * STALL_NS are settled as refused (else a window full of refused lines
 * would wait forever). lost = due - received - dropped, once every message
 * is accounted for or nothing has arrived for --drain-timeout.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bench.h"

#define STALL_NS 1000000000ull /* an excused sender's echoes are overdue */
#define PROGRESS_TICKS (1000 / TICK_MS)

static const char dropped_prefix[] = "Server is very busy and dropped ";
static const char dropped_suffix[] = " messages, sorry!";
static const char too_fast_line[] = "You are sending too fast, slow down";

/* Clients in room g (client i is in room i % K). */
static unsigned in_room(unsigned n, unsigned k, unsigned g)
{
    return g < n ? (n - g + k - 1) / k : 0;
}

static int redis(const struct bench *b)
{
    return b->opt.target == BENCH_TARGET_REDIS;
}

/* This sender's window moves with its receivers (a room with none falls
 * back to the server's answers). */
static int acked_by_receivers(const struct bench *b,
                              const struct bench_sender *s)
{
    return b->opt.ack == BENCH_ACK_RECEIVERS && s->receivers > 0;
}

static int init_sender(struct bench *b, unsigned j)
{
    unsigned n = b->opt.clients, k = b->opt.rooms, g = j % k;
    struct bench_sender *s = &b->senders[j];
    unsigned members = in_room(n, k, g);

    s->conn = &b->conns[j];
    s->index = j;
    s->receivers = members - in_room(b->opt.senders, k, g);
    s->due = redis(b) ? s->receivers : members - 1;
    b->conns[j].sender = s;
    if (acked_by_receivers(b, s) &&
        !(s->got = calloc(b->opt.window, sizeof *s->got)))
        return -1;
    return 0;
}

int bench_load_init(struct bench *b)
{
    unsigned n = b->opt.clients, k = b->opt.rooms, s = b->opt.senders;

    b->senders = calloc(s, sizeof *b->senders);
    if (!b->senders)
        return -1;
    for (unsigned j = 0; j < s; j++)
        if (init_sender(b, j) < 0)
            return -1;
    for (unsigned i = 0; i < n; i++) {
        unsigned from = in_room(s, k, i % k);

        if (from && !(b->conns[i].from = calloc(from, sizeof(struct bench_seq))))
            return -1;
    }
    return 0;
}

void bench_load_free(struct bench *b)
{
    for (unsigned j = 0; b->senders && j < b->opt.senders; j++)
        free(b->senders[j].got);
    free(b->senders);
    b->senders = NULL;
}

/* ---- sending ------------------------------------------------------------ */

static int more_to_send(const struct bench *b, const struct bench_sender *s)
{
    return b->phase == PHASE_SENDING &&
           (b->opt.messages == 0 || s->sent < b->opt.messages);
}

static void send_one(struct bench *b, struct bench_sender *s)
{
    struct bench_msg m;
    char *p = redis(b) ? bench_redis_publish(s->conn, b->opt.size)
                       : bench_send_reserve(s->conn, b->opt.size + 1);

    if (!p)
        return;
    m.sid = s->index;
    m.seq = ++s->sent;
    m.t_ns = bench_now_ns();
    bench_payload_write(p, b->opt.size, &m);
    if (redis(b)) /* RESP ends the text in CRLF; the LF is already there */
        p[b->opt.size] = '\r';
    b->n.sent++;
    if (b->opt.messages && s->sent == b->opt.messages &&
        ++b->senders_done == b->opt.senders)
        bench_load_stop_sending(b);
}

/* Window pacing: top up to --window unacknowledged messages. */
static void fill_window(struct bench *b, struct bench_sender *s)
{
    if (b->opt.rate > 0)
        return;
    while (more_to_send(b, s) && s->sent - s->acked < b->opt.window &&
           !b->fatal)
        send_one(b, s);
}

/* --rate pacing: send what is due by now. */
static void on_send_tick(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;
    uint64_t now = bench_now_ns();

    (void)fd;
    (void)what;
    b->now_ns = now;
    for (unsigned j = 0; j < b->opt.senders && !b->fatal; j++) {
        struct bench_sender *s = &b->senders[j];
        double due;

        if (now < s->start_ns)
            continue;
        due = 1.0 + (double)(now - s->start_ns) * b->opt.rate / 1e9;
        while (more_to_send(b, s) && (double)s->sent + 1 <= due && !b->fatal)
            send_one(b, s);
        bench_flush(s->conn);
    }
}

static void start_rate(struct bench *b)
{
    double gap_ns = 1e9 / b->opt.rate;
    double tick_ms = 500.0 / b->opt.rate; /* twice per message at least */
    struct timeval tv;

    if (tick_ms < 1)
        tick_ms = 1;
    if (tick_ms > 10)
        tick_ms = 10;
    tv.tv_sec = 0;
    tv.tv_usec = (suseconds_t)(tick_ms * 1000);
    /* Spread the senders' first messages over one gap, not all at once. */
    for (unsigned j = 0; j < b->opt.senders; j++)
        b->senders[j].start_ns =
            b->start_ns + (uint64_t)(gap_ns * j / b->opt.senders);
    b->send_ev = event_new(b->base, -1, EV_PERSIST, on_send_tick, b);
    if (!b->send_ev || event_add(b->send_ev, &tv) < 0) {
        bench_fatal(b, "out of memory");
        return;
    }
    on_send_tick(-1, 0, b);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench_load_stop_sending(arg);
}

/* --server-pid: the server's CPU time and memory, and the machine's busy
 * time, at the start of the sending phase. The memory is that of a server
 * holding every client, idle: the setup has settled. */
static void sample_server_start(struct bench *b)
{
    if (!b->opt.server_pid)
        return;
    if (bench_proc_read(b->opt.server_pid, &b->srv_cpu0, &b->srv_rss_idle) < 0)
        bench_fatal(b, "cannot read /proc/%ld: did the server exit?",
                    b->opt.server_pid);
    b->busy0 = bench_machine_busy_s();
}

/* The same at the end; a server that has gone leaves its figures out. */
static void sample_server_end(struct bench *b)
{
    long rss;

    b->busy1 = bench_machine_busy_s();
    if (b->opt.server_pid &&
        bench_proc_read(b->opt.server_pid, &b->srv_cpu1, &rss) < 0)
        b->srv_cpu1 = b->srv_cpu0;
}

void bench_load_start(struct bench *b)
{
    sample_server_start(b);
    b->phase = PHASE_SENDING;
    b->start_ns = b->last_progress_ns = b->now_ns = bench_now_ns();
    b->shown_ns = b->start_ns;
    bench_cpu(&b->cpu_user0, &b->cpu_sys0);
    for (unsigned j = 0; j < b->opt.senders; j++)
        b->senders[j].last_ack_ns = b->start_ns;
    if (b->opt.duration > 0) {
        struct timeval tv;

        tv.tv_sec = (time_t)b->opt.duration;
        tv.tv_usec = (suseconds_t)((b->opt.duration - (double)tv.tv_sec) * 1e6);
        b->stop_ev = evtimer_new(b->base, on_stop, b);
        if (!b->stop_ev || evtimer_add(b->stop_ev, &tv) < 0) {
            bench_fatal(b, "out of memory");
            return;
        }
    }
    if (b->opt.rate > 0) {
        start_rate(b);
        return;
    }
    for (unsigned j = 0; j < b->opt.senders && !b->fatal; j++) {
        fill_window(b, &b->senders[j]);
        bench_flush(b->senders[j].conn);
    }
}

void bench_load_stop_sending(struct bench *b)
{
    if (b->phase != PHASE_SENDING)
        return;
    b->phase = PHASE_DRAIN;
    b->send_end_ns = bench_now_ns();
    if (b->last_progress_ns < b->send_end_ns)
        b->last_progress_ns = b->send_end_ns; /* the drain timeout starts now */
    if (b->send_ev)
        event_del(b->send_ev);
}

/* ---- receiving ---------------------------------------------------------- */

/* The window moves up to message seq. */
static void ack_to(struct bench *b, struct bench_sender *s, uint32_t seq)
{
    if (seq <= s->acked)
        return;
    s->acked = seq;
    s->last_ack_ns = b->now_ns;
    fill_window(b, s);
}

/* The server answered message seq (chatd's echo, a PUBLISH reply). */
static void server_ack(struct bench *b, struct bench_sender *s, uint32_t seq)
{
    if (!acked_by_receivers(b, s))
        ack_to(b, s, seq);
}

/* A receiver has message seq: once all have it, and every message before
 * it is acknowledged, the window moves. The sender writes at once, as the
 * peer harness this replaces did (the figures of doc/performance.md
 * compare across the change): the server's kernel merges those writes,
 * and the server reads them in one pass. */
static void receiver_ack(struct bench *b, struct bench_sender *s,
                         uint32_t seq)
{
    uint32_t w = b->opt.window, q = s->acked;

    if (!acked_by_receivers(b, s) || seq <= q || seq > s->sent ||
        ++s->got[seq % w] < s->receivers)
        return;
    while (q < s->sent && s->got[(q + 1) % w] >= s->receivers)
        s->got[++q % w] = 0;
    ack_to(b, s, q);
    bench_flush(s->conn);
}

static void on_echo(struct bench *b, struct bench_sender *s,
                    const struct bench_msg *m)
{
    enum bench_seq_result r = bench_seq_track(&s->echo, m->seq);

    if (r == BENCH_SEQ_DUPLICATE) {
        b->n.duplicates++;
        return;
    }
    if (r == BENCH_SEQ_LATE)
        b->n.reordered++;
    b->n.echoes++;
    s->echoed++;
    server_ack(b, s, m->seq);
}

void bench_load_publish_reply(struct bench_conn *c)
{
    struct bench_sender *s = c->sender;

    s->replies++;
    c->b->last_progress_ns = c->b->now_ns;
    server_ack(c->b, s, s->replies);
}

static void on_delivery(struct bench *b, struct bench_conn *c,
                        struct bench_sender *s, const struct bench_msg *m)
{
    struct bench_seq *st = &c->from[m->sid / b->opt.rooms];
    enum bench_seq_result r = bench_seq_track(st, m->seq);
    uint64_t lat;

    if (r == BENCH_SEQ_DUPLICATE) {
        b->n.duplicates++;
        return;
    }
    if (r == BENCH_SEQ_LATE)
        b->n.reordered++;
    b->n.deliveries++;
    lat = b->now_ns > m->t_ns ? b->now_ns - m->t_ns : 0;
    bench_hist_add(&b->lat, lat);
    bench_hist_add(&b->lat_tick, lat);
    if (!c->sender) {
        b->n.receiver_deliveries++;
        receiver_ack(b, s, m->seq);
    }
}

void bench_load_payload(struct bench_conn *c, const struct bench_msg *m)
{
    struct bench *b = c->b;
    struct bench_sender *s =
        m->sid < b->opt.senders ? &b->senders[m->sid] : NULL;

    /* Only messages this run sent, to the room they were sent to. */
    if (!s || m->seq == 0 || m->seq > s->sent ||
        m->sid % b->opt.rooms != c->room) {
        b->n.foreign++;
        return;
    }
    b->last_progress_ns = b->now_ns;
    if (s->conn == c)
        on_echo(b, s, m);
    else
        on_delivery(b, c, s, m);
}

/* "Server is very busy and dropped {n} messages, sorry!" -> n, or -1. */
static long long dropped_count(const char *line, size_t len)
{
    size_t pre = sizeof dropped_prefix - 1, suf = sizeof dropped_suffix - 1;
    long long n = 0;

    if (len <= pre + suf || !bench_line_starts(line, len, dropped_prefix) ||
        memcmp(line + len - suf, dropped_suffix, suf) != 0)
        return -1;
    for (size_t i = pre; i < len - suf; i++) {
        if (line[i] < '0' || line[i] > '9' || n > 1000000000000LL)
            return -1;
        n = n * 10 + (line[i] - '0');
    }
    return n;
}

/* c was told lines were dropped: the messages that will never complete
 * are its own echoes, or (--ack receivers) any of its room's. */
static void excuse(struct bench *b, const struct bench_conn *c)
{
    if (c->sender)
        c->sender->excused = 1;
    if (b->opt.ack != BENCH_ACK_RECEIVERS)
        return;
    for (unsigned j = c->room; j < b->opt.senders; j += b->opt.rooms)
        b->senders[j].excused = 1;
}

void bench_load_line(struct bench_conn *c, const char *line, size_t len)
{
    struct bench *b = c->b;
    struct bench_msg m;
    long long n;

    if (bench_payload_parse(line, len, &m)) {
        bench_load_payload(c, &m);
    } else if ((n = dropped_count(line, len)) >= 0 &&
               b->phase == PHASE_SETUP) {
        b->n.setup_dropped += (uint64_t)n; /* join notices, not messages */
    } else if (n >= 0) {
        b->n.dropped += (uint64_t)n;
        b->last_progress_ns = b->now_ns;
        excuse(b, c);
    } else if (bench_line_is(line, len, too_fast_line)) {
        b->n.too_fast++;
        if (c->sender) {
            c->sender->too_fast++;
            c->sender->excused = 1;
        }
    } else {
        bench_note_line(c, line, len);
    }
}

/* ---- the end ----------------------------------------------------------- */

static uint64_t accepted(const struct bench_sender *s)
{
    return s->too_fast ? s->echoed : s->sent;
}

/* What one accepted message of s is due: deliveries, and its echo. */
static uint64_t due_per_message(const struct bench *b,
                                const struct bench_sender *s)
{
    return s->due + (redis(b) ? 0 : 1);
}

/* Every message settled and every delivery received or reported dropped. */
static int all_accounted(const struct bench *b)
{
    uint64_t due = 0;

    for (unsigned j = 0; j < b->opt.senders; j++) {
        const struct bench_sender *s = &b->senders[j];

        if (s->acked < s->sent)
            return 0;
        due += accepted(s) * due_per_message(b, s);
    }
    return b->n.deliveries + b->n.echoes + b->n.dropped >= due;
}

/* The end of the measured phase: the last delivery, and the CPU times. */
static void sample_end(struct bench *b)
{
    b->end_ns = b->last_progress_ns;
    b->sample_end_ns = bench_now_ns();
    bench_cpu(&b->cpu_user, &b->cpu_sys);
    sample_server_end(b);
}

void bench_load_finish(struct bench *b)
{
    if (b->phase == PHASE_DONE)
        return;
    b->phase = PHASE_DONE;
    sample_end(b);
    bench_done(b);
}

void bench_load_cut_short(struct bench *b)
{
    if (b->phase != PHASE_DONE)
        sample_end(b);
}

/* Excused senders whose echoes are overdue: settle what they sent. */
static uint64_t settle_stalled(struct bench *b, uint64_t now)
{
    uint64_t outstanding = 0;

    for (unsigned j = 0; j < b->opt.senders && !b->fatal; j++) {
        struct bench_sender *s = &b->senders[j];

        if (s->acked < s->sent && s->excused && now > s->last_ack_ns &&
            now - s->last_ack_ns > STALL_NS) {
            s->acked = s->sent;
            s->last_ack_ns = now;
            if (s->got)
                memset(s->got, 0, b->opt.window * sizeof *s->got);
            fill_window(b, s);
            bench_flush(s->conn);
        }
        outstanding += s->sent - s->acked;
    }
    return outstanding;
}

static void show_progress(struct bench *b, uint64_t now)
{
    char sent[16], rate[16];
    double p99 = (double)bench_hist_quantile(&b->lat_tick, 0.99) / 1e6;

    bench_human((double)b->n.sent, sent, sizeof sent);
    bench_human(now > b->shown_ns
                    ? (double)(b->n.deliveries - b->n_at_tick) * 1e9 /
                          (double)(now - b->shown_ns)
                    : 0,
                rate, sizeof rate);
    bench_progress(b, "%5.1fs  sent %s  %s deliveries/s  p99 %.2f ms  "
                   "dropped %llu  too-fast %llu%s",
                   (double)(now - b->start_ns) / 1e9, sent, rate, p99,
                   (unsigned long long)b->n.dropped,
                   (unsigned long long)b->n.too_fast,
                   b->phase == PHASE_DRAIN ? "  (draining)" : "");
    b->n_at_tick = b->n.deliveries;
    b->shown_ns = now;
    bench_hist_reset(&b->lat_tick);
}

void bench_load_tick(struct bench *b)
{
    uint64_t now = b->now_ns, outstanding, quiet;

    if (b->phase != PHASE_SENDING && b->phase != PHASE_DRAIN)
        return;
    outstanding = settle_stalled(b, now);
    quiet = now > b->last_progress_ns ? now - b->last_progress_ns : 0;
    if (b->ticks % PROGRESS_TICKS == 0)
        show_progress(b, now);
    if (quiet > (uint64_t)(b->opt.drain_timeout * 1e9) && outstanding > 0) {
        /* Nothing arrives and something is missing: stop waiting. */
        b->stalled = 1;
        bench_load_stop_sending(b);
        bench_load_finish(b);
        return;
    }
    if (b->phase != PHASE_DRAIN)
        return;
    if (all_accounted(b) ||
        quiet > (uint64_t)(b->opt.drain_timeout * 1e9)) {
        b->stalled = !all_accounted(b);
        bench_load_finish(b);
    }
}

/*
 * --server-pid: the server's CPU per delivery to a receiver (the count
 * chatd and redis share), and how much of a core the rest of the machine
 * used meanwhile (its busy time minus the server's and ours): noise from
 * other processes shows there, not as a slower server.
 */
static void server_result(const struct bench *b, struct bench_result *r)
{
    double wall = (double)(b->sample_end_ns - b->start_ns) / 1e9;
    double busy = b->busy1 - b->busy0;

    r->server_ns_per_delivery = r->other_cpu_pct = -1;
    if (!b->opt.server_pid)
        return;
    r->server_cpu_s = b->srv_cpu1 - b->srv_cpu0;
    if (b->n.receiver_deliveries > 0)
        r->server_ns_per_delivery =
            r->server_cpu_s * 1e9 / (double)b->n.receiver_deliveries;
    if (wall > 0 && b->busy0 >= 0 && busy >= 0) {
        double other = busy - r->server_cpu_s - r->cpu_user_s - r->cpu_sys_s;

        r->other_cpu_pct = other > 0 ? 100.0 * other / wall : 0;
    }
}

void bench_load_result(const struct bench *b, struct bench_result *r)
{
    uint64_t got, due;

    memset(r, 0, sizeof *r);
    if (b->setup_end_ns > b->setup_start_ns)
        r->setup_s = (double)(b->setup_end_ns - b->setup_start_ns) / 1e9;
    for (unsigned j = 0; j < b->opt.senders; j++) {
        const struct bench_sender *s = &b->senders[j];
        uint64_t a = accepted(s);

        r->accepted += a;
        r->refused += s->sent - a;
        r->expected_deliveries += a * s->due;
        r->expected_echoes += redis(b) ? 0 : a;
    }
    got = b->n.deliveries + b->n.echoes + b->n.dropped;
    due = r->expected_deliveries + r->expected_echoes;
    r->lost = due > got ? due - got : 0;
    if (b->end_ns > b->start_ns)
        r->elapsed_s = (double)(b->end_ns - b->start_ns) / 1e9;
    if (r->elapsed_s > 0) {
        r->deliveries_per_s = (double)b->n.deliveries / r->elapsed_s;
        r->messages_per_s = (double)r->accepted / r->elapsed_s;
    }
    if (r->elapsed_s > 0)
        r->receiver_deliveries_per_s =
            (double)b->n.receiver_deliveries / r->elapsed_s;
    r->cpu_user_s = b->cpu_user - b->cpu_user0;
    r->cpu_sys_s = b->cpu_sys - b->cpu_sys0;
    if (r->elapsed_s > 0)
        r->cpu_pct = 100.0 * (r->cpu_user_s + r->cpu_sys_s) / r->elapsed_s;
    server_result(b, r);
    r->p50 = bench_hist_quantile(&b->lat, 0.5);
    r->p99 = bench_hist_quantile(&b->lat, 0.99);
    r->p999 = bench_hist_quantile(&b->lat, 0.999);
    r->max = b->lat.max;
    r->mean = b->lat.count ? b->lat.sum / b->lat.count : 0;
}
