/*
 * print_metrics: a registry filled with sample values, rendered to stdout
 * in the Prometheus text format, process metrics included. The input of
 * promtool.sh, and a quick look at what GET /metrics answers.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"
#include "sample.h"

int main(void)
{
    struct chatd_metrics m;
    chat_stats st;
    struct evbuffer *out = evbuffer_new();
    int rc = 1;

    if (!out) {
        fputs("print_metrics: out of memory\n", stderr);
        return 1;
    }
    metrics_sample(&m, &st);
    if (chatd_metrics_render_chatd(&m, &st, out) != 0 ||
        chatd_metrics_render_process(out) != 0) {
        fputs("print_metrics: rendering failed\n", stderr);
    } else {
        size_t len = evbuffer_get_length(out);
        const unsigned char *text = evbuffer_pullup(out, -1);
        rc = len > 0 && text && fwrite(text, 1, len, stdout) == len &&
                     fflush(stdout) == 0
                 ? 0
                 : 1;
        if (rc != 0)
            fputs("print_metrics: cannot write the output\n", stderr);
    }
    evbuffer_free(out);
    return rc;
}
