/* chat-cli: a terminal client for chatd. See doc/chat-cli.1. */
#define _POSIX_C_SOURCE 200809L

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "sigpipe.h"

static const int leave_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define MAX_SIGNALS 5 /* the above, and SIGWINCH and SIGTSTP in a terminal */

void cli_exit(struct cli *c, int code)
{
    if (c->exiting)
        return;
    c->exiting = 1;
    c->exit_code = code;
    cli_input_stop(c);
    event_base_loopexit(c->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct cli *c = arg;

    (void)what;
    if (sig == SIGWINCH)
        cli_input_resize(c);
    else if (sig == SIGTSTP)
        cli_input_suspend(c);
    else
        cli_conn_leave(c); /* a second one, while leaving, exits at once */
}

/* Signals go through libevent, so handlers run as ordinary callbacks. */
static int add_signals(struct cli *c, struct event **evs, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < sizeof leave_signals / sizeof *leave_signals; i++)
        if (n < max)
            evs[n++] = evsignal_new(c->base, leave_signals[i], on_signal, c);
    if (c->interactive && n + 2 <= max) {
        evs[n++] = evsignal_new(c->base, SIGWINCH, on_signal, c);
        evs[n++] = evsignal_new(c->base, SIGTSTP, on_signal, c);
    }
    for (size_t i = 0; i < n; i++)
        if (!evs[i] || event_add(evs[i], NULL) < 0)
            return -1;
    return 0;
}

/* NO_COLOR (no-color.org): present and not empty turns colours off. */
static int want_color(const struct cli *c)
{
    const char *no = getenv("NO_COLOR");

    return c->interactive && c->tty_out && !(no && *no);
}

static int run(struct cli *c)
{
    struct event *sig[MAX_SIGNALS] = {NULL};
    int rc = 1, init = 0;

    c->base = event_base_new();
    if (!c->base) {
        fprintf(stderr, "chat-cli: cannot start the event loop\n");
        return 1;
    }
    /* cli_conn_init: -1 out of memory, -2 said why (--tls set-up). */
    if (add_signals(c, sig, MAX_SIGNALS) < 0 ||
        (init = cli_conn_init(c)) == -1) {
        fprintf(stderr, "chat-cli: out of memory\n");
    } else if (init == 0) {
        cli_conn_start(c);
        event_base_dispatch(c->base);
        rc = c->exit_code;
    }
    cli_input_stop(c);
    cli_input_free(c);
    cli_conn_free(c);
    for (size_t i = 0; i < MAX_SIGNALS; i++)
        if (sig[i])
            event_free(sig[i]);
    event_base_free(c->base);
    return rc;
}

int main(int argc, char **argv)
{
    struct cli c;

    memset(&c, 0, sizeof c);
    switch (cli_parse_args(&c.opt, argc, argv, stdout, stderr)) {
    case CLI_ARGS_DONE:
        return 0;
    case CLI_ARGS_USAGE:
        return 2;
    case CLI_ARGS_RUN:
        break;
    }
    /* A write to a socket the server closed must be an error, not death. */
    chatp_ignore_sigpipe();
    c.interactive = isatty(STDIN_FILENO);
    c.tty_out = isatty(STDOUT_FILENO);
    c.color = want_color(&c);
    if (c.interactive)
        setlocale(LC_ALL, ""); /* readline and widths follow the charset */
    return run(&c);
}
