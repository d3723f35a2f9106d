#include "sample.h"

#include <string.h>

/* Connections: tcp 3 accepted, 1 of them gone; http 2 accepted, one
 * upgraded to ws; every count differs so a value in the wrong series
 * shows. Loop passes: one in the first bucket, one on a bound, one past
 * the last bound. */
void metrics_sample(struct chatd_metrics *m, chat_stats *st)
{
    chatd_metrics_init(m);
    for (int i = 0; i < 3; i++)
        chatd_metrics_conn_opened(m, CHATD_TRANSPORT_TCP);
    chatd_metrics_conn_closed(m, CHATD_TRANSPORT_TCP, CHATD_DISC_QUIT);
    chatd_metrics_conn_opened(m, CHATD_TRANSPORT_HTTP);
    chatd_metrics_conn_opened(m, CHATD_TRANSPORT_HTTP);
    chatd_metrics_conn_upgraded(m, CHATD_TRANSPORT_HTTP, CHATD_TRANSPORT_WS);
    chatd_metrics_conn_closed(m, CHATD_TRANSPORT_HTTP, CHATD_DISC_SERVED);
    chatd_metrics_rejected(m, CHATD_REJECT_FDS);
    m->bytes_received = 1234;
    m->bytes_sent = 56789;
    chatd_metrics_observe_pass(m, 0.00003);
    chatd_metrics_observe_pass(m, 0.001);
    chatd_metrics_observe_pass(m, 1.5);

    memset(st, 0, sizeof *st);
    st->peers = 4;
    st->named = 3;
    st->rooms = 2;
    st->messages = 10;
    st->deliveries = 25;
    st->dropped = 5;
    st->bytes_queued = 640;
    st->rate_limited = 6;
    st->filtered = 7;
    st->too_long = 8;
    st->bad_utf8 = 9;
}
